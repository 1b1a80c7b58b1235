// Package contract is how the router feature's entry topic routes work: the
// filter policy of a location's subscription and of the unrouted queue's,
// the locations and the work modes. The router construct writes them into
// the template, the producer (fleet send) and the worker read them, and the
// end-to-end test gives a real SNS peer the same ones. It links no CDK.
package contract

import (
	"hash/fnv"
	"regexp"
	"slices"
)

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

// Location is what a location's name must look like (the attribute's
// value, an SSM parameter name's last part): 1 to 64 letters, digits, '-'
// or '_'.
var Location = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// MaxLocationsPerTopic is how many locations one entry topic routes. Its
// unrouted subscription's filter combines 1 + n values (SNS allows 150
// combinations in one filter policy), and the topic holds n + 1 filter
// policies (SNS allows 200 per topic): n ≤ 149.
const MaxLocationsPerTopic = 149

// Topic is the entry topic (0 to topics-1) that routes a location: a hash
// of its name, so a location keeps its topic while sites come and go, and
// moves only when the number of topics changes.
func Topic(location string, topics int) int {
	if topics <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(location))
	return int(h.Sum32() % uint32(topics))
}

// Shards are the locations routed by each of topics entry topics, sorted.
func Shards(locations []string, topics int) [][]string {
	out := make([][]string, max(topics, 1))
	for _, l := range locations {
		i := Topic(l, topics)
		out[i] = append(out[i], l)
	}
	for _, s := range out {
		slices.Sort(s)
	}
	return out
}

// Overfull is the first entry topic (0-based) that would route more than
// MaxLocationsPerTopic of locations, and how many; ok is false when none
// would.
func Overfull(locations []string, topics int) (topic, n int, ok bool) {
	for i, shard := range Shards(locations, topics) {
		if len(shard) > MaxLocationsPerTopic {
			return i, len(shard), true
		}
	}
	return 0, 0, false
}

// SuggestedTopics is how many entry topics to give locations: one per 100,
// which leaves room for the hash's uneven shares.
func SuggestedTopics(locations int) int { return max((locations+99)/100, 1) }

// Locations and how work reaches them (config's "work").
const (
	// RegionLocation is the location name of the region's worker (message
	// attribute location=region); no site may take it.
	RegionLocation = "region"
	// WorkRouted: a queue per location, routed by the entry topic.
	WorkRouted = "routed"
	// WorkShared: one queue for every location.
	WorkShared = "shared"
)
