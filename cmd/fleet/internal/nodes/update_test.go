package nodes

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// cluster is ECS and Run Command as a rollout sees them, in memory: a
// node's agent reports the version its update installed once it is ACTIVE
// again (moto's agents never change version: cmd/fleet's test covers that
// side).
type cluster struct {
	mu        sync.Mutex
	instances map[string]*ecstypes.ContainerInstance // by ARN
	installs  map[string]string                      // managed instance → version its update installs
	sent      []string
}

func (c *cluster) ListContainerInstances(context.Context, *ecs.ListContainerInstancesInput, ...func(*ecs.Options)) (*ecs.ListContainerInstancesOutput, error) {
	panic("not used")
}

func (c *cluster) DescribeContainerInstances(_ context.Context, in *ecs.DescribeContainerInstancesInput, _ ...func(*ecs.Options)) (*ecs.DescribeContainerInstancesOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &ecs.DescribeContainerInstancesOutput{}
	for _, arn := range in.ContainerInstances {
		if ci := c.instances[arn]; ci != nil {
			cp := *ci
			out.ContainerInstances = append(out.ContainerInstances, cp)
		}
	}
	return out, nil
}

func (c *cluster) UpdateContainerInstancesState(_ context.Context, in *ecs.UpdateContainerInstancesStateInput, _ ...func(*ecs.Options)) (*ecs.UpdateContainerInstancesStateOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, arn := range in.ContainerInstances {
		ci := c.instances[arn]
		ci.Status = aws.String(string(in.Status))
		if v := c.installs[aws.ToString(ci.Ec2InstanceId)]; v != "" && in.Status == ecstypes.ContainerInstanceStatusActive {
			ci.VersionInfo = &ecstypes.VersionInfo{AgentVersion: aws.String(v)}
		}
	}
	return &ecs.UpdateContainerInstancesStateOutput{}, nil
}

func (c *cluster) DeregisterContainerInstance(context.Context, *ecs.DeregisterContainerInstanceInput, ...func(*ecs.Options)) (*ecs.DeregisterContainerInstanceOutput, error) {
	panic("not used")
}

func (c *cluster) SendCommand(_ context.Context, in *ssm.SendCommandInput, _ ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, in.InstanceIds...)
	return &ssm.SendCommandOutput{Command: &ssmtypes.Command{CommandId: aws.String("cmd-1")}}, nil
}

func (c *cluster) GetCommandInvocation(context.Context, *ssm.GetCommandInvocationInput, ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	return &ssm.GetCommandInvocationOutput{Status: ssmtypes.CommandInvocationStatusSuccess}, nil
}

func newCluster(versions map[string]string) (*cluster, []Node) {
	c := &cluster{instances: map[string]*ecstypes.ContainerInstance{}, installs: map[string]string{}}
	var list []Node
	for _, mi := range []string{"mi-0000000000000000a", "mi-0000000000000000b", "mi-0000000000000000c"} {
		arn := "arn:aws:ecs:eu-west-1:123456789012:container-instance/site/" + strings.Repeat(mi[len(mi)-1:], 32)
		c.instances[arn] = &ecstypes.ContainerInstance{ContainerInstanceArn: aws.String(arn), Ec2InstanceId: aws.String(mi), AgentConnected: true,
			Status: aws.String("ACTIVE"), VersionInfo: &ecstypes.VersionInfo{AgentVersion: aws.String(versions[mi])}}
		list = append(list, Node{Name: "host-" + mi[len(mi)-1:], ManagedInstance: mi, ContainerInstance: arn, ECSStatus: "ACTIVE", Connected: true, ECSAgent: versions[mi]})
	}
	return c, list
}

// Nodes below the target are updated one at a time and their new version
// read back; a node already at the target is skipped and sent nothing.
func TestUpdateAgentsUpdatesOnlyNodesBelowTheTarget(t *testing.T) {
	c, list := newCluster(map[string]string{"mi-0000000000000000a": "1.86.0", "mi-0000000000000000b": "1.89.1", "mi-0000000000000000c": "1.70.0"})
	c.installs["mi-0000000000000000a"], c.installs["mi-0000000000000000c"] = "1.89.1", "1.89.2"
	var said []string
	say := func(f string, a ...any) {
		said = append(said, strings.TrimSpace(strings.ReplaceAll(sprintf(f, a...), "\n", " ")))
	}
	err := UpdateAgents(context.Background(), c, c, Site{Name: "site", Cluster: "site"}, "eu-west-1", list, "1.89.1", time.Second, time.Millisecond, say)
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(said, "\n"))
	}
	text := strings.Join(said, "\n")
	for _, w := range []string{"node host-a is ACTIVE and connected, ECS agent 1.86.0 → 1.89.1", "node host-b (mi-0000000000000000b) skipped: ECS agent 1.89.1 is current",
		"node host-c is ACTIVE and connected, ECS agent 1.70.0 → 1.89.2", "2 node(s) of site site updated to 1.89.1 or newer"} {
		if !strings.Contains(text, w) {
			t.Errorf("the rollout does not say %q:\n%s", w, text)
		}
	}
	if strings.Join(c.sent, " ") != "mi-0000000000000000a mi-0000000000000000c" {
		t.Errorf("updates sent to %v, want the two nodes below the target", c.sent)
	}
}

// An update that leaves the agent below the target stops the rollout with
// the node ACTIVE, and says both versions.
func TestUpdateAgentsFailsBelowTheTarget(t *testing.T) {
	c, list := newCluster(map[string]string{"mi-0000000000000000a": "1.80.0", "mi-0000000000000000b": "1.80.0", "mi-0000000000000000c": "1.80.0"})
	c.installs["mi-0000000000000000a"] = "1.85.0"
	err := UpdateAgents(context.Background(), c, c, Site{Name: "site", Cluster: "site"}, "eu-west-1", list, "1.89.1", time.Second, time.Millisecond, func(string, ...any) {})
	if err == nil || !strings.Contains(err.Error(), "went from 1.80.0 to 1.85.0, below 1.89.1; it is ACTIVE") || len(c.sent) != 1 {
		t.Errorf("err %v, sent %v", err, c.sent)
	}
	if s := aws.ToString(c.instances[list[0].ContainerInstance].Status); s != "ACTIVE" {
		t.Errorf("the node is %s", s)
	}
}

func TestTarget(t *testing.T) {
	for _, tc := range []struct{ version, recommended, want, err string }{
		{"", `{"ecs_agent_version":"1.89.1","image_id":"ami-1"}`, "1.89.1", ""},
		{"1.90.0", "", "1.90.0", ""},
		{"1.50.0", "", "", "older than 1.86.0"},
		{"", `{"image_id":"ami-1"}`, "", "holds no ecs_agent_version"},
		{"latest", "", "", `--ecs-version is "latest"`},
	} {
		got, err := Target(tc.version, tc.recommended)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("Target(%q, %q) = %q, %v; want %q, %q", tc.version, tc.recommended, got, err, tc.want, tc.err)
		}
	}
}

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }
