package review

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// createOnly are, per resource type, the properties CloudFormation cannot
// update in place: changing one replaces the resource (the providers'
// createOnlyProperties, as cfn-lint ships them; createonly_test.go keeps
// the file current for every type the app's templates use).
//
//go:embed createonly.json
var createOnlyJSON []byte

var createOnly = func() map[string][]string {
	m := map[string][]string{}
	if err := json.Unmarshal(createOnlyJSON, &m); err != nil {
		panic(fmt.Sprintf("review: createonly.json: %v", err))
	}
	return m
}()

// replacedBy are the properties whose change replaces a resource of typ,
// of those that differ between old and new; unknown is true when the type
// is not in the table.
func replacedBy(typ string, old, new map[string]any) (props []string, unknown bool) {
	names, known := createOnly[typ]
	if !known {
		return nil, !strings.HasPrefix(typ, "Custom::")
	}
	for _, p := range names {
		if !reflect.DeepEqual(old[p], new[p]) {
			props = append(props, p)
		}
	}
	return props, false
}

// isDataStore tells whether a type keeps data that a replacement loses.
func isDataStore(typ string) bool {
	_, ok := dataStores[typ]
	return ok || typ == "AWS::KMS::Key" || typ == "AWS::ECS::Cluster" || typ == "AWS::IAM::Role"
}

// loses says what replacing a resource of typ loses.
func loses(typ string) string {
	switch typ {
	case "AWS::KMS::Key":
		return "a new key: what the old one encrypted can be read only while it lives (it is scheduled for deletion)"
	case "AWS::ECS::Cluster":
		return "a new cluster: every node that joined must join again"
	case "AWS::IAM::Role":
		return "a new role: nodes registered with the old one (SSM) and anything trusting its ARN lose it"
	}
	if _, ok := dataStores[typ]; ok {
		return "a new, empty " + Kind(typ) + "; what the old one holds is deleted with it"
	}
	return ""
}

// Changes is what changed from base to head, in Markdown, short when the
// change is: resources added, removed and replaced (a changed logical id,
// type, or a property CloudFormation replaces on update; data stores
// flagged), permissions added and removed per role or policy, checker
// exceptions added and removed. Nothing else.
func Changes(base, head *Assembly, baseName string, levels *Levels) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# What changed since %s\n\n", baseName)
	var lines []string
	section := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		lines = append(lines, "### "+title, "")
		for _, it := range items {
			lines = append(lines, "* "+it)
		}
		lines = append(lines, "")
	}
	names := map[string]bool{}
	for _, s := range base.Stacks {
		names[s.Name] = true
	}
	for _, s := range head.Stacks {
		names[s.Name] = true
	}
	stacks := make([]string, 0, len(names))
	for n := range names {
		stacks = append(stacks, n)
	}
	sort.Strings(stacks)
	var findings []Finding
	exports := exportFindings(base, head)
	findings = append(findings, exports...)
	for _, name := range stacks {
		bs, hs := base.Stack(name), head.Stack(name)
		start := len(lines)
		switch {
		case bs == nil:
			lines = append(lines, fmt.Sprintf("A new stack: %d resources.", len(hs.Resources())), "")
			f := Finding{Stack: name, Text: "stack added", Risks: []string{RiskStack}}
			// Its grants and openings are new too: the ones to stop at.
			for _, nf := range propertyFindings(Stack{Name: name}, *hs, nil) {
				for _, r := range nf.Risks {
					if r == RiskPublic || r == RiskInternet || r == RiskCrossAccount {
						f.Risks = append(f.Risks, r)
					}
				}
			}
			f.Risks = dedupe(f.Risks)
			findings = append(findings, f)
		case hs == nil:
			lines = append(lines, "**Removed**: `cdk deploy` leaves it; `cdk destroy` of the base deletes it and what it does not retain.", "")
			findings = append(findings, Finding{Stack: name, Text: "stack removed", Risks: []string{RiskStack}})
		default:
			res, renamed := resourceChanges(*bs, *hs)
			for _, r := range res {
				if strings.Contains(r, "**Data store") {
					findings = append(findings, Finding{Stack: name, Text: r, Risks: []string{RiskStateful}})
				}
			}
			section("Resources", res)
			props := propertyFindings(*bs, *hs, renamed)
			// A new wildcard a broad suppression already covers: said
			// beside it, since cdk-nag will not.
			ex := head.exceptions(*hs)
			for i, f := range props {
				if !slices.Contains(f.Risks, RiskWildcard) {
					continue
				}
				for _, e := range ex {
					id := e.Resource[strings.LastIndex(e.Resource, " ")+1:]
					if strings.HasPrefix(e.Rule, "AwsSolutions-IAM5") && strings.HasPrefix(id, "`") && strings.Contains(f.Text, id) {
						props[i].Text += fmt.Sprintf(" (cdk-nag reports nothing: the suppression %s on it already covers wildcards, for: %s)", e.Rule, e.Reason)
						break
					}
				}
			}
			findings = append(findings, props...)
			var items []string
			for _, f := range props {
				items = append(items, f.Line())
			}
			for _, f := range exports {
				if f.Stack == name {
					items = append(items, f.Line())
				}
			}
			section("Properties and outputs", items)
			perms := lineChanges(policyLines(base, *bs, levels, renamed), policyLines(head, *hs, levels, nil))
			section("Permissions", perms)
			exc := lineChanges(exceptionLines(base, *bs, renamed), exceptionLines(head, *hs, nil))
			section("Checker exceptions", exc)
		}
		if len(lines) > start {
			lines = slices.Insert(lines, start, "## "+name, "")
		}
	}
	switch {
	case len(lines) == 0 && sameTemplates(base, head):
		b.WriteString("Nothing: the templates are equal apart from metadata and asset hashes.\n\n")
	case len(lines) == 0:
		b.WriteString("**Something changed that this review does not read** (a template's parameters, conditions, mappings or rules): compare the templates (`cdk diff --template`).\n\n")
	default:
		if summary := riskSummary(findings); len(summary) > 0 {
			b.WriteString("## Risks\n\n")
			for _, l := range summary {
				b.WriteString("* " + l + "\n")
			}
			b.WriteString("\n")
		}
		b.WriteString(strings.Join(lines, "\n"))
		b.WriteString("\n")
	}
	b.WriteString("---\n\n")
	return b.String()
}

// sameTemplates reports whether every stack is in both and its template
// is the same apart from metadata and asset hashes.
func sameTemplates(base, head *Assembly) bool {
	if len(base.Stacks) != len(head.Stacks) {
		return false
	}
	for _, hs := range head.Stacks {
		bs := base.Stack(hs.Name)
		if bs == nil || !reflect.DeepEqual(deployable(bs.Template), deployable(hs.Template)) {
			return false
		}
	}
	return true
}

// deployable is a template without metadata (CDK's paths, asset
// properties, the CDK metadata resource) and with asset hashes masked.
func deployable(t map[string]any) any {
	c := map[string]any{}
	for k, v := range t {
		if k == "Metadata" {
			continue
		}
		if k == "Resources" {
			res := map[string]any{}
			m, _ := v.(map[string]any)
			for id, r := range m {
				rm, _ := r.(map[string]any)
				if rm["Type"] == "AWS::CDK::Metadata" {
					continue
				}
				cr := map[string]any{}
				for rk, rv := range rm {
					if rk != "Metadata" {
						cr[rk] = rv
					}
				}
				res[id] = cr
			}
			v = res
		}
		c[k] = v
	}
	return normalized(c)
}

// resourceChanges are a stack's added, removed and replaced resources, and
// the renamed ones (a changed logical id: old name in words → new), for
// reading the base's permissions and exceptions in the head's words.
func resourceChanges(base, head Stack) (items []string, renamed map[string]string) {
	br, hr := base.Resources(), head.Resources()
	var added, removed []string
	for id := range hr {
		if _, ok := br[id]; !ok {
			added = append(added, id)
		}
	}
	for id := range br {
		if _, ok := hr[id]; !ok {
			removed = append(removed, id)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	renamed = map[string]string{}
	flag := func(typ string) string {
		if l := loses(typ); l != "" && isDataStore(typ) {
			return " **Data store: " + l + ".**"
		}
		return ""
	}
	// flagOld also says when the old resource is retained.
	flagOld := func(id, typ string) string {
		f := flag(typ)
		if f != "" && br[id]["DeletionPolicy"] == "Retain" {
			f = " **Data store: a new, empty " + Kind(typ) + "; the old one is retained with what it holds, out of the stack (move or delete it by hand).**"
		}
		return f
	}
	// A removed and an added resource of one type with the same
	// properties: the logical id changed, so CloudFormation replaces it.
	type pair struct{ old, neu, typ string }
	var pairs []pair
	for _, old := range removed {
		ot := fmt.Sprint(br[old]["Type"])
		for i, neu := range added {
			if fmt.Sprint(hr[neu]["Type"]) == ot && reflect.DeepEqual(br[old]["Properties"], hr[neu]["Properties"]) {
				pairs = append(pairs, pair{old, neu, ot})
				renamed[Name(base.Name, old, ot)] = Name(head.Name, neu, ot)
				renamed["`"+old+"`"] = "`" + neu + "`"
				added = slices.Delete(added, i, i+1)
				break
			}
		}
	}
	for _, p := range pairs {
		removed = slices.DeleteFunc(removed, func(s string) bool { return s == p.old })
	}
	// withRenames is a base resource's properties as they read once the
	// renamed resources have their new ids: a change that is only that
	// follows from the rename.
	withRenames := func(props any) any {
		raw, _ := json.Marshal(props)
		text := string(raw)
		for _, p := range pairs {
			text = strings.ReplaceAll(text, `"`+p.old+`"`, `"`+p.neu+`"`)
		}
		var out any
		_ = json.Unmarshal([]byte(text), &out)
		return out
	}
	var follow []string // replaced only because they refer to a renamed resource
	var changed []string
	ids := sortedIDs(hr)
	for _, id := range ids {
		old, ok := br[id]
		if !ok {
			continue
		}
		ot, nt := fmt.Sprint(old["Type"]), fmt.Sprint(hr[id]["Type"])
		if ot != nt {
			changed = append(changed, fmt.Sprintf("replaced: `%s` changes type from %s to %s.%s", id, ot, nt, flagOld(id, ot)))
			continue
		}
		op, _ := old["Properties"].(map[string]any)
		np, _ := hr[id]["Properties"].(map[string]any)
		props, unknown := replacedBy(nt, op, np)
		if len(props) == 0 && !(unknown && !reflect.DeepEqual(op, np)) {
			continue
		}
		if len(pairs) > 0 && reflect.DeepEqual(withRenames(op), withRenames(np)) {
			if len(props) > 0 {
				follow = append(follow, Name(head.Name, id, nt)+" `"+id+"`")
			}
			continue
		}
		if len(props) > 0 {
			changed = append(changed, fmt.Sprintf("replaced: %s `%s`, because %s changes (CloudFormation cannot update it in place).%s", Name(head.Name, id, nt), id, strings.Join(props, ", "), flagOld(id, nt)))
		} else {
			changed = append(changed, fmt.Sprintf("changed: %s `%s`, a type the review's replacement table does not know: check whether the change replaces it.", Name(head.Name, id, nt), id))
		}
	}
	for _, p := range pairs {
		item := fmt.Sprintf("replaced: %s, its logical id changed from `%s` to `%s`.%s", Name(head.Name, p.neu, p.typ), p.old, p.neu, flagOld(p.old, p.typ))
		if grants := grantsNaming(head, p.neu); grants != "" {
			item += " The grants that name it move to the new one: " + grants + "."
		}
		if len(follow) > 0 {
			item += " With it, what refers to it is replaced: " + strings.Join(follow, ", ") + "."
		}
		items = append(items, item)
	}
	for _, id := range removed {
		typ := fmt.Sprint(br[id]["Type"])
		what := "deleted"
		if br[id]["DeletionPolicy"] == "Retain" {
			what = "left in the account (retained), out of the stack"
		}
		items = append(items, fmt.Sprintf("removed: %s `%s`: %s.", Name(base.Name, id, typ), id, what))
	}
	for _, id := range added {
		typ := fmt.Sprint(hr[id]["Type"])
		items = append(items, fmt.Sprintf("added: %s `%s`.", Name(head.Name, id, typ), id))
	}
	items = append(items, changed...)
	return items, renamed
}

// grantsNaming are the actions of the statements of s that name the
// resource id, with their owners, in words.
func grantsNaming(s Stack, id string) string {
	var actions, owners []string
	res := s.Resources()
	for _, oid := range sortedIDs(res) {
		props, _ := res[oid]["Properties"].(map[string]any)
		for _, sts := range statementsOf(props) {
			for _, st := range sts {
				raw, _ := json.Marshal(st)
				if !strings.Contains(string(raw), `"`+id+`"`) {
					continue
				}
				m, _ := st.(map[string]any)
				for _, a := range append(list(m["Action"]), list(m["NotAction"])...) {
					if a := fmt.Sprint(a); !slices.Contains(actions, a) {
						actions = append(actions, a)
					}
				}
				if o := Name(s.Name, oid, fmt.Sprint(res[oid]["Type"])); !slices.Contains(owners, o) {
					owners = append(owners, o)
				}
			}
		}
	}
	if len(actions) == 0 {
		return ""
	}
	sort.Strings(actions)
	return strings.Join(actions, ", ") + " (" + strings.Join(owners, "; ") + ")"
}

// policyLines are a stack's permissions, one line per row, under their
// role's or policy's title; renamed rewrites names of the base in the
// head's words.
func policyLines(a *Assembly, s Stack, levels *Levels, renamed map[string]string) []string {
	var out []string
	for _, p := range a.Policies(s, levels) {
		for _, r := range p.Rows {
			out = append(out, rename(p.Title+": "+r.Line(), renamed))
		}
	}
	return out
}

func exceptionLines(a *Assembly, s Stack, renamed map[string]string) []string {
	var out []string
	for _, e := range a.exceptions(s) {
		out = append(out, rename(e.Line(), renamed))
	}
	return out
}

func rename(line string, renamed map[string]string) string {
	for old, neu := range renamed {
		line = strings.ReplaceAll(line, old, neu)
	}
	return line
}

// lineChanges are the lines only one side has: "added: …", "removed: …".
func lineChanges(base, head []string) []string {
	count := func(lines []string) map[string]int {
		m := map[string]int{}
		for _, l := range lines {
			m[l]++
		}
		return m
	}
	bc, hc := count(base), count(head)
	var out []string
	for l, n := range hc {
		if n > bc[l] {
			out = append(out, "added: "+cell(l))
		}
	}
	for l, n := range bc {
		if n > hc[l] {
			out = append(out, "removed: "+cell(l))
		}
	}
	sort.Strings(out)
	return out
}
