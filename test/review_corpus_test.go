package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/internal/review"
)

// corpusDir holds the review of each planted change (golden: -update).
var corpusDir = filepath.Join("testdata", "review", "corpus")

// writeAssembly writes templates (stack name → template) as a cloud
// assembly the review (and cdk diff) reads.
func writeAssembly(t *testing.T, templates map[string]map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	artifacts := map[string]any{}
	for name, tmpl := range templates {
		file := name + ".template.json"
		raw, err := json.MarshalIndent(tmpl, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		artifacts[name] = map[string]any{"type": "aws:cloudformation:stack", "environment": "aws://unknown-account/unknown-region",
			"properties": map[string]any{"templateFile": file}}
	}
	raw, _ := json.Marshal(map[string]any{"version": "48.0.0", "artifacts": artifacts})
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// plantedCopy is a deep copy of the default configuration's templates.
func plantedCopy(t *testing.T, base *review.Assembly) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, s := range base.Stacks {
		raw, _ := json.Marshal(s.Template)
		var c map[string]any
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		out[s.Name] = c
	}
	return out
}

func res(tmpl map[string]any, id string) map[string]any {
	return tmpl["Resources"].(map[string]any)[id].(map[string]any)
}

func propsOf(tmpl map[string]any, id string) map[string]any {
	return res(tmpl, id)["Properties"].(map[string]any)
}

func addStatement(doc any, st map[string]any) {
	d := doc.(map[string]any)
	d["Statement"] = append(d["Statement"].([]any), st)
}

// TestReviewOfPlantedChanges applies each planted change to a copy of the
// default configuration's templates (the change's synthesized effect; the
// new site is a real synth with one more site in its context) and checks
// that "What changed" names it under the right risk class in the summary
// at the top; a change of comments only (asset hashes and metadata) is
// "Nothing". Each report is golden (testdata/review/corpus, -update).
func TestReviewOfPlantedChanges(t *testing.T) {
	base, o := defaultReview(t)
	regional, site := "EcsWorker-Regional", "EcsWorker-Anywhere-onprem"
	r := defaults[regional]
	taskPolicy := logicalID(t, defaults[site], "AWS::IAM::Policy", "WorkerTaskRoleDefaultPolicy")
	cases := []struct {
		name, risk string
		plant      func(map[string]map[string]any)
	}{
		{"retention-shorter", review.RiskRetention, func(m map[string]map[string]any) {
			propsOf(m[regional], logicalID(t, r, "AWS::Logs::LogGroup", "LogGroup"))["RetentionInDays"] = 1
		}},
		{"encryption-removed", review.RiskEncryption, func(m map[string]map[string]any) {
			delete(propsOf(m[site], "WorkQueueAD162499"), "KmsMasterKeyId")
		}},
		{"deletion-policy", review.RiskDeletion, func(m map[string]map[string]any) {
			res(m[site], "WorkQueueAD162499")["DeletionPolicy"] = "Delete"
			res(m[site], "WorkQueueAD162499")["UpdateReplacePolicy"] = "Delete"
		}},
		{"ssh-from-the-internet", review.RiskInternet, func(m map[string]map[string]any) {
			m[regional]["Resources"].(map[string]any)["PlantedSsh"] = map[string]any{"Type": "AWS::EC2::SecurityGroupIngress", "Properties": map[string]any{
				"GroupId":    map[string]any{"Fn::GetAtt": []any{logicalID(t, r, "AWS::EC2::SecurityGroup", "WorkerServiceSecurityGroup"), "GroupId"}},
				"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}}
		}},
		{"public-principal", review.RiskPublic, func(m map[string]map[string]any) {
			addStatement(propsOf(m[site], "WorkQueuePolicyBA2AAB61")["PolicyDocument"], map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": []any{"*"}},
				"Action": "sqs:SendMessage", "Resource": map[string]any{"Fn::GetAtt": []any{"WorkQueueAD162499", "Arn"}}})
		}},
		{"cross-account-principal", review.RiskCrossAccount, func(m map[string]map[string]any) {
			addStatement(propsOf(m[regional], logicalID(t, r, "AWS::KMS::Key", "Key"))["KeyPolicy"], map[string]any{"Effect": "Allow",
				"Principal": map[string]any{"AWS": "arn:aws:iam::999999999999:root"}, "Action": "kms:Decrypt", "Resource": "*"})
		}},
		{"wildcard-statement", review.RiskWildcard, func(m map[string]map[string]any) {
			addStatement(propsOf(m[site], taskPolicy)["PolicyDocument"], map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
		}},
		{"escalation-action", review.RiskEscalation, func(m map[string]map[string]any) {
			addStatement(propsOf(m[site], taskPolicy)["PolicyDocument"], map[string]any{"Effect": "Allow", "Action": "iam:PassRole",
				"Resource": map[string]any{"Fn::GetAtt": []any{"WorkerExecutionRole773389F9", "Arn"}}})
		}},
		{"key-rotation-off", review.RiskEncryption, func(m map[string]map[string]any) {
			propsOf(m[regional], logicalID(t, r, "AWS::KMS::Key", "Key"))["EnableKeyRotation"] = false
		}},
		{"stateful-rename", review.RiskStateful, func(m map[string]map[string]any) {
			raw, _ := json.Marshal(m[site])
			var c map[string]any
			_ = json.Unmarshal([]byte(strings.ReplaceAll(string(raw), `"WorkQueueAD162499"`, `"WorkQueueRenamedAD162499"`)), &c)
			m[site] = c
		}},
		{"export-removed-while-imported", review.RiskExportInUse, func(m map[string]map[string]any) {
			delete(m[regional]["Outputs"].(map[string]any), "ExportsOutputFnGetAttKey961B73FDArn5A860C43")
		}},
		{"comment-only", "", func(m map[string]map[string]any) {
			// A comment in a function's source: its asset hash and CDK's
			// metadata change, nothing CloudFormation deploys.
			raw, _ := json.Marshal(m[regional])
			hashes := regexp.MustCompile(`[0-9a-f]{64}`).FindAllString(string(raw), -1)
			if len(hashes) == 0 {
				t.Fatal("the regional template has no asset hash to change")
			}
			var c map[string]any
			_ = json.Unmarshal([]byte(strings.ReplaceAll(string(raw), hashes[0], strings.Repeat("ab", 32))), &c)
			m[regional] = c
		}},
	}
	type planted struct {
		name, dir, review string
		head              *review.Assembly
	}
	var planteds []planted
	outer := t // the assemblies outlive their subtests: cdk diff reads them
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := plantedCopy(t, base)
			tc.plant(m)
			dir := writeAssembly(outer, m)
			head, err := review.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			head.Managed = base.Managed
			got := review.Changes(base, head, "HEAD", o.Levels)
			checkCorpus(t, tc.name, got, tc.risk)
			planteds = append(planteds, planted{tc.name, dir, got, head})
		})
	}
	// Every IAM statement and security group change cdk diff lists for a
	// planted change is in the review too.
	t.Run("cdk-diff-agrees", func(t *testing.T) {
		bin, err := filepath.Abs(filepath.Join("..", "node_modules", ".bin"))
		if err != nil {
			t.Fatal(err)
		}
		cdk := tool(t, filepath.Join(bin, "cdk"), "make tools installs the pinned aws-cdk CLI")
		type run struct {
			p               planted
			stack, baseFile string
			out             []byte
		}
		var runs []*run
		for _, p := range planteds {
			for _, hs := range p.head.Stacks {
				bs := base.Stack(hs.Name)
				raw1, _ := json.Marshal(bs.Template)
				raw2, _ := json.Marshal(hs.Template)
				if bs == nil || string(raw1) == string(raw2) {
					continue
				}
				baseFile := filepath.Join(t.TempDir(), "base.json")
				if err := os.WriteFile(baseFile, raw1, 0o644); err != nil {
					t.Fatal(err)
				}
				runs = append(runs, &run{p: p, stack: hs.Name, baseFile: baseFile})
			}
		}
		// Three at a time: each is mostly Node starting.
		var wg sync.WaitGroup
		slots := make(chan struct{}, 3)
		for _, r := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				slots <- struct{}{}
				defer func() { <-slots }()
				cmd := exec.Command(cdk, "diff", "--app", r.p.dir, "--template", r.baseFile, r.stack)
				cmd.Env = append(os.Environ(), "CDK_DISABLE_CLI_TELEMETRY=true", "CI=true")
				r.out, _ = cmd.CombinedOutput() // exit 1 when there are differences
			}()
		}
		wg.Wait()
		checked := 0
		for _, r := range runs {
			for _, row := range securityRows(string(r.out)) {
				checked++
				for _, w := range row {
					if !strings.Contains(r.p.review, w) {
						t.Errorf("%s: cdk diff lists %q for %s, the review does not:\n%s\n---\n%s", r.p.name, w, r.stack, r.out, r.p.review)
					}
				}
			}
		}
		if checked < 5 {
			t.Errorf("only %d IAM and security group rows compared: cdk diff's tables were not read", checked)
		}
	})
	// A new site by context: the app synthesized with one more site.
	t.Run("new-site-by-context", func(t *testing.T) {
		dir := t.TempDir()
		// cdk.json's context, as the CDK CLI gives it, with a second site.
		raw, err := os.ReadFile(filepath.Join("..", "cdk.json"))
		if err != nil {
			t.Fatal(err)
		}
		var cdkJSON struct {
			Context map[string]any `json:"context"`
		}
		if err := json.Unmarshal(raw, &cdkJSON); err != nil {
			t.Fatal(err)
		}
		cdkJSON.Context["sites"] = []any{map[string]any{"name": "onprem"}, map[string]any{"name": "lab"}}
		ctx, _ := json.Marshal(cdkJSON.Context)
		cmd := exec.Command("go", "run", ".")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CDK_CONTEXT_JSON="+string(ctx), "CDK_OUTDIR="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("synth with a second site: %v\n%s", err, out)
		}
		head, err := review.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		head.Managed = base.Managed
		got := review.Changes(base, head, "HEAD", o.Levels)
		checkCorpus(t, "new-site-by-context", got, review.RiskStack)
		if !strings.Contains(got, "## EcsWorker-Anywhere-lab\n\nA new stack") {
			t.Errorf("the new site's stack is not named:\n%s", got)
		}
	})
}

// checkCorpus compares got with the case's golden and checks its risk is
// in the summary at the top (or that it says Nothing when risk is "").
func checkCorpus(t *testing.T, name, got, risk string) {
	t.Helper()
	summary, _, _ := strings.Cut(got, "\n## EcsWorker")
	switch {
	case risk == "" && !strings.Contains(got, "Nothing: the templates are equal apart from metadata and asset hashes."):
		t.Errorf("%s: want Nothing:\n%s", name, got)
	case risk != "" && !strings.Contains(summary, "* **"+risk+"**"):
		t.Errorf("%s: the summary at the top does not name %q:\n%s", name, risk, got)
	}
	matchGolden(t, filepath.Join(corpusDir, name+".md"), got, "the review of the planted change "+name)
}

// securityRows are the changed rows of cdk diff's "IAM Statement Changes"
// and "Security Group Changes" tables, each as the words the review must
// hold too: the actions and principals (in the review's spelling: the
// account in an ARN), the port and the peer (an address block for
// "Everyone").
func securityRows(out string) [][]string {
	var rows [][]string
	var cur []string
	table := ""
	flush := func() {
		if cur != nil {
			rows = append(rows, cur)
		}
		cur = nil
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "IAM Statement Changes"):
			table = "iam"
			continue
		case strings.HasPrefix(line, "Security Group Changes"):
			table = "sg"
			continue
		case strings.HasPrefix(line, "├") || strings.HasPrefix(line, "└"):
			flush()
			continue
		case !strings.HasPrefix(line, "│") || table == "":
			continue
		}
		cells := strings.Split(line, "│")
		if len(cells) < 6 {
			continue
		}
		mark := strings.TrimSpace(cells[1])
		if mark == "+" || mark == "-" {
			flush()
			cur = []string{}
		}
		if cur == nil {
			continue
		}
		switch table {
		case "iam": // │ ± │ Resource │ Effect │ Action │ Principal │ Condition │
			for _, a := range strings.Fields(cells[4]) {
				cur = append(cur, strings.Trim(a, ","))
			}
			// A literal principal (a template's own roles are ${…}: the
			// review names them in words).
			if p := strings.TrimSpace(cells[5]); strings.HasPrefix(p, "AWS:") && !strings.HasPrefix(p, "AWS:${") {
				cur = append(cur, strings.TrimPrefix(p, "AWS:"))
			}
		case "sg": // │ ± │ Group │ Dir │ Protocol │ Peer │
			if f := strings.Fields(cells[4]); len(f) == 2 {
				cur = append(cur, f[1])
			}
			switch p := strings.TrimSpace(cells[5]); p {
			case "Everyone (IPv4)":
				cur = append(cur, "0.0.0.0/0")
			case "Everyone (IPv6)":
				cur = append(cur, "::/0")
			case "":
			default:
				cur = append(cur, p)
			}
		}
	}
	flush()
	return rows
}
