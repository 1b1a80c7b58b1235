package join

import (
	"flag"
	"path"
	"strings"
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/testkit/golden"
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
	golden.Section(t, sitesDoc, endpointsStart, endpointsEnd, EndpointsTable(), *update, "go test ./internal/join -update")
}
