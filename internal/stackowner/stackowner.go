// Package stackowner tells the fleet's functions what a stack holds, so
// they act only on the resources of the stack that asks: one function
// serves every site, and a request (a custom resource of any stack, a
// direct invoke, a schedule's input) can name anything. A function reads
// the requesting stack's resources (cloudformation:ListStackResources,
// allowed only on the app's site stacks) and refuses a request that names
// a resource the stack does not hold.
package stackowner

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/ecs-anywhere-stretched/stretched/internal/awserr"
)

// API is what the package calls of CloudFormation; *cloudformation.Client
// satisfies it.
type API interface {
	ListStackResources(context.Context, *cloudformation.ListStackResourcesInput, ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error)
}

// Stack is what one stack holds: the physical ids of its resources, by
// resource type.
type Stack struct {
	// Name is the stack's name.
	Name   string
	byType map[string]map[string]bool
}

// NameOf is the stack name of a stack id
// (arn:aws:cloudformation:<region>:<account>:stack/<name>/<guid>) or of a
// name.
func NameOf(stack string) string {
	if rest, ok := strings.CutPrefix(stack, "arn:"); ok {
		if _, after, ok := strings.Cut(rest, ":stack/"); ok {
			name, _, _ := strings.Cut(after, "/")
			return name
		}
	}
	return stack
}

// Read lists the resources of stack (a name or an id), every page.
func Read(ctx context.Context, api API, stack string) (Stack, error) {
	if api == nil {
		return Stack{}, fmt.Errorf("no CloudFormation client to read stack %s with: the function cannot tell what the stack holds", stack)
	}
	s := Stack{Name: NameOf(stack), byType: map[string]map[string]bool{}}
	in := &cloudformation.ListStackResourcesInput{StackName: aws.String(stack)}
	for {
		out, err := api.ListStackResources(ctx, in)
		if err != nil {
			return Stack{}, fmt.Errorf("list the resources of stack %s: %w", stack, awserr.Explain(err))
		}
		for _, r := range out.StackResourceSummaries {
			typ := aws.ToString(r.ResourceType)
			if s.byType[typ] == nil {
				s.byType[typ] = map[string]bool{}
			}
			s.byType[typ][aws.ToString(r.PhysicalResourceId)] = true
		}
		if aws.ToString(out.NextToken) == "" {
			return s, nil
		}
		in.NextToken = out.NextToken
	}
}

// Holds says whether the stack has a resource of type typ with the given
// physical id (a secret's ARN, a role's or a cluster's name).
func (s Stack) Holds(typ, physicalID string) bool { return s.byType[typ][physicalID] }

// Refused is a request that names what its stack does not hold.
type Refused struct {
	Stack, What, Value string
}

func (r Refused) Error() string {
	return fmt.Sprintf("refused: stack %s holds no %s %s; the fleet's functions act only on the resources of the stack that asks (a forged request, or properties edited by hand)", r.Stack, r.What, r.Value)
}

// Require returns a Refused error for the first resource the stack does
// not hold, of pairs type, physical id.
func (s Stack) Require(what string, typ, physicalID string) error {
	if !s.Holds(typ, physicalID) {
		return Refused{Stack: s.Name, What: what, Value: physicalID}
	}
	return nil
}
