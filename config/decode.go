package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	activationcontract "github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	fleetmanagercontract "github.com/ecs-anywhere-stretched/stretched/constructs/fleetmanager/contract"
	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	workerspeccontract "github.com/ecs-anywhere-stretched/stretched/constructs/workerspec/contract"
)

// input is the configuration as the user gave it: nil where a key is not
// set. decode fills it and reports values of the wrong type; withDefaults
// turns it into a Config; validate checks the result.
type input struct {
	Account, Region, StackPrefix, ImageTag, ImageURI, RegionalScaling, Work, AlarmEmail, PermissionsBoundary, NodeTier *string

	MaxReceiveCount, VisibilityTimeoutSeconds, LogRetentionDays, NatGateways, MinTasks, MaxTasks,
	BurstAgeSeconds, AlarmMessageAgeSeconds, EcrMaxImages, EntryTopics, IamRolesQuota *int

	// Sites is nil when the key is not set (one default site), empty when
	// it is an empty list (an error).
	Sites         []siteInput
	WorkerSecrets []workerspeccontract.Secret
	Pipeline      *Pipeline
	// Cells is nil when the key is not set (one cell: the app's account
	// and region).
	Cells []Cell
}

// siteInput is one site as given: nil where a field is not set. The
// features' inputs are embedded, so their keys are fields of the site's
// object (TestTheTableCoversEverySetting holds them apart).
type siteInput struct {
	Name                string `json:"name"`
	Cell                string `json:"cell"`
	ExpectedNodes       *int   `json:"expectedNodes"`
	ClusterName         string `json:"clusterName"`
	DesiredCount        *int   `json:"desiredCount"` // replaced; read only to say so
	InstanceName        string `json:"instanceName"`
	PermissionsBoundary string `json:"permissionsBoundary"`
	InstanceRoleArn     string `json:"instanceRoleArn"`
	KeepNodesOnDestroy  bool   `json:"keepNodesOnDestroy"`
	ContainerInsights   bool   `json:"containerInsights"`
	siteagentcontract.TasksInput
	activationcontract.ActivationInput
	fleetmanagercontract.FleetInput
}

// Getter returns the context value of a key, or nil when it is not set.
type Getter func(key string) any

type decoder struct {
	get  Getter
	errs []error
}

func (d *decoder) fail(format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf("config: "+format, args...))
}

// decode reads every key. Values may come from cdk.json (JSON types) or from
// -c key=value (always strings), so numbers and lists are accepted in either
// form.
func decode(get Getter, keys []string) (input, []error) {
	d := &decoder{get: get}
	in := input{
		Account: d.str(KeyAccount), Region: d.str(KeyRegion), StackPrefix: d.str(KeyStackPrefix),
		ImageTag: d.str(KeyImageTag), ImageURI: d.str(KeyImageURI), RegionalScaling: d.str(KeyRegionalScaling),
		Work: d.str(KeyWork), AlarmEmail: d.str(KeyAlarmEmail), PermissionsBoundary: d.str(KeyPermissionsBoundary),
		NodeTier: d.str(KeyNodeTier),

		MaxReceiveCount: d.int(KeyMaxReceiveCount), VisibilityTimeoutSeconds: d.int(KeyVisibilityTimeoutSeconds),
		LogRetentionDays: d.int(KeyLogRetentionDays), NatGateways: d.int(KeyNatGateways), MinTasks: d.int(KeyMinTasks),
		MaxTasks: d.int(KeyMaxTasks), BurstAgeSeconds: d.int(KeyBurstAgeSeconds),
		AlarmMessageAgeSeconds: d.int(KeyAlarmMessageAgeSeconds), EcrMaxImages: d.int(KeyEcrMaxImages), IamRolesQuota: d.int(KeyIamRolesQuota),
		EntryTopics: d.int(KeyEntryTopics),
	}
	in.Sites = d.sites()
	in.WorkerSecrets = d.workerSecrets()
	in.Pipeline = d.pipeline()
	in.Cells = d.cells()
	if get(keyDesiredCount) != nil {
		d.fail("context key %q was replaced by %q and %q (scaling on the queue owns the count): set those instead", keyDesiredCount, KeyMinTasks, KeyMaxTasks)
	}
	for _, k := range keys {
		if !strings.ContainsAny(k, ":@") && !slices.Contains(Keys, k) && k != keyDesiredCount {
			d.fail("unknown context key %q: the app reads only %s; fix the spelling or remove it", k, strings.Join(Keys, ", "))
		}
	}
	return in, d.errs
}

func (d *decoder) str(key string) *string {
	v := d.get(key)
	if v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		d.fail("context key %q is %v (%T): must be a string, %s", key, v, v, stringRules[key].allowed)
		return nil
	}
	return &s
}

func (d *decoder) int(key string) *int {
	v := d.get(key)
	if v == nil {
		return nil
	}
	n, ok := number(v)
	if !ok {
		d.errs = append(d.errs, intProblem(key, v))
		return nil
	}
	return &n
}

// number accepts a JSON number or a string holding a whole number.
func number(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		if n != float64(int(n)) {
			return 0, false
		}
		return int(n), true
	case int:
		return n, true
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(n))
		return i, err == nil
	}
	return 0, false
}

// contextJSON turns a context value (JSON from cdk.json, or a string from
// -c key='...') into JSON text.
func contextJSON(v any) ([]byte, error) {
	if s, ok := v.(string); ok {
		return []byte(s), nil
	}
	return json.Marshal(v)
}

// decodeStrict decodes raw into v, refusing keys v does not have (a typo in
// a key must not be ignored).
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// list decodes the list of context key key: nil when it is not set, an
// empty list (and the problem, with example) when it is not such a list.
func list[T any](d *decoder, key, what, example string) []T {
	v := d.get(key)
	if v == nil {
		return nil
	}
	raw, err := contextJSON(v)
	out := []T{}
	if err == nil {
		err = decodeStrict(raw, &out)
	}
	if err != nil {
		d.fail(`context key %q is %v: must be a list of %s such as %s (%v)`, key, v, what, example, err)
		return []T{}
	}
	return out
}

func (d *decoder) sites() []siteInput {
	sites := list[siteInput](d, KeySites, "sites", `[{"name": "factory", "maxTasks": 2}]`)
	for i, s := range sites {
		if s.DesiredCount != nil {
			d.fail("context key %q was replaced by minTasks and maxTasks (scaling on the queue owns the count): set those instead", fmt.Sprintf("%s[%d].desiredCount", KeySites, i))
		}
	}
	return sites
}

// workerSecrets reads {"ENV": {"parameter": "/name"} | {"secretArn": "arn", "jsonKey": "k"}, ...}.
func (d *decoder) workerSecrets() []workerspeccontract.Secret {
	v := d.get(KeyWorkerSecrets)
	if v == nil {
		return nil
	}
	example := `{"API_TOKEN": {"secretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/token-AbCdEf", "jsonKey": "token"}, "API_URL": {"parameter": "/app/api-url"}}`
	raw, err := contextJSON(v)
	var entries map[string]json.RawMessage
	if err == nil {
		err = json.Unmarshal(raw, &entries)
	}
	if err != nil {
		d.fail("context key %q is %v: must be an object of variables such as %s (%v)", KeyWorkerSecrets, v, example, err)
		return nil
	}
	var out []workerspeccontract.Secret
	for _, env := range slices.Sorted(maps.Keys(entries)) {
		var s workerspeccontract.Secret
		if err := decodeStrict(entries[env], &s); err != nil {
			d.fail("context key %q has %s = %s: must be {\"parameter\": ...} or {\"secretArn\": ..., \"jsonKey\": ...}, optionally with \"kmsKeyArn\" (%v)", KeyWorkerSecrets, env, entries[env], err)
			continue
		}
		s.Env = env
		out = append(out, s)
	}
	return out
}

// pipelineExample is a pipeline setting, for error messages.
const pipelineExample = `{"connectionArn": "arn:aws:codeconnections:eu-west-1:123456789012:connection/...", "repository": "owner/repo", "branch": "main"}`

func (d *decoder) pipeline() *Pipeline {
	v := d.get(KeyPipeline)
	if v == nil {
		return nil
	}
	raw, err := contextJSON(v)
	var p Pipeline
	if err == nil {
		err = decodeStrict(raw, &p)
	}
	if err != nil {
		d.fail("context key %q is %v: must be an object such as %s (%v)", KeyPipeline, v, pipelineExample, err)
		return nil
	}
	return &p
}
