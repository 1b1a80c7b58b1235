package review

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Risk classes, in the order the report's summary gives them: the first
// ones are the reasons to stop and look.
const (
	RiskPublic        = "public principal"
	RiskInternet      = "open to the internet"
	RiskCrossAccount  = "cross-account principal"
	RiskEscalation    = "privilege-escalation action"
	RiskWildcard      = "wildcard action or resource"
	RiskWidened       = "permissions widened"
	RiskConditions    = "conditions removed"
	RiskEncryption    = "encryption off or weakened"
	RiskRetention     = "retention shorter"
	RiskDeletion      = "deletion or replace policy changed"
	RiskStateful      = "stateful replacement"
	RiskExportInUse   = "export removed while imported"
	RiskExposure      = "exposure changed"
	RiskNarrowed      = "permissions narrowed"
	RiskRouting       = "routing changed"
	RiskStack         = "stack added or removed"
	RiskOtherProperty = "other property changed"
)

// riskOrder is the summary's order.
var riskOrder = []string{RiskPublic, RiskInternet, RiskCrossAccount, RiskEscalation, RiskWildcard, RiskWidened, RiskConditions,
	RiskEncryption, RiskRetention, RiskDeletion, RiskStateful, RiskExportInUse, RiskExposure, RiskNarrowed, RiskRouting, RiskStack, RiskOtherProperty}

// Finding is one change with the risks it carries.
type Finding struct {
	Stack string
	Text  string
	Risks []string
}

// Line is the finding with its risks, for a list item.
func (f Finding) Line() string {
	var named []string
	for _, r := range f.Risks {
		if r != RiskOtherProperty {
			named = append(named, "**"+r+"**")
		}
	}
	if len(named) == 0 {
		return f.Text
	}
	return f.Text + " — " + strings.Join(named, ", ")
}

// escalation are actions that hand out more than they name: a role to a
// service, commands on machines, keys' use to others, secrets' values,
// policies of identities.
var escalation = []string{
	"iam:passrole", "iam:createpolicyversion", "iam:setdefaultpolicyversion", "iam:attachrolepolicy", "iam:attachuserpolicy", "iam:attachgrouppolicy",
	"iam:putrolepolicy", "iam:putuserpolicy", "iam:putgrouppolicy", "iam:createaccesskey", "iam:createloginprofile", "iam:updateloginprofile",
	"iam:updateassumerolepolicy", "iam:addusertogroup", "sts:assumerole", "ssm:sendcommand", "ssm:startsession", "kms:creategrant",
	"secretsmanager:getsecretvalue", "lambda:updatefunctioncode", "lambda:createfunction", "lambda:addpermission", "ec2:runinstances",
	"ecs:runtask", "ecs:registertaskdefinition", "cloudformation:createstack", "cloudformation:updatestack",
}

// classOf is what a property path of a resource type is about.
func classOf(typ, path string) string {
	p := strings.ToLower(path)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(p, strings.ToLower(w)) {
				return true
			}
		}
		return false
	}
	switch {
	case path == "DeletionPolicy" || path == "UpdateReplacePolicy" || has("DeletionProtection", "DeletionWindow", "PendingWindowInDays"):
		return "deletion policy"
	case has("PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy", "RepositoryPolicyText", "FileSystemPolicy", "ResourcePolicy", "PermissionsBoundary", "ManagedPolicyArns") ||
		(typ == "AWS::Lambda::Permission" && has("Principal", "SourceArn", "SourceAccount", "Action")):
		return "permissions"
	case has("Retention", "LifecyclePolicy", "ExpirationInDays", "MessageRetentionPeriod"):
		return "retention"
	case has("Encrypt", "KmsMasterKeyId", "KmsKeyId", "SqsManagedSse", "KmsKey", "EnableKeyRotation", "SSESpecification", "TransitEncryption"):
		return "encryption"
	case has("Versioning", "Backup", "PointInTimeRecovery"):
		return "versioning/backup"
	case has("SecurityGroupIngress", "SecurityGroupEgress", "CidrIp", "CidrIpv6", "FromPort", "ToPort", "IpProtocol", "AssignPublicIp", "MapPublicIp",
		"Subnets", "SecurityGroups", "NetworkConfiguration", "SourceSecurityGroup") || typ == "AWS::EC2::SecurityGroupIngress" || typ == "AWS::EC2::SecurityGroupEgress":
		return "exposure"
	case has("FilterPolicy", "RedrivePolicy", "RawMessageDelivery", "Endpoint", "TopicArn"):
		return "routing"
	}
	return "other"
}

// hashRe matches asset hashes: a change that is only these is no change.
var hashRe = regexp.MustCompile(`[0-9a-f]{64}`)

// normalized is v with asset hashes masked.
func normalized(v any) any {
	raw, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal([]byte(hashRe.ReplaceAllString(string(raw), "<hash>")), &out)
	return out
}

// change is one property that differs.
type change struct {
	path          string
	before, after any
	had, has      bool
}

// diffValues are the paths where a and b differ: maps by key, lists by
// index when of one length, else the whole list.
func diffValues(path string, a, b any, hadA, hasB bool, out *[]change) {
	if reflect.DeepEqual(a, b) && hadA == hasB {
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok && !isIntrinsic(am) && !isIntrinsic(bm) {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for _, k := range keysOf(keys) {
			av, ina := am[k]
			bv, inb := bm[k]
			diffValues(join(path, k), av, bv, ina, inb, out)
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			diffValues(fmt.Sprintf("%s[%d]", path, i), al[i], bl[i], true, true, out)
		}
		return
	}
	*out = append(*out, change{path: path, before: a, after: b, had: hadA, has: hasB})
}

func isIntrinsic(m map[string]any) bool {
	if len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// short is v as compact JSON, at most 140 characters.
func short(v any, present bool) string {
	if !present {
		return "(none)"
	}
	raw, _ := json.Marshal(v)
	s := string(raw)
	if len(s) > 140 {
		s = s[:137] + "…"
	}
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

// policyPaths are the properties of a type that hold policy documents.
var policyKeys = []string{"PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy", "RepositoryPolicyText", "FileSystemPolicy", "ResourcePolicy"}

// statementsOf are the statements of every policy document in props, by
// the path of their document.
func statementsOf(props map[string]any) map[string][]any {
	out := map[string][]any{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if slices.Contains(policyKeys, k) {
					doc := c
					if s, ok := c.(string); ok { // ECR's policy text is JSON in a string
						_ = json.Unmarshal([]byte(s), &doc)
					}
					d, _ := doc.(map[string]any)
					out[join(path, k)] = list(d["Statement"])
					continue
				}
				walk(join(path, k), c)
			}
		case []any:
			for i, c := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), c)
			}
		}
	}
	walk("", props)
	return out
}

// statementKey is a statement without its Sid, as JSON: two statements
// alike but for the Sid are the same grant.
func statementKey(st any) string {
	m, _ := st.(map[string]any)
	c := map[string]any{}
	for k, v := range m {
		switch k {
		case "Sid":
		case "Action", "NotAction", "Resource", "NotResource":
			c[k] = sortedList(normalized(v))
		case "Principal":
			p, _ := normalized(v).(map[string]any)
			if p == nil {
				c[k] = normalized(v)
				continue
			}
			sp := map[string]any{}
			for pk, pv := range p {
				sp[pk] = sortedList(pv)
			}
			c[k] = sp
		default:
			c[k] = normalized(v)
		}
	}
	raw, _ := json.Marshal(c)
	return string(raw)
}

// sortedList is v as a list sorted by JSON text (order does not change a
// grant); a single value is a list of one.
func sortedList(v any) []any {
	l := list(v)
	out := append([]any{}, l...)
	sort.Slice(out, func(i, j int) bool {
		a, _ := json.Marshal(out[i])
		b, _ := json.Marshal(out[j])
		return string(a) < string(b)
	})
	return out
}

// statementRisks are the risks an Allow statement carries for the stacks
// of account (a Ref to AWS::AccountId is the stack's own).
func statementRisks(st any) []string {
	m, _ := st.(map[string]any)
	if fmt.Sprint(m["Effect"]) != "Allow" {
		return nil
	}
	var risks []string
	add := func(r string) {
		if !slices.Contains(risks, r) {
			risks = append(risks, r)
		}
	}
	actions := list(m["Action"])
	if m["NotAction"] != nil {
		add(RiskWildcard) // everything but some actions
	}
	for _, a := range actions {
		s := strings.ToLower(fmt.Sprint(a))
		if strings.Contains(s, "*") {
			add(RiskWildcard)
		}
		for _, e := range escalation {
			if s == e || (strings.Contains(s, "*") && actionPattern(s).MatchString(e)) {
				add(RiskEscalation)
			}
		}
	}
	for _, r := range list(m["Resource"]) {
		if s, ok := r.(string); ok && (s == "*" || strings.HasSuffix(s, ":*") || strings.HasSuffix(s, "/*")) {
			add(RiskWildcard)
		}
	}
	if m["NotResource"] != nil {
		add(RiskWildcard)
	}
	for _, p := range principalValues(m["Principal"]) {
		switch {
		case p == "*":
			add(RiskPublic) // with or without conditions: the item shows them
		case otherAccount(p):
			add(RiskCrossAccount)
		}
	}
	return risks
}

// principalValues are the AWS principals of a Principal element (the
// string "*", {"AWS": "*"}, {"AWS": ["*", …]}), as strings; services and
// federated principals are not accounts.
func principalValues(p any) []string {
	if s, ok := p.(string); ok {
		return []string{s}
	}
	m, _ := p.(map[string]any)
	var out []string
	for _, v := range list(m["AWS"]) {
		if s, ok := v.(string); ok {
			out = append(out, s)
		} else {
			raw, _ := json.Marshal(v)
			out = append(out, string(raw))
		}
	}
	return out
}

var accountRe = regexp.MustCompile(`^(?:arn:[^:]+:iam::)?([0-9]{12})(?::|$)`)

// otherAccount reports whether principal names a literal account: the
// app's own is always a Ref to AWS::AccountId, so a literal one is
// another's (or, in a stack pinned to an account, its own: the item says
// which).
func otherAccount(principal string) bool {
	return accountRe.MatchString(principal)
}

// propertyFindings are the changes of the resources base and head share,
// each with its class and risks, and the statements of added policy
// resources.
func propertyFindings(base, head Stack, renamed map[string]string) []Finding {
	br, hr := base.Resources(), head.Resources()
	// Renamed resources are compared under their new ids: what refers to
	// them changes only with the rename, which resourceChanges says.
	var pairs []string
	for old, neu := range renamed {
		if strings.HasPrefix(old, "`") {
			pairs = append(pairs, `"`+strings.Trim(old, "`")+`"`, `"`+strings.Trim(neu, "`")+`"`)
		}
	}
	withRenames := func(v map[string]any) map[string]any {
		if len(pairs) == 0 {
			return v
		}
		raw, _ := json.Marshal(v)
		var out map[string]any
		_ = json.Unmarshal([]byte(strings.NewReplacer(pairs...).Replace(string(raw))), &out)
		return out
	}
	var out []Finding
	for _, id := range sortedIDs(hr) {
		old, ok := br[id]
		if !ok && len(pairs) > 0 {
			for i := 1; i < len(pairs); i += 2 {
				if pairs[i] == `"`+id+`"` {
					ok = true // a renamed resource: resourceChanges says so
				}
			}
			if ok {
				continue
			}
		}
		if ok {
			old = withRenames(old)
		}
		typ := fmt.Sprint(hr[id]["Type"])
		newProps, _ := hr[id]["Properties"].(map[string]any)
		if !ok {
			// A new resource's grants are new grants.
			for path, sts := range statementsOf(newProps) {
				for _, st := range sts {
					if risks := statementRisks(st); len(risks) > 0 {
						out = append(out, Finding{head.Name, fmt.Sprintf("%s `%s` (new) %s grants %s", Name(head.Name, id, typ), id, path, short(st, true)), append([]string{RiskWidened}, risks...)})
					}
				}
			}
			out = append(out, exposureOfNew(head.Name, id, typ, newProps)...)
			continue
		}
		if fmt.Sprint(old["Type"]) != typ {
			continue // replaced: resourceChanges says so
		}
		oldProps, _ := old["Properties"].(map[string]any)
		title := fmt.Sprintf("%s `%s`", Name(head.Name, id, typ), id)
		// Statements: compared as grants, not as list positions.
		os, ns := statementsOf(oldProps), statementsOf(newProps)
		docPaths := map[string]bool{}
		for p := range os {
			docPaths[p] = true
		}
		for p := range ns {
			docPaths[p] = true
		}
		for _, p := range keysOf(docPaths) {
			out = append(out, statementFindings(head.Name, title, p, os[p], ns[p])...)
		}
		var changes []change
		for _, k := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
			ov, had := old[k]
			nv, has := hr[id][k]
			diffValues(k, ov, nv, had, has, &changes)
		}
		diffValues("", normalized(stripPolicies(oldProps)), normalized(stripPolicies(newProps)), true, true, &changes)
		for _, c := range changes {
			class := classOf(typ, c.path)
			f := Finding{Stack: head.Name, Text: fmt.Sprintf("%s: %s %s: %s → %s", class, title, c.path, short(c.before, c.had), short(c.after, c.has))}
			f.Risks = propertyRisks(typ, class, c)
			out = append(out, f)
		}
	}
	return out
}

// stripPolicies is props without their policy documents (compared as
// statements).
func stripPolicies(props map[string]any) any {
	var strip func(v any) any
	strip = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, c := range x {
				if !slices.Contains(policyKeys, k) {
					out[k] = strip(c)
				}
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, c := range x {
				out[i] = strip(c)
			}
			return out
		}
		return v
	}
	return strip(props)
}

// statementFindings compare the statements of one policy document.
func statementFindings(stack, title, path string, before, after []any) []Finding {
	bk := map[string]any{}
	for _, st := range before {
		bk[statementKey(st)] = st
	}
	ak := map[string]any{}
	for _, st := range after {
		ak[statementKey(st)] = st
	}
	var out []Finding
	for _, k := range keysOf(ak) {
		if _, ok := bk[k]; ok {
			continue
		}
		st := ak[k]
		risks := []string{RiskWidened}
		if m, _ := st.(map[string]any); fmt.Sprint(m["Effect"]) == "Deny" {
			risks = []string{RiskNarrowed}
		}
		// The same grant with fewer conditions than one it replaces.
		for _, ok := range keysOf(bk) {
			if _, kept := ak[ok]; kept {
				continue
			}
			if conditionsRemoved(bk[ok], st) {
				risks = append(risks, RiskConditions)
				break
			}
		}
		risks = append(risks, statementRisks(st)...)
		out = append(out, Finding{stack, fmt.Sprintf("permissions: %s %s: statement added %s", title, path, short(st, true)), dedupe(risks)})
	}
	for _, k := range keysOf(bk) {
		if _, ok := ak[k]; ok {
			continue
		}
		risk := RiskNarrowed
		if m, _ := bk[k].(map[string]any); fmt.Sprint(m["Effect"]) == "Deny" {
			risk = RiskWidened
		}
		out = append(out, Finding{stack, fmt.Sprintf("permissions: %s %s: statement removed %s", title, path, short(bk[k], true)), []string{risk}})
	}
	return out
}

// conditionsRemoved reports whether after is before with conditions (or
// condition keys) removed and nothing else changed.
func conditionsRemoved(before, after any) bool {
	b, _ := before.(map[string]any)
	a, _ := after.(map[string]any)
	if b["Condition"] == nil {
		return false
	}
	for _, k := range []string{"Effect", "Action", "NotAction", "Resource", "NotResource", "Principal"} {
		if !reflect.DeepEqual(normalized(b[k]), normalized(a[k])) {
			return false
		}
	}
	count := func(c any) int {
		n := 0
		m, _ := c.(map[string]any)
		for _, ops := range m {
			om, _ := ops.(map[string]any)
			n += len(om)
		}
		return n
	}
	return count(a["Condition"]) < count(b["Condition"])
}

func dedupe(l []string) []string {
	var out []string
	for _, s := range l {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// propertyRisks are the risks of one changed property.
func propertyRisks(typ, class string, c change) []string {
	switch class {
	case "retention":
		if b, a := number(c.before, c.had), number(c.after, c.has); b > 0 && (a < b || !c.has) {
			return []string{RiskRetention}
		}
		if s, ok := c.after.(string); ok && strings.Contains(s, "countNumber") {
			if countOf(c.after) < countOf(c.before) {
				return []string{RiskRetention}
			}
		}
		return []string{RiskOtherProperty}
	case "encryption":
		if strings.HasSuffix(c.path, "EnableKeyRotation") && c.after != true {
			return []string{RiskEncryption}
		}
		if strings.HasSuffix(c.path, "SqsManagedSseEnabled") && c.after == false {
			return []string{RiskEncryption}
		}
		if c.had && !c.has {
			return []string{RiskEncryption}
		}
		return []string{RiskOtherProperty}
	case "deletion policy":
		return []string{RiskDeletion}
	case "exposure":
		if internet(c.after) && !internet(c.before) {
			return []string{RiskInternet}
		}
		if strings.Contains(strings.ToLower(c.path), "assignpublicip") && fmt.Sprint(c.after) == "ENABLED" {
			return []string{RiskInternet}
		}
		return []string{RiskExposure}
	case "permissions":
		return []string{RiskWidened}
	case "routing":
		return []string{RiskRouting}
	case "versioning/backup":
		return []string{RiskRetention}
	}
	return []string{RiskOtherProperty}
}

// number is a numeric property's value (CloudFormation takes numbers as
// strings too); 0 when there is none.
func number(v any, present bool) float64 {
	if !present {
		return 0
	}
	switch x := v.(type) {
	case float64:
		return x
	case string:
		f, _ := strconv.ParseFloat(x, 64)
		return f
	}
	return 0
}

var countRe = regexp.MustCompile(`"countNumber"\s*:\s*([0-9]+)`)

// countOf is an ECR lifecycle policy's smallest countNumber.
func countOf(v any) int {
	s, _ := v.(string)
	min := 0
	for _, m := range countRe.FindAllStringSubmatch(s, -1) {
		n, _ := strconv.Atoi(m[1])
		if min == 0 || n < min {
			min = n
		}
	}
	return min
}

// internet reports whether v (an ingress rule, a list of them or an
// address) is open to any address: 0.0.0.0/0, ::/0, or a prefix of 8 bits
// or fewer.
func internet(v any) bool {
	raw, _ := json.Marshal(v)
	for _, m := range cidrRe.FindAllStringSubmatch(string(raw), -1) {
		bits, _ := strconv.Atoi(m[2])
		if bits <= 8 {
			return true
		}
	}
	return false
}

var cidrRe = regexp.MustCompile(`"((?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9a-fA-F:]*:[0-9a-fA-F:]*)/([0-9]{1,3})"`)

// exposureOfNew are the risks of a new resource that lets traffic in.
func exposureOfNew(stack, id, typ string, props map[string]any) []Finding {
	title := fmt.Sprintf("%s `%s` (new)", Name(stack, id, typ), id)
	switch typ {
	case "AWS::EC2::SecurityGroupIngress":
		risk := RiskExposure
		if internet(props) {
			risk = RiskInternet
		}
		return []Finding{{stack, fmt.Sprintf("exposure: %s lets in %s", title, short(props, true)), []string{risk}}}
	case "AWS::EC2::SecurityGroup":
		if ing := props["SecurityGroupIngress"]; ing != nil {
			risk := RiskExposure
			if internet(ing) {
				risk = RiskInternet
			}
			return []Finding{{stack, fmt.Sprintf("exposure: %s lets in %s", title, short(ing, true)), []string{risk}}}
		}
	case "AWS::Lambda::Permission":
		if p := fmt.Sprint(props["Principal"]); p == "*" {
			return []Finding{{stack, fmt.Sprintf("permissions: %s lets anyone invoke %s", title, short(props["FunctionName"], true)), []string{RiskPublic}}}
		}
	}
	return nil
}

// exportFindings are exports head removes that a stack still imports
// (CloudFormation refuses the deploy), and outputs added, removed or
// changed.
func exportFindings(base, head *Assembly) []Finding {
	exportsOf := func(a *Assembly) map[string]string { // export name → stack
		out := map[string]string{}
		for _, s := range a.Stacks {
			outs, _ := s.Template["Outputs"].(map[string]any)
			for _, o := range outs {
				m, _ := o.(map[string]any)
				e, _ := m["Export"].(map[string]any)
				if n, ok := e["Name"].(string); ok {
					out[n] = s.Name
				}
			}
		}
		return out
	}
	importers := func(a *Assembly, name string) []string {
		var out []string
		for _, s := range a.Stacks {
			raw, _ := json.Marshal(s.Template["Resources"])
			if strings.Contains(string(raw), `"Fn::ImportValue":"`+name+`"`) && !slices.Contains(out, s.Name) {
				out = append(out, s.Name)
			}
		}
		return out
	}
	be, he := exportsOf(base), exportsOf(head)
	var out []Finding
	for _, name := range keysOf(be) {
		if _, ok := he[name]; ok {
			continue
		}
		users := dedupe(append(importers(base, name), importers(head, name)...))
		if len(users) > 0 {
			out = append(out, Finding{be[name], fmt.Sprintf("outputs: export `%s` removed while %s import it: CloudFormation refuses the update until they no longer do", name, strings.Join(users, ", ")), []string{RiskExportInUse}})
		} else {
			out = append(out, Finding{be[name], fmt.Sprintf("outputs: export `%s` removed (no stack imports it)", name), []string{RiskOtherProperty}})
		}
	}
	for _, s := range head.Stacks {
		bs := base.Stack(s.Name)
		if bs == nil {
			continue
		}
		bo, _ := bs.Template["Outputs"].(map[string]any)
		ho, _ := s.Template["Outputs"].(map[string]any)
		for _, k := range keysOf(ho) {
			if _, ok := bo[k]; !ok {
				out = append(out, Finding{s.Name, fmt.Sprintf("outputs: `%s` added", k), []string{RiskOtherProperty}})
			} else if !reflect.DeepEqual(normalized(bo[k]), normalized(ho[k])) {
				out = append(out, Finding{s.Name, fmt.Sprintf("outputs: `%s` changed: %s → %s", k, short(bo[k], true), short(ho[k], true)), []string{RiskOtherProperty}})
			}
		}
		for _, k := range keysOf(bo) {
			if _, ok := ho[k]; !ok {
				out = append(out, Finding{s.Name, fmt.Sprintf("outputs: `%s` removed", k), []string{RiskOtherProperty}})
			}
		}
	}
	return out
}

// riskSummary is one line per risk class that occurs, in riskOrder, with
// how many changes carry it.
func riskSummary(findings []Finding) []string {
	count := map[string]int{}
	for _, f := range findings {
		for _, r := range f.Risks {
			count[r]++
		}
	}
	var out []string
	for _, r := range riskOrder {
		if n := count[r]; n > 0 {
			out = append(out, fmt.Sprintf("**%s**: %d change(s)", r, n))
		}
	}
	return out
}

// keysOf are m's keys, sorted.
func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
