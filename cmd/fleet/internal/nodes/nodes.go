package nodes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	fleetmanagercontract "github.com/ecs-anywhere-stretched/stretched/constructs/fleetmanager/contract"
	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/awserr"
	"github.com/ecs-anywhere-stretched/stretched/internal/ecsnodes"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// ECS is what fleet node calls of ECS; *ecs.Client satisfies it.
type ECS interface {
	ecs.ListContainerInstancesAPIClient
	DescribeContainerInstances(context.Context, *ecs.DescribeContainerInstancesInput, ...func(*ecs.Options)) (*ecs.DescribeContainerInstancesOutput, error)
	UpdateContainerInstancesState(context.Context, *ecs.UpdateContainerInstancesStateInput, ...func(*ecs.Options)) (*ecs.UpdateContainerInstancesStateOutput, error)
	DeregisterContainerInstance(context.Context, *ecs.DeregisterContainerInstanceInput, ...func(*ecs.Options)) (*ecs.DeregisterContainerInstanceOutput, error)
}

// Managed is what fleet node calls of SSM for managed instances; *ssm.Client
// satisfies it.
type Managed interface {
	ssm.DescribeInstanceInformationAPIClient
	DeregisterManagedInstance(context.Context, *ssm.DeregisterManagedInstanceInput, ...func(*ssm.Options)) (*ssm.DeregisterManagedInstanceOutput, error)
}

// Node is one machine of a site as ECS and SSM see it.
type Node struct {
	// Name is the machine's host name as its SSM Agent reports it; the
	// registration's name (every node of a batch shares the activation's
	// default name) when the agent has not reported one yet.
	Name string `json:"name"`
	// Registration is the name SSM registered the node under.
	Registration      string    `json:"registration,omitempty"`
	ManagedInstance   string    `json:"managedInstance"`
	ContainerInstance string    `json:"containerInstance,omitempty"`
	ECSStatus         string    `json:"ecsStatus,omitempty"`
	Connected         bool      `json:"connected"`
	ECSAgent          string    `json:"ecsAgent,omitempty"`
	SSMAgent          string    `json:"ssmAgent,omitempty"`
	SSMPing           string    `json:"ssmPing,omitempty"`
	RunningTasks      int       `json:"runningTasks"`
	PendingTasks      int       `json:"pendingTasks"`
	LastSeen          time.Time `json:"lastSeen,omitzero"`
	// Problems say what is wrong with the node: an agent below its
	// minimum, not connected, registered with only one of ECS and SSM.
	Problems []string `json:"problems,omitempty"`
}

// Site is where a site's nodes are.
type Site struct {
	Name, Cluster, Stack string
}

// SiteOf reads a site's cluster and stack from its directory entry.
func SiteOf(site string, entry map[string]any) (Site, error) {
	s := Site{Name: site}
	s.Cluster, _ = entry[siteagentcontract.DirCluster].(string)
	s.Stack, _ = entry[siteagentcontract.DirStack].(string)
	if s.Cluster == "" || s.Stack == "" {
		return s, fmt.Errorf("site %s's directory entry names no cluster or stack: deploy the site's stack of this version (make deploy), then run this again", site)
	}
	return s, nil
}

// List is every node of a site: its container instances (ECS) joined with
// its managed instances (SSM, by the site's stack tag), by managed
// instance id, sorted by name.
func List(ctx context.Context, e ECS, m Managed, s Site) ([]Node, error) {
	byID := map[string]*Node{}
	instances, err := ecsnodes.Describe(ctx, e, s.Cluster, awserr.Explain)
	if err != nil {
		return nil, err
	}
	for _, ci := range instances {
		n := &Node{ManagedInstance: aws.ToString(ci.Ec2InstanceId), ContainerInstance: aws.ToString(ci.ContainerInstanceArn),
			ECSStatus: aws.ToString(ci.Status), Connected: ci.AgentConnected, RunningTasks: int(ci.RunningTasksCount), PendingTasks: int(ci.PendingTasksCount)}
		if ci.VersionInfo != nil {
			n.ECSAgent = aws.ToString(ci.VersionInfo.AgentVersion)
		}
		byID[n.ManagedInstance] = n
	}
	info := ssm.NewDescribeInstanceInformationPaginator(m, &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("tag:" + stackscontract.StackTagKey), Values: []string{s.Stack}}},
	})
	for info.HasMorePages() {
		page, err := info.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe the managed instances of site %s: %w", s.Name, awserr.Explain(err))
		}
		for _, ii := range page.InstanceInformationList {
			id := aws.ToString(ii.InstanceId)
			n := byID[id]
			if n == nil {
				n = &Node{ManagedInstance: id}
				byID[id] = n
			}
			n.Registration = aws.ToString(ii.Name)
			n.Name = cmp.Or(aws.ToString(ii.ComputerName), n.Registration)
			n.SSMAgent, n.SSMPing = aws.ToString(ii.AgentVersion), string(ii.PingStatus)
			if ii.LastPingDateTime != nil {
				n.LastSeen = *ii.LastPingDateTime
			}
		}
	}
	out := make([]Node, 0, len(byID))
	for _, n := range byID {
		n.Name = cmp.Or(n.Name, n.ManagedInstance)
		n.Problems = problems(*n)
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name+out[i].ManagedInstance < out[j].Name+out[j].ManagedInstance })
	return out, nil
}

// problems are what is wrong with a node.
func problems(n Node) []string {
	var p []string
	switch {
	case n.ContainerInstance == "":
		p = append(p, "registered with SSM but not in the ECS cluster (ECS agent not started?)")
	case n.SSMAgent == "" && n.SSMPing == "":
		p = append(p, "in the ECS cluster but not among the site's managed instances")
	}
	if n.ContainerInstance != "" && !n.Connected {
		p = append(p, "ECS agent disconnected")
	}
	for _, problem := range []string{fleetmanagercontract.SSMAgentProblem(n.SSMAgent), fleetmanagercontract.ECSAgentProblem(n.ECSAgent)} {
		if problem != "" {
			p = append(p, problem)
		}
	}
	return p
}

// Find is the node ref names: its host name, its managed instance id, its
// container instance id or ARN, or (when only one node has it) the name it
// was registered under.
func Find(nodes []Node, site, ref string) (Node, error) {
	var found []Node
	for _, n := range nodes {
		if ref != "" && (n.ManagedInstance == ref || n.ContainerInstance == ref || strings.HasSuffix(n.ContainerInstance, "/"+ref) || n.Name == ref) {
			found = append(found, n)
		}
	}
	if len(found) == 0 {
		for _, n := range nodes {
			if ref != "" && n.Registration == ref {
				found = append(found, n)
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var known []string
		for _, n := range nodes {
			known = append(known, n.Name+" ("+n.ManagedInstance+")")
		}
		if len(known) == 0 {
			return Node{}, &NotFoundError{Site: site, Ref: ref}
		}
		return Node{}, &NotFoundError{Site: site, Ref: ref, Known: known}
	}
	var ids []string
	for _, n := range found {
		ids = append(ids, n.ManagedInstance)
	}
	return Node{}, fmt.Errorf("%d nodes of site %s are named %q (%s): give its managed instance id", len(found), site, ref, strings.Join(ids, ", "))
}

// NotFoundError is a node a site does not have.
type NotFoundError struct {
	Site, Ref string
	// Known are the site's nodes, as "host (mi-…)".
	Known []string
}

func (e *NotFoundError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("site %s has no node: nothing named %q", e.Site, e.Ref)
	}
	return fmt.Sprintf("site %s has no node %q: give a host name, managed instance id or container instance id of %s", e.Site, e.Ref, strings.Join(e.Known, ", "))
}

// IsID reports whether ref is a managed instance id or a container
// instance id or ARN, rather than a name: a node gone by its id is
// retired, a name not found may be a typo.
func IsID(ref string) bool {
	return instanceID.MatchString(ref) || strings.HasPrefix(ref, "arn:") || containerInstanceID.MatchString(ref)
}

var (
	// instanceID is a managed instance's (mi-…) or an EC2 instance's id.
	instanceID          = regexp.MustCompile(`^(mi|i)-[0-9a-f]{8,17}$`)
	containerInstanceID = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// Drain sets n DRAINING and waits, at most wait, polling every poll, until
// it runs no task. It returns the tasks it still ran when it gave up.
func Drain(ctx context.Context, e ECS, s Site, n Node, wait, poll time.Duration, say func(string, ...any)) (left int, err error) {
	if n.ContainerInstance == "" {
		return 0, fmt.Errorf("node %s (%s) is not in cluster %s: nothing to drain", n.Name, n.ManagedInstance, s.Cluster)
	}
	if n.ECSStatus != string(ecstypes.ContainerInstanceStatusDraining) {
		out, err := e.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
			Cluster: aws.String(s.Cluster), ContainerInstances: []string{n.ContainerInstance}, Status: ecstypes.ContainerInstanceStatusDraining,
		})
		if err == nil && len(out.Failures) > 0 {
			err = fmt.Errorf("%s: %s", aws.ToString(out.Failures[0].Reason), aws.ToString(out.Failures[0].Detail))
		}
		if err != nil {
			return n.RunningTasks, fmt.Errorf("set node %s DRAINING: %w", n.Name, awserr.Explain(err))
		}
		say("node %s (%s) is DRAINING: ECS stops its tasks and the service starts them on the site's other nodes", n.Name, n.ManagedInstance)
	}
	timedOut, err := until(ctx, wait, poll, func() (bool, error) {
		ci, found, err := describe(ctx, e, s, n)
		switch {
		case err != nil:
			left = -1
			return false, fmt.Errorf("read node %s while it drains: %w", n.Name, err)
		case !found:
			left = 0
			return false, errors.New("node " + n.Name + " left the cluster while it drained")
		}
		left = int(ci.RunningTasksCount + ci.PendingTasksCount)
		return left == 0, nil
	})
	switch {
	case err != nil:
		return left, err
	case timedOut:
		return left, &DrainTimeout{Node: n.Name, Left: left, Wait: wait}
	}
	say("node %s runs no task", n.Name)
	return 0, nil
}

// DrainTimeout is a drain that did not end within its wait; the node is
// still DRAINING when Drain returns it (its callers say what they leave).
type DrainTimeout struct {
	Node string
	Left int
	Wait time.Duration
}

func (e *DrainTimeout) Error() string {
	return fmt.Sprintf("node %s still runs %d task(s) after %s (ECS moves tasks only where another node has room; is one connected?)", e.Node, e.Left, e.Wait)
}

// describe reads one node's container instance; found is false when it is
// no longer in the cluster.
func describe(ctx context.Context, e ECS, s Site, n Node) (ci ecstypes.ContainerInstance, found bool, err error) {
	out, err := e.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String(s.Cluster), ContainerInstances: []string{n.ContainerInstance}})
	if err != nil {
		return ci, false, awserr.Explain(err)
	}
	if len(out.ContainerInstances) == 0 {
		return ci, false, nil
	}
	return out.ContainerInstances[0], true, nil
}

// until calls check every poll until it is done or fails, or wait has
// passed (timedOut), or ctx ends.
func until(ctx context.Context, wait, poll time.Duration, check func() (done bool, err error)) (timedOut bool, err error) {
	deadline := time.Now().Add(wait)
	for {
		done, err := check()
		if err != nil || done {
			return false, err
		}
		if time.Now().After(deadline) {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// Retire drains n, then deregisters its container instance and its managed
// instance. It refuses to retire the last connected ACTIVE node while n
// runs tasks (the site would stop working) unless force. Each step it did
// is said; an error says what is left.
func Retire(ctx context.Context, e ECS, m Managed, s Site, all []Node, n Node, force bool, wait, poll time.Duration, say func(string, ...any)) error {
	others := 0
	for _, o := range all {
		if o.ManagedInstance != n.ManagedInstance && o.Connected && o.ECSStatus == string(ecstypes.ContainerInstanceStatusActive) {
			others++
		}
	}
	if n.RunningTasks > 0 && others == 0 && !force {
		return fmt.Errorf("node %s runs %d task(s) and site %s has no other connected ACTIVE node to take them: retiring it stops the site's work; join another node first, or give --force", n.Name, n.RunningTasks, s.Name)
	}
	if n.ContainerInstance != "" {
		left, err := Drain(ctx, e, s, n, wait, poll, say)
		if err != nil && !force {
			return fmt.Errorf("%w; it stays DRAINING, nothing deregistered: run this again, or give --force", err)
		}
		if err != nil {
			say("--force: deregistering with %d task(s) still on it", left)
		}
		if _, err := e.DeregisterContainerInstance(ctx, &ecs.DeregisterContainerInstanceInput{
			Cluster: aws.String(s.Cluster), ContainerInstance: aws.String(n.ContainerInstance), Force: aws.Bool(force),
		}); err != nil {
			return fmt.Errorf("deregister node %s from cluster %s: %w; it is DRAINING, still registered with ECS and SSM", n.Name, s.Cluster, awserr.Explain(err))
		}
		say("node %s deregistered from cluster %s", n.Name, s.Cluster)
	}
	_, err := m.DeregisterManagedInstance(ctx, &ssm.DeregisterManagedInstanceInput{InstanceId: aws.String(n.ManagedInstance)})
	var gone *ssmtypes.InvalidInstanceId
	switch {
	case errors.As(err, &gone):
		say("managed instance %s was already gone from SSM", n.ManagedInstance)
		return nil
	case awserr.Denied(err) && n.SSMAgent == "" && n.SSMPing == "":
		// Not among the site's managed instances: it carries no stack tag
		// (it joined before activations were tagged), and the node
		// operator policy deregisters only tagged ones.
		return fmt.Errorf("deregister managed instance %s: access denied: it is not tagged %s=%s (it joined before the site's activations were tagged), and the site's NodeOperatorPolicy deregisters only its tagged nodes; an administrator tags it (aws ssm add-tags-to-resource --resource-type ManagedInstance --resource-id %s --tags Key=%s,Value=%s), then run this again: %w",
			n.ManagedInstance, stackscontract.StackTagKey, s.Stack, n.ManagedInstance, stackscontract.StackTagKey, s.Stack, err)
	case err != nil:
		return fmt.Errorf("deregister managed instance %s: %w; it is out of the ECS cluster, still registered with SSM (run this again)", n.ManagedInstance, awserr.Explain(err))
	}
	say("managed instance %s deregistered from SSM", n.ManagedInstance)
	return nil
}

// Cleanup is what to run on a retired machine of cluster to remove the
// agents, the containers they left (the tasks' and the agent's own) and
// their state (the ECS Anywhere documentation's deregistration steps).
func Cleanup(cluster string) string {
	return `sudo systemctl stop ecs amazon-ssm-agent
sudo docker ps -aq --filter label=com.amazonaws.ecs.cluster=` + cluster + ` | xargs -r sudo docker rm -f
sudo docker rm -f ecs-agent 2>/dev/null || true
sudo apt-get remove -y amazon-ecs-init amazon-ssm-agent 2>/dev/null || sudo yum remove -y amazon-ecs-init amazon-ssm-agent 2>/dev/null || sudo zypper remove -y amazon-ecs-init amazon-ssm-agent
sudo rm -rf /var/lib/ecs /etc/ecs /var/lib/amazon/ssm /var/log/ecs /var/log/amazon/ssm`
}
