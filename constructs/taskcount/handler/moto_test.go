package handler

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecs-anywhere-stretched/stretched/testkit/sqspeer"
)

// TestCurrentAgainstMoto reads the count through moto_server's ECS, a real
// implementation of ListServices and DescribeServices (ARNs, pages, status).
func TestCurrentAgainstMoto(t *testing.T) {
	m := sqspeer.StartMoto(t)
	api := ecs.NewFromConfig(m.Config())
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(api.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}))
	if n, name, err := Current(ctx, api, cluster, family); err != nil || n != 0 || name != "" {
		t.Fatalf("empty cluster: %d %q %v, want 0", n, name, err)
	}
	for _, f := range []string{family, "other"} {
		must(api.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
			Family:               aws.String(f),
			ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("worker"), Image: aws.String("worker:1"), Memory: aws.Int32(512)}},
		}))
	}
	for _, s := range []struct {
		name, td string
		count    int32
	}{{"other-1", "other", 5}, {"worker", family, 2}, {"other-2", "other", 9}} {
		must(api.CreateService(ctx, &ecs.CreateServiceInput{
			Cluster: aws.String(cluster), ServiceName: aws.String(s.name), TaskDefinition: aws.String(s.td), DesiredCount: aws.Int32(s.count),
		}))
	}
	n, name, err := Current(ctx, api, cluster, family)
	if err != nil || n != 2 || name != "worker" {
		t.Fatalf("Current = %d %q %v, want 2 worker", n, name, err)
	}
}
