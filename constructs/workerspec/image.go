package workerspec

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"
)

// Dockerfile of the worker, relative to the repository root (the build context).
const Dockerfile = "worker/Dockerfile"

// ImageSource says where the worker image comes from; at most one of Tag and
// URI is set.
type ImageSource struct {
	// Tag of an image in the stack's own ECR repository (the pipeline path:
	// `make image-push` pushes a multi-arch manifest there).
	Tag string
	// URI of any image (a public registry, another account's ECR).
	URI string
	// RepoRoot is the build context of the image asset used when neither Tag
	// nor URI is set: the worker's Dockerfile is then built by `cdk deploy`
	// (Docker needed at deploy time only, never at synth) for linux/amd64.
	RepoRoot string
}

// AssetContext keeps the asset's build context to what the Dockerfile copies
// (the lines of worker/Dockerfile.dockerignore: go.mod, go.sum, the worker
// and the packages of this module it links), so neither node_modules nor
// cdk.out is staged and the hash changes only when the worker does.
var AssetContext = []string{"*", "!go.mod", "!go.sum", "!worker", "!constructs/workerspec/contract",
	"worker/*_test.go", "constructs/workerspec/contract/*_test.go"}

// ContainerImage resolves the source against the regional repository.
func (s ImageSource) ContainerImage(repo awsecr.IRepository) awsecs.ContainerImage {
	switch {
	case s.Tag != "":
		return awsecs.ContainerImage_FromEcrRepository(repo, jsii.String(s.Tag))
	case s.URI != "":
		return awsecs.ContainerImage_FromRegistry(jsii.String(s.URI), nil)
	default:
		return awsecs.ContainerImage_FromAsset(jsii.String(s.RepoRoot), &awsecs.AssetImageProps{
			File:       jsii.String(Dockerfile),
			Platform:   awsecrassets.Platform_LINUX_AMD64(),
			Exclude:    jsii.Strings(AssetContext...),
			IgnoreMode: awscdk.IgnoreMode_DOCKER,
		})
	}
}
