package review

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// pseudo are CloudFormation's pseudo parameters in words.
var pseudo = map[string]string{
	"AWS::AccountId": "<account>", "AWS::Region": "<region>", "AWS::Partition": "<partition>",
	"AWS::URLSuffix": "<url-suffix>", "AWS::StackName": "<stack name>", "AWS::StackId": "<stack id>", "AWS::NoValue": "",
}

// Text is a template value in words: a reference to a resource is the
// resource's name ("site onprem's work queue (SQS queue)"), an import is
// what the exporting stack names, pseudo parameters are <account>,
// <region>…, joins are joined; anything else is its compact JSON.
func (a *Assembly) Text(stack string, v any) string {
	s := a.Stack(stack)
	var res map[string]map[string]any
	if s != nil {
		res = s.Resources()
	}
	name := func(id string) string {
		if r, ok := res[id]; ok {
			return Name(stack, id, fmt.Sprint(r["Type"]))
		}
		if p, ok := pseudo[id]; ok {
			return p
		}
		return "parameter " + id
	}
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if len(x) != 1 {
			break
		}
		for k, arg := range x {
			switch k {
			case "Ref":
				return name(fmt.Sprint(arg))
			case "Fn::GetAtt":
				parts, _ := arg.([]any)
				if len(parts) == 2 {
					if attr := fmt.Sprint(parts[1]); attr != "Arn" {
						return name(fmt.Sprint(parts[0])) + "'s " + attr
					}
					return name(fmt.Sprint(parts[0]))
				}
			case "Fn::ImportValue":
				if e, ok := a.exports[fmt.Sprint(arg)]; ok {
					return a.Text(e.stack, e.value)
				}
				return "the import " + fmt.Sprint(arg)
			case "Fn::Join":
				parts, _ := arg.([]any)
				if len(parts) == 2 {
					sep := fmt.Sprint(parts[0])
					items, _ := parts[1].([]any)
					out := make([]string, len(items))
					for i, it := range items {
						out[i] = a.Text(stack, it)
						// A resource named in words inside a longer string
						// (an ARN): braced, so it does not run into the text.
						if _, lit := it.(string); !lit && len(items) > 1 && strings.Contains(out[i], " ") {
							out[i] = "{" + out[i] + "}"
						}
					}
					return strings.Join(out, sep)
				}
			case "Fn::Sub":
				if tmpl, ok := arg.(string); ok {
					return subVar.ReplaceAllStringFunc(tmpl, func(m string) string { return name(m[2 : len(m)-1]) })
				}
			}
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

var subVar = regexp.MustCompile(`\$\{[^}]+\}`)

// list is v as a list of values (a single value is a list of one).
func list(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

// texts are the values of v in words, sorted and unique.
func (a *Assembly) texts(stack string, v any) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range list(v) {
		t := a.Text(stack, x)
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// conditionText is a statement's Condition in words: one clause per
// operator and key, values resolved.
func (a *Assembly) conditionText(stack string, cond any) string {
	m, _ := cond.(map[string]any)
	var clauses []string
	for op, keys := range m {
		km, _ := keys.(map[string]any)
		for key, vals := range km {
			clauses = append(clauses, fmt.Sprintf("%s %s %s", key, op, strings.Join(a.texts(stack, vals), " | ")))
		}
	}
	sort.Strings(clauses)
	return strings.Join(clauses, "; ")
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// arnPattern is an ARN as Text writes it, placeholders for the pseudo
// parameters.
var arnPattern = regexp.MustCompile(`^arn:<partition>:([a-z0-9-]+):([^:]*):([^:]*):(.+)$`)

// ARNWords says what an ARN pattern that names every resource of a type
// covers, in words ("every sqs queue of the account in the region");
// other ARNs and values are returned as they are.
func ARNWords(s string) string {
	m := arnPattern.FindStringSubmatch(s)
	if m == nil {
		return s
	}
	svc, region, account, res := m[1], m[2], m[3], m[4]
	var where string
	switch {
	case region == "<region>" && account == "<account>":
		where = "of the account in the region"
	case region == "" && account == "<account>":
		where = "of the account"
	case (region == "*" || region == "") && account == "*":
		where = "of any account, in any region"
	case region == "*" && account == "<account>":
		where = "of the account, in any region"
	default:
		return s
	}
	if res == "*" {
		return "every " + svc + " resource " + where
	}
	for _, sep := range []string{"/*", ":*"} {
		if typ, ok := strings.CutSuffix(res, sep); ok && !strings.ContainsAny(typ, "*/:") {
			return "every " + svc + " " + typ + " " + where
		}
	}
	return s
}
