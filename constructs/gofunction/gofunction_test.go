package gofunction

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/internal/errcheck"
)

func TestValidate(t *testing.T) {
	defer jsii.Close()
	for _, tc := range []struct {
		name  string
		props Props
		want  []string
	}{
		{"defaults", Props{Entry: "lambda/activation", Description: "d"}, nil},
		{"every lambda of the project", Props{Entry: "lambda/sitenodes", Description: "d", MemoryMiB: 256}, nil},
		{"no entry", Props{Description: "d"}, []string{"Entry is empty"}},
		{"entry without main", Props{Entry: "internal/ssmact", Description: "d"}, []string{`Entry "internal/ssmact" has no main.go`}},
		{"no description", Props{Entry: "lambda/renewer"}, []string{"Description is empty"}},
		{"timeout", Props{Entry: "lambda/renewer", Description: "d", Timeout: awscdk.Duration_Minutes(jsii.Number(16))}, []string{"Timeout is 960 seconds", "from 1 to 900"}},
		{"memory", Props{Entry: "lambda/renewer", Description: "d", MemoryMiB: 64}, []string{"MemoryMiB is 64"}},
		{"every problem at once", Props{MemoryMiB: 99999}, []string{"Entry is empty", "Description is empty", "MemoryMiB is 99999"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.props.withDefaults().validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("valid props rejected: %v", err)
				}
				return
			}
			errcheck.Contains(t, err, tc.want...)
		})
	}
}
