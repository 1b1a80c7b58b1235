package nodes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	fleetmanagercontract "github.com/ecs-anywhere-stretched/stretched/constructs/fleetmanager/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/awserr"
)

// Commands is what updating the agents calls of SSM Run Command; *ssm.Client
// satisfies it.
type Commands interface {
	SendCommand(context.Context, *ssm.SendCommandInput, ...func(*ssm.Options)) (*ssm.SendCommandOutput, error)
	GetCommandInvocation(context.Context, *ssm.GetCommandInvocationInput, ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error)
}

// UpdateAgents updates the ECS agent of every connected node of a site, one
// node at a time: drained first (bounded by wait), the update run through
// SSM Run Command and awaited, the node made ACTIVE again and awaited
// connected. A node that is not connected or not in the cluster is
// skipped and said; the first failure stops the rollout, leaving the node
// as it says.
func UpdateAgents(ctx context.Context, e ECS, c Commands, s Site, region string, all []Node, wait, poll time.Duration, say func(string, ...any)) error {
	updated := 0
	for _, n := range all {
		if n.ContainerInstance == "" || !n.Connected {
			say("node %s (%s) skipped: not connected to cluster %s", n.Name, n.ManagedInstance, s.Cluster)
			continue
		}
		if _, err := Drain(ctx, e, s, n, wait, poll, say); err != nil {
			if _, aerr := setActive(ctx, e, s, n); aerr != nil {
				return fmt.Errorf("%w; and making it ACTIVE again: %w (aws ecs update-container-instances-state --status ACTIVE)", err, aerr)
			}
			return fmt.Errorf("%w; it is ACTIVE again; the rollout stopped after %d node(s)", err, updated)
		}
		out, err := c.SendCommand(ctx, &ssm.SendCommandInput{
			DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{n.ManagedInstance},
			Parameters:     map[string][]string{"commands": {fleetmanagercontract.UpdateScript(region)}},
			TimeoutSeconds: aws.Int32(600), Comment: aws.String("fleet node update-agents: ecs-init for site " + s.Name),
		})
		if err != nil {
			return fmt.Errorf("send the update to node %s: %w; it stays DRAINING (fleet node update-agents again, or make it ACTIVE)", n.Name, awserr.Explain(err))
		}
		id := aws.ToString(out.Command.CommandId)
		status, detail, err := awaitCommand(ctx, c, id, n.ManagedInstance, wait, poll)
		if err != nil || status != ssmtypes.CommandInvocationStatusSuccess {
			return fmt.Errorf("the update on node %s ended %s (command %s: %s%v); it stays DRAINING", n.Name, status, id, detail, errOrEmpty(err))
		}
		say("node %s: ECS agent updated (command %s)", n.Name, id)
		if _, err := setActive(ctx, e, s, n); err != nil {
			return fmt.Errorf("make node %s ACTIVE again: %w", n.Name, err)
		}
		version, err := awaitConnected(ctx, e, s, n, wait, poll)
		if err != nil {
			return fmt.Errorf("node %s after its update: %w", n.Name, err)
		}
		say("node %s is ACTIVE and connected, ECS agent %s", n.Name, version)
		updated++
	}
	say("%d node(s) of site %s updated", updated, s.Name)
	return nil
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return "; " + err.Error()
}

func setActive(ctx context.Context, e ECS, s Site, n Node) (*ecs.UpdateContainerInstancesStateOutput, error) {
	out, err := e.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
		Cluster: aws.String(s.Cluster), ContainerInstances: []string{n.ContainerInstance}, Status: ecstypes.ContainerInstanceStatusActive,
	})
	if err != nil {
		return nil, awserr.Explain(err)
	}
	return out, nil
}

// awaitCommand waits for a Run Command invocation to end.
func awaitCommand(ctx context.Context, c Commands, id, instance string, wait, poll time.Duration) (status ssmtypes.CommandInvocationStatus, detail string, err error) {
	timedOut, err := until(ctx, wait, poll, func() (bool, error) {
		out, err := c.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: aws.String(id), InstanceId: aws.String(instance)})
		var invErr *ssmtypes.InvocationDoesNotExist
		switch {
		case errors.As(err, &invErr):
			return false, nil // not there yet
		case err != nil:
			return false, awserr.Explain(err)
		}
		switch out.Status {
		case ssmtypes.CommandInvocationStatusPending, ssmtypes.CommandInvocationStatusInProgress, ssmtypes.CommandInvocationStatusDelayed:
			return false, nil
		}
		status, detail = out.Status, lastLine(aws.ToString(out.StandardErrorContent)+aws.ToString(out.StandardOutputContent))
		return true, nil
	})
	if timedOut {
		return "InProgress", "", fmt.Errorf("still running after %s", wait)
	}
	return status, detail, err
}

// awaitConnected waits until the node's ECS agent is connected again and
// returns its version.
func awaitConnected(ctx context.Context, e ECS, s Site, n Node, wait, poll time.Duration) (version string, err error) {
	timedOut, err := until(ctx, wait, poll, func() (bool, error) {
		ci, found, err := describe(ctx, e, s, n)
		if err != nil || !found || !ci.AgentConnected {
			return false, err
		}
		version = "?"
		if ci.VersionInfo != nil {
			version = aws.ToString(ci.VersionInfo.AgentVersion)
		}
		return true, nil
	})
	if timedOut {
		return "", fmt.Errorf("its ECS agent is not connected %s after the update: look at the machine (journalctl -u ecs)", wait)
	}
	return version, err
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}
