package gofunction

import (
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/internal/names"
	"github.com/ecs-anywhere-stretched/stretched/internal/testkit/errcheck"
)

func TestValidate(t *testing.T) {
	defer jsii.Close()
	for _, tc := range []struct {
		name  string
		props Props
		want  []string
	}{
		{"defaults", Props{Handler: names.HandlerActivation, Description: "d"}, nil},
		{"settings", Props{Handler: names.HandlerSiteNodes, Description: "d", MemoryMiB: 256}, nil},
		{"no handler", Props{Description: "d"}, []string{`Handler is ""`, "one of activation, renewer"}},
		{"unknown handler", Props{Handler: "lambda/renewer", Description: "d"}, []string{`Handler is "lambda/renewer"`}},
		{"not a repository", Props{Handler: names.HandlerRenewer, Description: "d", RepoRoot: "/nonexistent"}, []string{`RepoRoot "/nonexistent" has no go.mod`}},
		{"no description", Props{Handler: names.HandlerRenewer}, []string{"Description is empty"}},
		{"timeout", Props{Handler: names.HandlerRenewer, Description: "d", Timeout: awscdk.Duration_Minutes(jsii.Number(16))}, []string{"Timeout is 960 seconds", "from 1 to 900"}},
		{"memory", Props{Handler: names.HandlerRenewer, Description: "d", MemoryMiB: 64}, []string{"MemoryMiB is 64"}},
		{"every problem at once", Props{MemoryMiB: 99999}, []string{`Handler is ""`, "Description is empty", "MemoryMiB is 99999"}},
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
