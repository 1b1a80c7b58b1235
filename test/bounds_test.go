package test

import (
	"strings"
	"testing"
)

// A permissions boundary reaches every role the app makes, the ones CDK
// makes for its own custom resources among them: the top-level one in
// every stack, a site's own in its stack; none is set by default.
func TestEveryRoleIsBounded(t *testing.T) {
	requireSynth(t)
	const piBoundary = "arn:aws:iam::123456789012:policy/boundary"
	want := map[string]string{"Variant-Regional": variantBoundary, "Variant-Anywhere-factory": variantBoundary, "Variant-Anywhere-pi": piBoundary,
		"EcsWorker-Regional": "", "EcsWorker-Anywhere-onprem": ""}
	for stack, boundary := range want {
		s := variant[stack]
		if s == nil {
			s = defaults[stack]
		}
		roles := resources(s, "AWS::IAM::Role")
		// A site that brings its own instance role has no role at all.
		if len(roles) == 0 && ownInstanceRoles[stack] == "" {
			t.Fatalf("%s: only %d roles; the test must see every role", stack, len(roles))
		}
		for id, r := range roles {
			got := props(r)["PermissionsBoundary"]
			if boundary == "" && got != nil {
				t.Errorf("%s: role %s has the boundary %s, and none was configured", stack, id, jsonOf(got))
			}
			if boundary != "" && jsonOf(got) != jsonOf(boundary) {
				t.Errorf("%s: role %s has the boundary %s, want %s", stack, id, jsonOf(got), boundary)
			}
		}
	}
}

// logRetentionDays reaches every log group the app makes: the worker's, the
// flow logs, every Lambda's and the pipeline's builds.
func TestLogRetentionReachesEveryLogGroup(t *testing.T) {
	requireSynth(t)
	for _, s := range all {
		want := 365.0
		switch {
		case strings.HasPrefix(s.name, variantPrefix), strings.HasPrefix(s.name, pipePrefix):
			want = 731 // set in their configurations
		}
		groups := resources(s, "AWS::Logs::LogGroup")
		// A site's stack makes no log group: the fleet's functions log in
		// the region.
		// Nor do the buckets CDK keeps a pipeline's artifacts in, in each
		// other region it deploys to.
		if len(groups) == 0 && !strings.HasSuffix(s.name, "-Pipeline") && !strings.Contains(s.name, "-Anywhere-") && !strings.Contains(s.name, "-Pipeline-support-") {
			t.Errorf("%s has no log group", s.name)
		}
		for id, g := range groups {
			if got := props(g)["RetentionInDays"]; got != want {
				t.Errorf("%s: log group %s keeps its events %v days, want %v", s.name, id, got, want)
			}
		}
		if n := len(resources(s, "Custom::LogRetention")); n != 0 {
			t.Errorf("%s: %d log retentions set by a custom resource instead of a log group of the stack", s.name, n)
		}
	}
}
