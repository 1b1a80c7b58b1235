package router

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"

	"github.com/ecs-anywhere-stretched/stretched/internal/testkit/errcheck"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props Props
		want  []string
	}{
		{"nothing", Props{}, []string{"Key is nil", "Queues is empty", "Fleet is empty"}},
		{"bad location", Props{Queues: map[string]awssqs.IQueue{"a b": nil}}, []string{`location "a b": must be 1 to 64 letters`, `location "a b" has no queue`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errcheck.Contains(t, tc.props.validate(), tc.want...)
		})
	}
}
