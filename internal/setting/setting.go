// Package setting is how a feature states the site settings it owns, once:
// its contract decodes them from a site's object of the sites context key
// (an input struct, nil where not set), applies their defaults, checks them
// (a list of Problems, changing nothing) and documents them (Docs, rows of
// the configuration table). The configuration reads every feature's
// settings through the same four steps, and the feature's construct checks
// its props with the same Problems, so a setting has one set of bounds.
package setting

import "fmt"

// Problem is one bad setting: its key as the user writes it, its value and
// what is allowed ("must be ...").
type Problem struct {
	Key   string
	Value any
	Want  string
}

// Error reads "registrationLimit is 0: must be a whole number from 1 to 1000".
func (p Problem) Error() string { return fmt.Sprintf("%s is %s: %s", p.Key, Show(p.Value), p.Want) }

// Show writes a value as the problem messages do: strings quoted.
func Show(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

// Doc is one row of the configuration table: the key, its default and what
// it allows, in Markdown.
type Doc struct{ Key, Default, Allowed string }

// Between checks a whole number against lo..hi.
func Between(problems []Problem, key string, v, lo, hi int) []Problem {
	if v < lo || v > hi {
		return append(problems, Problem{key, v, fmt.Sprintf("must be a whole number from %d to %d", lo, hi)})
	}
	return problems
}

// Or is *p, or def when p is nil.
func Or[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
