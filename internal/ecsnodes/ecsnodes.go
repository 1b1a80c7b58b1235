// Package ecsnodes lists a cluster's container instances: every ARN first
// (paginated), then, when asked, their descriptions a hundred at a time (the
// most DescribeContainerInstances takes). The site agent, the node
// deregistration and the status command use it.
package ecsnodes

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// ListAPI lists container instances; *ecs.Client satisfies it.
type ListAPI interface {
	ListContainerInstances(context.Context, *ecs.ListContainerInstancesInput, ...func(*ecs.Options)) (*ecs.ListContainerInstancesOutput, error)
}

// API lists and describes container instances.
type API interface {
	ListAPI
	DescribeContainerInstances(context.Context, *ecs.DescribeContainerInstancesInput, ...func(*ecs.Options)) (*ecs.DescribeContainerInstancesOutput, error)
}

// ARNs lists every container instance of cluster. explain turns an SDK
// error into one a person can act on; the error names the cluster and
// wraps the SDK's (errors.As finds it).
func ARNs(ctx context.Context, api ListAPI, cluster string, explain func(error) error) ([]string, error) {
	var arns []string
	pages := ecs.NewListContainerInstancesPaginator(api, &ecs.ListContainerInstancesInput{Cluster: aws.String(cluster), MaxResults: aws.Int32(100)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the container instances of cluster %s: %w", cluster, explain(err))
		}
		arns = append(arns, page.ContainerInstanceArns...)
	}
	return arns, nil
}

// Describe lists and describes every container instance of cluster.
func Describe(ctx context.Context, api API, cluster string, explain func(error) error) ([]types.ContainerInstance, error) {
	arns, err := ARNs(ctx, api, cluster, explain)
	if err != nil {
		return nil, err
	}
	var out []types.ContainerInstance
	for len(arns) > 0 {
		batch := arns[:min(len(arns), 100)]
		arns = arns[len(batch):]
		d, err := api.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(cluster), ContainerInstances: batch})
		if err != nil {
			return nil, fmt.Errorf("describe the container instances of cluster %s: %w", cluster, explain(err))
		}
		out = append(out, d.ContainerInstances...)
	}
	return out, nil
}
