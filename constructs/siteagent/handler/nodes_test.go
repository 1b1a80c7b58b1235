package handler

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecs-anywhere-stretched/stretched/testkit/fakeaws"
)

func TestCountsConnectedAndDisconnectedOverSeveralPages(t *testing.T) {
	f := fakeaws.New(t)
	f.PageSize = 40
	const cluster = "ecsAnywhereCluster"
	for i := range 130 {
		arn := fmt.Sprintf("arn:aws:ecs:eu-west-1:123456789012:container-instance/%s/%032x", cluster, i+1)
		f.ContainerInstances[cluster] = append(f.ContainerInstances[cluster], arn)
		if i%10 == 0 {
			f.Disconnected[arn] = true
		}
	}
	f.On(fakeaws.DescribeContainerInstances, fakeaws.Throttling)
	c, err := Count(context.Background(), ecs.NewFromConfig(f.Config()), cluster)
	if err != nil {
		t.Fatal(err)
	}
	if c != (Counts{Connected: 117, Disconnected: 13}) {
		t.Errorf("counts %+v, want 117 connected and 13 disconnected", c)
	}
	for _, call := range f.Calls(fakeaws.DescribeContainerInstances) {
		if n := len(call["containerInstances"].([]any)); n > 100 {
			t.Errorf("DescribeContainerInstances takes at most 100 instances, sent %d", n)
		}
	}
}

func TestMissingClusterIsAnError(t *testing.T) {
	f := fakeaws.New(t)
	if _, err := Count(context.Background(), ecs.NewFromConfig(f.Config()), "gone"); err == nil {
		t.Fatal("a missing cluster must be reported")
	}
}
