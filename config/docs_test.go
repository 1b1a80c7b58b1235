package config

import (
	"encoding/json"
	"flag"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/constructs/loggroup"
	"github.com/ecs-anywhere-stretched/stretched/testkit/golden"
)

var update = flag.Bool("update", false, "rewrite the configuration table in docs/configuration.md")

const (
	docsFile   = "../docs/configuration.md"
	tableStart = "<!-- The tables below are generated from package config: go test ./config -update -->\n"
	tableEnd   = "<!-- end of the generated tables -->\n"
)

// The configuration table in the docs is the one Table makes from the
// package's own keys, defaults and ranges.
func TestTheDocsTableIsCurrent(t *testing.T) {
	golden.Section(t, docsFile, tableStart, tableEnd, Table(), *update, "go test ./config -update")
}

// Every key and site field the app reads has a row, and every row is a key
// or field the app reads.
func TestTheTableCoversEverySetting(t *testing.T) {
	var keys []string
	for _, s := range Settings() {
		keys = append(keys, s.Key)
	}
	if !slices.Equal(keys, Keys) {
		t.Errorf("table rows %v, keys the app reads %v", keys, Keys)
	}
	var fields, rows []string
	// The features' inputs are embedded in a site's: their keys are the
	// site's, and two with one key would make encoding/json ignore both.
	seen := map[string]bool{}
	for _, sf := range reflect.VisibleFields(reflect.TypeFor[siteInput]()) {
		f := strings.Split(sf.Tag.Get("json"), ",")[0]
		if sf.Anonymous || f == "desiredCount" {
			continue
		}
		if seen[f] {
			t.Errorf("two fields of a site read the key %q", f)
		}
		seen[f] = true
		fields = append(fields, f)
	}
	for _, s := range SiteSettings() {
		rows = append(rows, s.Key)
	}
	slices.Sort(fields)
	slices.Sort(rows)
	if !slices.Equal(fields, rows) {
		t.Errorf("site rows %v, site fields %v", rows, fields)
	}
}

// Every retention config accepts is one the log groups can be given, and the
// other way round.
func TestRetentionsAreTheLogGroupsOwn(t *testing.T) {
	if !slices.Equal(LogRetentionDays, loggroup.Days()) {
		t.Errorf("config accepts %v, loggroup maps %v", LogRetentionDays, loggroup.Days())
	}
}

// The table's defaults are what Load gives when nothing is set.
func TestTheTableDefaultsAreTheLoadedOnes(t *testing.T) {
	c, err := Load(func(string) any { return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(map[string]any{
		KeyMaxReceiveCount: c.MaxReceiveCount, KeyVisibilityTimeoutSeconds: c.VisibilityTimeoutSeconds, KeyLogRetentionDays: c.LogRetentionDays,
		KeyNatGateways: c.NatGateways, KeyMinTasks: c.MinTasks, KeyMaxTasks: c.MaxTasks, KeyBurstAgeSeconds: c.BurstAgeSeconds,
		KeyAlarmMessageAgeSeconds: c.AlarmMessageAgeSeconds, KeyEcrMaxImages: c.EcrMaxImages, KeyEntryTopics: c.EntryTopics, KeyIamRolesQuota: c.IamRolesQuota})
	want, _ := json.Marshal(intDefaults)
	if string(got) != string(want) {
		t.Errorf("loaded %s, table %s", got, want)
	}
	for _, s := range Settings() {
		if n, ok := intDefaults[s.Key]; ok && !strings.HasPrefix(s.Default, "`"+defaultOf(s.Key)+"`") {
			t.Errorf("%s: the table says %s, the default is %d", s.Key, s.Default, n)
		}
	}
}
