package test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	activationcontract "github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	sitenodescontract "github.com/ecs-anywhere-stretched/stretched/constructs/sitenodes/contract"
	taskcountcontract "github.com/ecs-anywhere-stretched/stretched/constructs/taskcount/contract"
)

// kept are the resource types an upgrade must never replace: what holds
// data or identity (queued messages, the clusters nodes joined, the
// instance role their SSM registration is bound to, the activation record
// and its key, the join policy people have attached, the image repository,
// the file system, retained logs). The site's custom resources are not
// among them: they move to the fleet's functions under new logical ids
// (TestUpgradeRetainsTheOldCustomResources).
// customResources are the custom resource types of a site: the previous
// version's site answered them with functions of its own.
var customResources = []string{activationcontract.ResourceType, sitenodescontract.ResourceType, taskcountcontract.ResourceType}

var kept = []string{
	"AWS::SQS::Queue", "AWS::ECS::Cluster", "AWS::ECS::Service", "AWS::SecretsManager::Secret", "AWS::KMS::Key",
	"AWS::EFS::FileSystem", "AWS::ECR::Repository", "AWS::SNS::Topic", "AWS::IAM::ManagedPolicy", "AWS::SSM::Association",
}

// siteQueue is the logical id of a site's queue (or its dead-letter queue)
// in the regional stack of earlier versions.
var siteQueue = regexp.MustCompile(`^WorkQueue([a-z0-9]+)(?:Queue|DeadLetterQueue)[0-9A-F]{8}$`)

// TestUpgradeKeepsQueuesClustersAndJoinedNodes compares the stacks with the
// inventories of the version before the fleet-wide functions
// (testdata/upgrade/, the inventory goldens of commit da21a79): every
// resource of a kept type, every instance role and every retained log
// group keeps its logical id, type and deletion policy, so CloudFormation
// updates it in place. What the upgrade removes and adds is listed in
// docs/operations.md (Upgrading to fleet-wide functions).
func TestUpgradeKeepsQueuesClustersAndJoinedNodes(t *testing.T) {
	requireSynth(t)
	files, err := filepath.Glob(filepath.Join("testdata", "upgrade", "*.txt"))
	if err != nil || len(files) < 5 {
		t.Fatalf("upgrade inventories: %v, %v", files, err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		s := defaults[name]
		if s == nil {
			s = variant[name]
		}
		if s == nil {
			t.Errorf("%s: no such stack in the tested configurations", name)
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		now := strings.Split(inventory(s), "\n")
		checked := 0
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			fields := strings.Fields(line)
			id, typ := fields[0], fields[1]
			if slices.Contains(customResources, typ) {
				// A custom resource cannot change its ServiceToken: the
				// fleet-answered one needs an id of its own, beside a
				// resource of the same type.
				if slices.ContainsFunc(now, func(l string) bool { return strings.HasPrefix(l, id+" ") }) {
					t.Errorf("%s: the custom resource %s keeps its logical id while its ServiceToken moves to the fleet's function: CloudFormation refuses that update", name, id)
				}
				if !slices.ContainsFunc(now, func(l string) bool { return strings.Fields(l)[1] == typ }) {
					t.Errorf("%s: no %s left: the site lost what %s did", name, typ, id)
				}
				checked++
				continue
			}
			retainedLogs := typ == "AWS::Logs::LogGroup" && strings.HasSuffix(line, " Retain")
			if !slices.Contains(kept, typ) && !retainedLogs && !(typ == "AWS::IAM::Role" && strings.HasPrefix(id, "InstanceRole")) {
				continue
			}
			if id == "ActivationKeyDAD806E4" {
				// The site's own key is replaced by the app's: the activation
				// names the key, so the upgrade's deploy writes the record
				// anew under the app's key before this one is scheduled for
				// deletion (7 days).
				continue
			}
			checked++
			if m := siteQueue.FindStringSubmatch(id); m != nil && typ == "AWS::SQS::Queue" && strings.HasSuffix(line, " Retain") {
				// A site's queue moves to the site's stack: the regional
				// stack retains the old one with its messages, and `fleet
				// rehome` moves them (TestRehomeMovesASitesMessagesToItsOwnQueues).
				site := defaults[strings.Replace(name, "-Regional", "-Anywhere-"+m[1], 1)]
				if site == nil {
					site = variant[strings.Replace(name, "-Regional", "-Anywhere-"+m[1], 1)]
				}
				if site == nil || !slices.Contains(strings.Split(inventory(site), "\n"), "WorkQueueAD162499 AWS::SQS::Queue Retain") {
					t.Errorf("%s: the site queue %s leaves the regional stack, but site %s has no queue of its own to take its messages", name, id, m[1])
				}
				continue
			}
			if !slices.Contains(now, line) {
				t.Errorf("%s: %q is gone or changed: the upgrade would replace or delete it", name, line)
			}
		}
		if checked == 0 {
			t.Errorf("%s: nothing of a kept type in its old inventory", name)
		}
	}
}

// TestUpgradeKeepsTheExportsOldSitesImport: CloudFormation refuses to
// remove an export another stack still imports, and `cdk deploy` updates
// the regional stack before the sites. Every export a site of the
// previous version imports (testdata/upgrade/*.imports, read off the
// golden template of commit 87ba085) is still exported, so the regional
// stack's update succeeds and each site then moves to its own roles.
func TestUpgradeKeepsTheExportsOldSitesImport(t *testing.T) {
	requireSynth(t)
	files, err := filepath.Glob(filepath.Join("testdata", "upgrade", "*.imports"))
	if err != nil || len(files) == 0 {
		t.Fatalf("upgrade imports: %v, %v", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		exported := map[string]bool{}
		for _, s := range all {
			outputs, _ := s.template["Outputs"].(map[string]any)
			for _, o := range outputs {
				export, _ := o.(map[string]any)["Export"].(map[string]any)
				if name, ok := export["Name"].(string); ok {
					exported[name] = true
				}
			}
		}
		for _, name := range strings.Fields(string(raw)) {
			if !exported[name] {
				t.Errorf("%s: the previous version's site imports %s, which no stack exports any longer: the regional stack's update would fail (keep it with stack.ExportValue)", filepath.Base(f), name)
			}
		}
	}
}
