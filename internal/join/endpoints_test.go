package join

import (
	"flag"
	"os"
	"path"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the endpoint table in docs/sites.md")

const (
	sitesDoc       = "../../docs/sites.md"
	endpointsStart = "<!-- The table below is generated from internal/join's Endpoints: go test ./internal/join -update -->\n"
	endpointsEnd   = "<!-- end of the generated endpoint table -->\n"
)

// listed reports whether host matches an endpoint of region (* stands for
// one label's varying part).
func listed(region, host string) bool {
	for _, e := range EndpointsFor(region) {
		if ok, _ := path.Match(e.Host, host); ok {
			return true
		}
	}
	return false
}

// Every URL a join fetches, in every stage and option, is on a host the
// endpoint table lists: a proxy allow-list made from it lets the join
// through.
func TestEveryHostTheJoinReachesIsListed(t *testing.T) {
	var hosts []string
	full := newMachine(t)
	u := batch
	u.Proxy = "http://proxy.example:3128"
	if out, ok := full.cloudInit("sh", u.CloudConfig("join")); !ok {
		t.Fatal(out)
	}
	hosts = append(hosts, full.hosts()...)
	staged := newMachine(t)
	if out, ok := staged.cloudInit("sh", Unattended{Region: region, Stage: StageImage}.CloudConfig("image")); !ok {
		t.Fatal(out)
	}
	hosts = append(hosts, staged.hosts()...)
	if len(hosts) < 5 {
		t.Fatalf("the machines fetched from only %v", hosts)
	}
	for _, h := range hosts {
		if !listed(region, h) {
			t.Errorf("the join fetches from %s, which the endpoint table (internal/join/endpoints.go) does not list", h)
		}
	}
	comment := EndpointsComment(region)
	for _, h := range hosts {
		if !strings.Contains(comment, h) && !strings.Contains(h, "ecr") {
			t.Errorf("the user data's comment does not name %s:\n%s", h, comment)
		}
	}
}

// docs/sites.md's endpoint table is the one in code.
func TestTheDocsEndpointTableIsCurrent(t *testing.T) {
	raw, err := os.ReadFile(sitesDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	before, rest, ok1 := strings.Cut(doc, endpointsStart)
	_, after, ok2 := strings.Cut(rest, endpointsEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the markers %q and %q around the endpoint table", sitesDoc, endpointsStart, endpointsEnd)
	}
	want := before + endpointsStart + "\n" + EndpointsTable() + "\n" + endpointsEnd + after
	if want == doc {
		return
	}
	if *update {
		if err := os.WriteFile(sitesDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's endpoint table is not internal/join's Endpoints; run go test ./internal/join -update", sitesDoc)
}
