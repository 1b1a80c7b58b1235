package review

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
)

// store is one data store of a stack in words.
type store struct {
	name, encryption, retention, deletion string
}

// keyOr is the key k names, in words, or fallback when none is set.
func keyOr(a *Assembly, stack string, k any, fallback string) string {
	if k == nil {
		return fallback
	}
	return a.Text(stack, k)
}

// dataStores are the types that keep data, and what encryption, retention
// and the deletion policy mean for each.
var dataStores = map[string]func(a *Assembly, stack string, p map[string]any) (encryption, retention string){
	"AWS::SQS::Queue": func(a *Assembly, stack string, p map[string]any) (string, string) {
		sse := "none"
		if p["SqsManagedSseEnabled"] != false {
			sse = "SQS-managed (SSE-SQS)"
		}
		enc := keyOr(a, stack, p["KmsMasterKeyId"], sse)
		keep := "4 days (SQS default)"
		if r := p["MessageRetentionPeriod"]; r != nil {
			keep = seconds(r)
		}
		return enc, "messages for " + keep
	},
	"AWS::SNS::Topic": func(a *Assembly, stack string, p map[string]any) (string, string) {
		return keyOr(a, stack, p["KmsMasterKeyId"], "none"), "nothing: messages are delivered, not kept"
	},
	"AWS::Logs::LogGroup": func(a *Assembly, stack string, p map[string]any) (string, string) {
		enc := keyOr(a, stack, p["KmsKeyId"], "CloudWatch Logs' own encryption")
		keep := "log events forever"
		if d := p["RetentionInDays"]; d != nil {
			keep = fmt.Sprintf("log events for %v days", d)
		}
		return enc, keep
	},
	"AWS::SecretsManager::Secret": func(a *Assembly, stack string, p map[string]any) (string, string) {
		return keyOr(a, stack, p["KmsKeyId"], "aws/secretsmanager (AWS managed key)"), "its value until replaced"
	},
	"AWS::ECR::Repository": func(a *Assembly, stack string, p map[string]any) (string, string) {
		enc := "AES-256 (ECR default)"
		if e, ok := p["EncryptionConfiguration"].(map[string]any); ok {
			enc = fmt.Sprint(e["EncryptionType"])
			if k := e["KmsKey"]; k != nil {
				enc += " with " + a.Text(stack, k)
			}
		}
		keep := "images until deleted"
		if lp, ok := p["LifecyclePolicy"].(map[string]any); ok {
			keep = "images as its lifecycle policy says: " + lifecycle(lp["LifecyclePolicyText"])
		}
		return enc, keep
	},
	"AWS::EFS::FileSystem": func(a *Assembly, stack string, p map[string]any) (string, string) {
		enc := "none"
		if p["Encrypted"] == true {
			enc = "at rest, " + keyOr(a, stack, p["KmsKeyId"], "AWS managed key")
		}
		keep := "files until deleted"
		if bp, ok := p["BackupPolicy"].(map[string]any); ok && bp["Status"] == "ENABLED" {
			keep += "; AWS Backup on"
		}
		return enc, keep
	},
	"AWS::S3::Bucket": func(a *Assembly, stack string, p map[string]any) (string, string) {
		enc := "SSE-S3 (S3 default)"
		if be := p["BucketEncryption"]; be != nil {
			enc = compact(be)
			if strings.Contains(enc, "aws:kms") {
				withKey := strings.Contains(enc, "KMSMasterKeyID")
				enc = "SSE-KMS"
				if withKey {
					enc += " with its key"
				}
			}
		}
		keep := "objects until deleted"
		if lc := p["LifecycleConfiguration"]; lc != nil {
			keep = "objects as its lifecycle rules say: " + compact(lc)
		}
		return enc, keep
	},
}

// stores are a stack's data stores, by name.
func (a *Assembly) stores(s Stack) []store {
	var out []store
	for id, r := range s.Resources() {
		typ := fmt.Sprint(r["Type"])
		f, ok := dataStores[typ]
		if !ok {
			continue
		}
		p, _ := r["Properties"].(map[string]any)
		enc, keep := f(a, s.Name, p)
		del := "Delete"
		if d, ok := r["DeletionPolicy"].(string); ok {
			del = d
		}
		out = append(out, store{name: Name(s.Name, id, typ) + " `" + id + "`", encryption: enc, retention: keep, deletion: del})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// exposed lists what in a stack is public or unencrypted: a data store with
// no encryption, a resource policy that allows anyone without a
// condition, an ingress rule from anywhere, a public IP asked for.
func (a *Assembly) exposed(s Stack) []string {
	var out []string
	for _, st := range a.stores(s) {
		if st.encryption == "none" {
			out = append(out, "unencrypted: "+st.name)
		}
	}
	for id, r := range s.Resources() {
		typ := fmt.Sprint(r["Type"])
		p, _ := r["Properties"].(map[string]any)
		name := Name(s.Name, id, typ) + " `" + id + "`"
		switch typ {
		case "AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress":
			ingress := list(p["SecurityGroupIngress"])
			if typ == "AWS::EC2::SecurityGroupIngress" {
				ingress = []any{p}
			}
			for _, in := range ingress {
				m, _ := in.(map[string]any)
				if internet(m) {
					out = append(out, "open to the internet: "+name+" accepts "+compact(m))
				}
			}
		case "AWS::ECS::Service":
			if strings.Contains(fmt.Sprint(p["NetworkConfiguration"]), "AssignPublicIp:ENABLED") {
				out = append(out, "public IP: "+name+"'s tasks get one to reach AWS without a NAT gateway; "+a.ingressOf(s, p["NetworkConfiguration"]))
			}
		case "AWS::S3::Bucket":
			pab, _ := p["PublicAccessBlockConfiguration"].(map[string]any)
			if pab["BlockPublicAcls"] != true || pab["BlockPublicPolicy"] != true || pab["IgnorePublicAcls"] != true || pab["RestrictPublicBuckets"] != true {
				out = append(out, "public access not fully blocked: "+name)
			}
		}
		for _, doc := range []any{p["PolicyDocument"], p["KeyPolicy"], p["ResourcePolicy"], p["RepositoryPolicyText"]} {
			if typ == "AWS::IAM::Policy" || typ == "AWS::IAM::ManagedPolicy" {
				break
			}
			d, _ := doc.(map[string]any)
			for _, raw := range list(d["Statement"]) {
				st, _ := raw.(map[string]any)
				if st["Effect"] == "Allow" && st["Condition"] == nil && slices.Contains(principalValues(st["Principal"]), "*") {
					out = append(out, "anyone may "+strings.Join(a.texts(s.Name, st["Action"]), ", ")+": "+name)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// ingressOf says, from the template, what the security groups a network
// configuration names let in.
func (a *Assembly) ingressOf(s Stack, netConf any) string {
	raw, _ := json.Marshal(netConf)
	res := s.Resources()
	var rules []string
	for _, id := range sortedIDs(res) {
		if !strings.Contains(string(raw), `"`+id+`"`) && fmt.Sprint(res[id]["Type"]) != "AWS::EC2::SecurityGroupIngress" {
			continue
		}
		p, _ := res[id]["Properties"].(map[string]any)
		switch fmt.Sprint(res[id]["Type"]) {
		case "AWS::EC2::SecurityGroup":
			if strings.Contains(string(raw), `"`+id+`"`) {
				for _, in := range list(p["SecurityGroupIngress"]) {
					rules = append(rules, compact(in))
				}
			}
		case "AWS::EC2::SecurityGroupIngress":
			gid, _ := json.Marshal(p["GroupId"])
			for _, g := range sortedIDs(res) {
				if strings.Contains(string(gid), `"`+g+`"`) && strings.Contains(string(raw), `"`+g+`"`) {
					rules = append(rules, compact(p))
				}
			}
		}
	}
	if len(rules) == 0 {
		return "outbound only: its security groups have no ingress rule"
	}
	return "its security groups let in: " + strings.Join(rules, "; ")
}

// seconds is a number of seconds in days or hours.
func seconds(v any) string {
	var n float64
	switch x := v.(type) {
	case float64:
		n = x
	case string:
		_, _ = fmt.Sscan(x, &n)
	}
	unit := func(n int, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case n >= 86400 && int(n)%86400 == 0:
		return unit(int(n)/86400, "day")
	case n >= 3600 && int(n)%3600 == 0:
		return unit(int(n)/3600, "hour")
	}
	return unit(int(n), "second")
}

// lifecycle is an ECR lifecycle policy's rules in words.
func lifecycle(text any) string {
	s, ok := text.(string)
	if !ok {
		return compact(text)
	}
	var p struct {
		Rules []struct {
			Description string `json:"description"`
		} `json:"rules"`
	}
	if json.Unmarshal([]byte(s), &p) != nil || len(p.Rules) == 0 {
		return s
	}
	var out []string
	for _, r := range p.Rules {
		out = append(out, r.Description)
	}
	return strings.Join(out, "; ")
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Simulation is what the permission simulation proved for the tested
// configurations (test/iam_sim_test.go writes it: go test ./test -run
// TestCallsTheSystemMakesAreAllowed -update).
type Simulation struct {
	// Configurations are the tested configurations the edges come from.
	Configurations []string `json:"configurations"`
	Edges          []Edge   `json:"edges"`
}

// Edge is one evaluated call.
type Edge struct {
	What     string `json:"what"`
	Who      string `json:"who"`
	Action   string `json:"action"`
	Resource string `json:"resource"`
	Allowed  bool   `json:"allowed"`
}

// ReadSimulation reads the simulation's results from path.
func ReadSimulation(path string) (*Simulation, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("review: the permission simulation's results: %w (go test ./test -run TestCallsTheSystemMakesAreAllowed -update writes them)", err)
	}
	var s Simulation
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("review: %s: %w", path, err)
	}
	return &s, nil
}

func (sim *Simulation) write(b *strings.Builder) {
	var allowed, denied []Edge
	seen := map[Edge]bool{}
	for _, e := range sim.Edges {
		if seen[e] {
			continue
		}
		seen[e] = true
		if e.Allowed {
			allowed = append(allowed, e)
		} else {
			denied = append(denied, e)
		}
	}
	fmt.Fprintf(b, "## Permission edges the simulation proves\n\n**Not run on the templates under review.** The simulation runs in `make test` (`TestCallsTheSystemMakesAreAllowed`: it needs the test suite's model of every call the code makes) over the templates of the tested configurations (%s), evaluated by `@cloud-copilot/iam-simulate` against their identity, resource, key and boundary policies; these are that run's committed results (`test/testdata/review/simulation.json`, which `make test` fails on when stale). A change under review is proven only once `make test` passes on it. %d calls allowed, %d dangerous calls denied (each row once). Account `123456789012` and region `eu-west-1` stand in for yours.\n\n",
		strings.Join(sim.Configurations, ", "), len(allowed), len(denied))
	for _, group := range []struct {
		title string
		edges []Edge
	}{{"Allowed, as the system needs", allowed}, {"Denied, as they must be", denied}} {
		fmt.Fprintf(b, "### %s\n\n| what | who | action | resource |\n|---|---|---|---|\n", group.title)
		for _, e := range group.edges {
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", cell(e.What), cell(e.Who), e.Action, cell(e.Resource))
		}
		b.WriteString("\n")
	}
}
