package test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/ecs-anywhere-stretched/stretched/testkit/cdktest"
)

// assertTemplate runs CDK assertions on a synthesized template; an assertions
// failure is a panic, reported here as a test failure.
func assertTemplate(t *testing.T, s *synthesized, check func(tmpl assertions.Template)) {
	t.Helper()
	t.Logf("assertions on %s", s.name)
	cdktest.Assert(t, func() { check(assertions.Template_FromJSON(&s.template, nil)) })
}

// resources returns the resources of type typ, by logical id.
func resources(s *synthesized, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	res, _ := s.template["Resources"].(map[string]any)
	for id, r := range res {
		rm, _ := r.(map[string]any)
		if rm["Type"] == typ {
			out[id] = rm
		}
	}
	return out
}

// props returns a resource's Properties.
func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// only returns the single resource of type typ, failing otherwise.
func only(t *testing.T, s *synthesized, typ string) map[string]any {
	t.Helper()
	rs := resources(s, typ)
	if len(rs) != 1 {
		t.Fatalf("%s: want exactly one %s, got %d", s.name, typ, len(rs))
	}
	for _, r := range rs {
		return props(r)
	}
	return nil
}

// jsonOf renders v compactly for substring checks and messages.
func jsonOf(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(raw)
}

// statement is one IAM policy statement with its actions as a list.
type statement struct {
	policy   string
	effect   string
	actions  []string
	resource any
	raw      map[string]any
}

func list(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// statements returns the statements of every identity policy in the template,
// optionally only those of policies attached to the role whose logical id
// starts with rolePrefix.
func statements(s *synthesized, rolePrefix string) []statement {
	var out []statement
	ids := []string{}
	pols := resources(s, "AWS::IAM::Policy")
	for id := range pols {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		p := props(pols[id])
		if rolePrefix != "" && !strings.Contains(jsonOf(p["Roles"]), `"Ref":"`+rolePrefix) {
			continue
		}
		doc, _ := p["PolicyDocument"].(map[string]any)
		sts, _ := doc["Statement"].([]any)
		for _, st := range sts {
			m, _ := st.(map[string]any)
			eff, _ := m["Effect"].(string)
			out = append(out, statement{policy: id, effect: eff, actions: list(m["Action"]), resource: m["Resource"], raw: m})
		}
	}
	return out
}

// logicalID returns the id of the single resource of typ whose id starts with prefix.
func logicalID(t *testing.T, s *synthesized, typ, prefix string) string {
	t.Helper()
	var found []string
	for id := range resources(s, typ) {
		if strings.HasPrefix(id, prefix) {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: want one %s with id prefix %q, got %v", s.name, typ, prefix, found)
	}
	return found[0]
}
