package siteagent

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecs-anywhere-stretched/stretched/internal/ssmact"
)

// ECSAPI is what the watcher calls of ECS.
type ECSAPI interface {
	ListContainerInstances(context.Context, *ecs.ListContainerInstancesInput, ...func(*ecs.Options)) (*ecs.ListContainerInstancesOutput, error)
	DescribeContainerInstances(context.Context, *ecs.DescribeContainerInstancesInput, ...func(*ecs.Options)) (*ecs.DescribeContainerInstancesOutput, error)
}

// Counts are a cluster's registered nodes by agent connection.
type Counts struct {
	Connected, Disconnected int
}

// Count lists every container instance of cluster (registered ones:
// ACTIVE and DRAINING) and counts them.
func Count(ctx context.Context, api ECSAPI, cluster string) (Counts, error) {
	var arns []string
	pages := ecs.NewListContainerInstancesPaginator(api, &ecs.ListContainerInstancesInput{Cluster: aws.String(cluster), MaxResults: aws.Int32(100)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return Counts{}, fmt.Errorf("list the container instances of cluster %s: %w", cluster, ssmact.Explain(err))
		}
		arns = append(arns, page.ContainerInstanceArns...)
	}
	var c Counts
	for len(arns) > 0 {
		batch := arns[:min(len(arns), 100)]
		arns = arns[len(batch):]
		out, err := api.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(cluster), ContainerInstances: batch})
		if err != nil {
			return Counts{}, fmt.Errorf("describe the container instances of cluster %s: %w", cluster, ssmact.Explain(err))
		}
		for _, ci := range out.ContainerInstances {
			if ci.AgentConnected {
				c.Connected++
			} else {
				c.Disconnected++
			}
		}
	}
	return c, nil
}
