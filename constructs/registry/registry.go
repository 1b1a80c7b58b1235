// Package registry is the worker's ECR repository: scanned on push,
// immutable tags, KMS-encrypted, and a lifecycle rule that keeps the newest
// tagged images (one image index per commit). The untagged per-platform
// images an index references are counted by no rule and expired by none:
// expiring them by age could take a platform away from an image still
// deployed. The repository carries the stack tag the pipeline's image step
// is limited to.
//
// The repository is added to scope as "Repository", the id the first
// version gave it: construct ids are API.
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

// New adds the repository to scope.
func New(scope constructs.Construct, props Props) (awsecr.Repository, error) {
	if props.MaxImages == 0 {
		props.MaxImages = 20
	}
	if props.MaxImages < 1 || props.MaxImages > 10000 {
		return nil, fmt.Errorf("registry: MaxImages is %d: must be from 1 to 10000", props.MaxImages)
	}
	repo := awsecr.NewRepository(scope, jsii.String("Repository"), &awsecr.RepositoryProps{
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
	return repo, nil
}
