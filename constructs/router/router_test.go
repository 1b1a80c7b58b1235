package router

import (
	"strings"
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

// Bad props are refused by New, before anything is made, naming each problem.
func TestNewRefusesBadProps(t *testing.T) {
	many := make([]string, 300)
	for i := range many {
		many[i] = "site" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	for _, tc := range []struct {
		name  string
		props Props
		want  []string
	}{
		{"nothing", Props{}.withDefaults(), []string{"Key is nil", "Locations is empty", "Fleet is empty"}},
		{"bad location", Props{Locations: []string{"a b", "x", "x"}, Topics: 1}, []string{`location "a b": must be 1 to 64 letters`, `location "x" is listed twice`}},
		{"no topics", Props{Locations: []string{"x"}, Topics: -1}, []string{"Topics is -1: must be at least 1"}},
		{"too many locations on one topic", Props{Locations: many, Topics: 1}, []string{"entry topic 1 would route 300 locations", "set entryTopics to at least 3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(nil, "Router", tc.props)
			errcheck.Contains(t, err, tc.want...)
		})
	}
}

// Locations spread over the topics and stay on theirs while others come
// and go.
func TestShardsAreStable(t *testing.T) {
	var locations []string
	for i := range 500 {
		locations = append(locations, "site"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	shards := contract.Shards(locations, 5)
	for i, s := range shards {
		if len(s) > contract.MaxLocationsPerTopic || len(s) < 50 {
			t.Errorf("topic %d routes %d locations of 500 on 5 topics", i, len(s))
		}
	}
	if err := (Props{Locations: locations, Topics: 5, Fleet: "f"}).validate(); err != nil && !strings.Contains(err.Error(), "Key is nil") {
		t.Errorf("500 locations on 5 topics: %v", err)
	}
	for _, l := range locations[:10] {
		if contract.Topic(l, 5) != contract.Topic(l, 5) || contract.Topic(l, 1) != 0 {
			t.Errorf("%s: topic not stable", l)
		}
	}
}
