// Package route is how the entry topic routes work: the filter policy of a
// location's subscription and of the unrouted queue's. The router construct
// writes them into the template; the end-to-end test gives a real SNS peer
// the same ones. It imports no CDK.
package route

import "slices"

// Attribute is the message attribute that names a message's location.
const Attribute = "location"

// LocationFilter matches the messages for one location.
func LocationFilter(location string) map[string]any {
	return map[string]any{Attribute: []any{location}}
}

// UnroutedFilter matches exactly the messages no location takes: no
// location attribute, or a value that is none of locations.
func UnroutedFilter(locations []string) map[string]any {
	return map[string]any{"$or": []any{
		map[string]any{Attribute: []any{map[string]any{"exists": false}}},
		map[string]any{Attribute: []any{map[string]any{"anything-but": slices.Clone(locations)}}},
	}}
}
