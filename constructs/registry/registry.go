// Package registry is the worker's ECR repository: scanned on push,
// immutable tags, KMS-encrypted, and a lifecycle rule that keeps the newest
// tagged images (one image index per commit). The untagged per-platform
// images an index references are counted by no rule and expired by none:
// expiring them by age could take a platform away from an image still
// deployed. The repository carries the stack tag the pipeline's image step
// is limited to.
//
// Its construct is the repository itself (id is the repository's, no scope
// of its own): the regional stack passes the first version's id.
package registry

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Props configure the repository.
type Props struct {
	// MaxImages is how many tagged images the lifecycle rule keeps: the
	// rollback depth. Default: 20. Allowed: 1..10000.
	MaxImages int
}

func (p Props) withDefaults() Props {
	if p.MaxImages == 0 {
		p.MaxImages = 20
	}
	return p
}

func (p Props) validate() error {
	if p.MaxImages < 1 || p.MaxImages > 10000 {
		return fmt.Errorf("registry: MaxImages is %d: must be from 1 to 10000", p.MaxImages)
	}
	return nil
}

// Registry is the repository.
type Registry struct {
	constructs.Construct
	repo awsecr.Repository
}

// Repository is the ECR repository.
func (r *Registry) Repository() awsecr.Repository { return r.repo }

// New makes the repository.
func New(scope constructs.Construct, id string, props Props) (*Registry, error) {
	props = props.withDefaults()
	if err := props.validate(); err != nil {
		return nil, err
	}
	repo := awsecr.NewRepository(scope, jsii.String(id), &awsecr.RepositoryProps{
		ImageScanOnPush:    jsii.Bool(true),
		ImageTagMutability: awsecr.TagMutability_IMMUTABLE,
		Encryption:         awsecr.RepositoryEncryption_KMS(),
		LifecycleRules: &[]*awsecr.LifecycleRule{
			{Description: jsii.String("keep the newest tagged images (one per commit)"), TagStatus: awsecr.TagStatus_TAGGED, TagPatternList: jsii.Strings("*"),
				MaxImageCount: jsii.Number(float64(props.MaxImages)), RulePriority: jsii.Number(1)},
		},
	})
	// The pipeline's image step may push only to a repository with this tag.
	awscdk.Tags_Of(repo).Add(jsii.String(stackscontract.StackTagKey), awscdk.Stack_Of(scope).StackName(), nil)
	return &Registry{Construct: repo, repo: repo}, nil
}
