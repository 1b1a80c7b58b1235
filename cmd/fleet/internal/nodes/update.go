package nodes

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	activationcontract "github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	fleetmanagercontract "github.com/ecs-anywhere-stretched/stretched/constructs/fleetmanager/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/awserr"
)

// Commands is what updating the agents calls of SSM Run Command; *ssm.Client
// satisfies it.
type Commands interface {
	SendCommand(context.Context, *ssm.SendCommandInput, ...func(*ssm.Options)) (*ssm.SendCommandOutput, error)
	GetCommandInvocation(context.Context, *ssm.GetCommandInvocationInput, ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error)
}

// UpdateAgents updates the ECS agent of every connected node of a site
// below target, one node at a time: drained first (bounded by wait), the
// update run through SSM Run Command and awaited, the node made ACTIVE
// again and awaited connected, then its version read again. A node at
// target or newer is current and skipped; one not connected or not in the
// cluster is skipped; each is said. The first failure stops the rollout,
// the node ACTIVE again unless the update itself failed (then DRAINING, as
// said): a version that did not change, or is still below target or the
// site's minimum (fleetmanagercontract.MinECSAgent), is a failure.
func UpdateAgents(ctx context.Context, e ECS, c Commands, s Site, region string, all []Node, target string, wait, poll time.Duration, say func(string, ...any)) error {
	updated := 0
	stopped := func(err error) error { return fmt.Errorf("%w; the rollout stopped after %d node(s)", err, updated) }
	for _, n := range all {
		if n.ContainerInstance == "" || !n.Connected {
			say("node %s (%s) skipped: not connected to cluster %s", n.Name, n.ManagedInstance, s.Cluster)
			continue
		}
		if n.ECSAgent != "" && !fleetmanagercontract.Older(n.ECSAgent, target) {
			say("node %s (%s) skipped: ECS agent %s is current (%s or newer)", n.Name, n.ManagedInstance, n.ECSAgent, target)
			continue
		}
		if _, err := Drain(ctx, e, s, n, wait, poll, say); err != nil {
			if aerr := setActive(ctx, e, s, n); aerr != nil {
				return stopped(fmt.Errorf("%w; and making it ACTIVE again: %w: it stays DRAINING (aws ecs update-container-instances-state --status ACTIVE)", err, aerr))
			}
			return stopped(fmt.Errorf("%w; it is ACTIVE again, not updated", err))
		}
		out, err := c.SendCommand(ctx, &ssm.SendCommandInput{
			DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{n.ManagedInstance},
			Parameters:     map[string][]string{"commands": {fleetmanagercontract.UpdateScript(region)}},
			TimeoutSeconds: aws.Int32(600), Comment: aws.String("fleet node update-agents: ecs-init for site " + s.Name),
		})
		if err != nil {
			return stopped(fmt.Errorf("send the update to node %s: %w; it stays DRAINING (fleet node update-agents again, or make it ACTIVE)", n.Name, awserr.Explain(err)))
		}
		id := aws.ToString(out.Command.CommandId)
		status, detail, err := awaitCommand(ctx, c, id, n.ManagedInstance, commandTimeout, poll)
		if err != nil || status != ssmtypes.CommandInvocationStatusSuccess {
			return stopped(fmt.Errorf("the update on node %s ended %s (command %s: %s%v); it stays DRAINING: look at the machine, then fleet node update-agents again or make it ACTIVE", n.Name, status, id, detail, errOrEmpty(err)))
		}
		say("node %s: ecs-init package installed (command %s)", n.Name, id)
		if err := setActive(ctx, e, s, n); err != nil {
			return stopped(fmt.Errorf("make node %s ACTIVE again: %w: it stays DRAINING", n.Name, err))
		}
		version, err := awaitConnected(ctx, e, s, n, wait, poll)
		if err != nil {
			return stopped(fmt.Errorf("node %s after its update: %w; it is ACTIVE", n.Name, err))
		}
		switch {
		case version == n.ECSAgent:
			return stopped(fmt.Errorf("node %s's ECS agent is still %s after the update: the package did not change it (the region's latest ecs-init may be this version; look at the command's output: aws ssm get-command-invocation --command-id %s --instance-id %s); it is ACTIVE", n.Name, version, id, n.ManagedInstance))
		case fleetmanagercontract.Older(version, target):
			return stopped(fmt.Errorf("node %s's ECS agent went from %s to %s, below %s; it is ACTIVE", n.Name, cmp.Or(n.ECSAgent, "?"), version, target))
		}
		say("node %s is ACTIVE and connected, ECS agent %s → %s", n.Name, cmp.Or(n.ECSAgent, "?"), version)
		updated++
	}
	say("%d node(s) of site %s updated to %s or newer", updated, s.Name, target)
	return nil
}

// commandTimeout bounds the wait for the update command: its own timeout
// (TimeoutSeconds) and a minute for SSM to report it.
const commandTimeout = 11 * time.Minute

// Target is the version update-agents brings the nodes to: version when
// given (refused below the site's minimum), else AWS's recommended ECS
// agent version, read from recommended (the ECS-optimized AMI's public
// parameter's JSON value, fetched by the caller).
func Target(version, recommended string) (string, error) {
	if version != "" {
		if !semver.MatchString(version) {
			return "", fmt.Errorf("--ecs-version is %q: give one like 1.89.1", version)
		}
		if fleetmanagercontract.Older(version, fleetmanagercontract.MinECSAgent) {
			return "", fmt.Errorf("--ecs-version %s is older than %s, the oldest ECS agent that runs the site's container restart policy: give %s or newer", version, fleetmanagercontract.MinECSAgent, fleetmanagercontract.MinECSAgent)
		}
		return version, nil
	}
	var p struct {
		Version string `json:"ecs_agent_version"`
	}
	if err := json.Unmarshal([]byte(recommended), &p); err != nil || !semver.MatchString(p.Version) {
		return "", fmt.Errorf("parameter %s holds no ecs_agent_version (%q): give --ecs-version", RecommendedParameter, recommended)
	}
	return p.Version, nil
}

// RecommendedParameter is AWS's public parameter naming the ECS-optimized
// AMI's current ECS agent version (its JSON value's ecs_agent_version); the
// site's NodeOperatorPolicy may read it.
const RecommendedParameter = activationcontract.RecommendedAgentParameter

var semver = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return "; " + err.Error()
}

// setActive makes n ACTIVE again, with a deadline of its own: it runs
// after a wait that may have used the command's.
func setActive(ctx context.Context, e ECS, s Site, n Node) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	out, err := e.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
		Cluster: aws.String(s.Cluster), ContainerInstances: []string{n.ContainerInstance}, Status: ecstypes.ContainerInstanceStatusActive,
	})
	if err == nil && len(out.Failures) > 0 {
		err = fmt.Errorf("%s: %s", aws.ToString(out.Failures[0].Reason), aws.ToString(out.Failures[0].Detail))
	}
	return awserr.Explain(err)
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
