package handler

import (
	"context"

	"github.com/ecs-anywhere-stretched/stretched/internal/awserr"
	"github.com/ecs-anywhere-stretched/stretched/internal/ecsnodes"
)

// ECSAPI is what the agent calls of ECS to count nodes.
type ECSAPI = ecsnodes.API

// Counts are a cluster's registered nodes by agent connection.
type Counts struct {
	Connected, Disconnected int
}

// Count lists every container instance of cluster (registered ones:
// ACTIVE and DRAINING) and counts them.
func Count(ctx context.Context, api ECSAPI, cluster string) (Counts, error) {
	instances, err := ecsnodes.Describe(ctx, api, cluster, awserr.Explain)
	if err != nil {
		return Counts{}, err
	}
	var c Counts
	for _, ci := range instances {
		if ci.AgentConnected {
			c.Connected++
		} else {
			c.Disconnected++
		}
	}
	return c, nil
}
