package sitenodes

import (
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

// Every missing prop is named, with what to pass, before anything is made;
// the fleet's function needs the app's prefix.
func TestNewNamesEveryMissingProp(t *testing.T) {
	_, err := New(nil, "Nodes", Props{})
	errcheck.Contains(t, err, "sitenodes: Fleet is nil", "sitenodes.NewFleet in the regional stack", "sitenodes: Cluster is nil", `TagKey "" and TagValue "" must both be set`)
	_, err = NewFleet(nil, "SiteNodes", FleetProps{})
	errcheck.Contains(t, err, "sitenodes: Fleet is empty: pass the app's stack prefix")
}
