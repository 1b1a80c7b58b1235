package handler

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecs-anywhere-stretched/stretched/testkit/fakeaws"
)

const (
	cluster = "ecsAnywhereCluster-factory"
	tagKey  = "stretched:stack"
	site    = "EcsWorker-Anywhere-factory"
	other   = "EcsWorker-Anywhere-pi"
	stackID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/EcsWorker-Anywhere-factory/5a7b9c00-1d2e-11f0-8000-0a1b2c3d4e5f"
	created = "nodes-of:NodesResource"
)

type env struct {
	aws  *fakeaws.Fake
	cfn  *fakeaws.CloudFormation
	h    *Handler
	logs *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	e := &env{aws: fakeaws.New(t), cfn: fakeaws.NewCloudFormation(t), logs: &bytes.Buffer{}}
	cfg := e.aws.Config()
	e.h = &Handler{ECS: ecs.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), CFN: cloudformation.NewFromConfig(cfg)}
	e.aws.StackStatus[stackID] = "DELETE_IN_PROGRESS"
	e.aws.StackResources[site] = []fakeaws.StackResource{{Type: "AWS::ECS::Cluster", PhysicalID: cluster}}
	e.aws.StackResources[other] = []fakeaws.StackResource{{Type: "AWS::ECS::Cluster", PhysicalID: "piCluster"}}
	return e
}

func baseProps() map[string]any {
	return map[string]any{"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:f", "ClusterName": cluster, "TagKey": tagKey, "TagValue": site}
}

func (e *env) run(t *testing.T, kind cfn.RequestType, physical string) cfn.Response {
	t.Helper()
	return e.runWith(t, kind, physical, baseProps())
}

func (e *env) runWith(t *testing.T, kind cfn.RequestType, physical string, props map[string]any) cfn.Response {
	t.Helper()
	ev := cfn.Event{RequestType: kind, RequestID: "req-1", LogicalResourceID: "NodesResource", PhysicalResourceID: physical,
		ResourceType: "Custom::SiteNodes", ResourceProperties: props, StackID: stackID}
	return e.cfn.Run(t, context.Background(), e.h.Function(slog.New(slog.NewJSONHandler(e.logs, nil))), ev)
}

// activation adds an activation tagged for stack and joins n nodes with it.
func (e *env) activation(stack string, n int) []string {
	a := e.aws.AddActivation(fakeaws.Activation{Limit: 1000, Tags: map[string]string{tagKey: stack, "site": "x"}})
	var ids []string
	for range n {
		ids = append(ids, e.aws.Join(a.ID))
	}
	return ids
}

func (e *env) containerInstances(clusterName string, n int) {
	for i := range n {
		e.aws.ContainerInstances[clusterName] = append(e.aws.ContainerInstances[clusterName],
			fmt.Sprintf("arn:aws:ecs:eu-west-1:123456789012:container-instance/%s/%032x", clusterName, i+1))
	}
}

var wantStatus = fakeaws.WantStatus

func TestCreateAndUpdateDoNothing(t *testing.T) {
	e := newEnv(t)
	e.containerInstances(cluster, 2)
	e.activation(site, 2)
	r := e.run(t, cfn.RequestCreate, "")
	wantStatus(t, r, cfn.StatusSuccess)
	wantStatus(t, e.run(t, cfn.RequestUpdate, r.PhysicalResourceID), cfn.StatusSuccess)
	if len(e.aws.ContainerInstances[cluster]) != 2 || len(e.aws.Instances) != 2 {
		t.Error("create and update must not deregister anything")
	}
	if n := len(e.aws.Calls(fakeaws.ListContainerInstances)) + len(e.aws.Calls(fakeaws.DescribeInstanceInformation)); n != 0 {
		t.Errorf("create and update made %d calls", n)
	}
}

func TestDeleteDeregistersSeveralPagesOfNodesFromTwoActivations(t *testing.T) {
	e := newEnv(t)
	e.aws.PageSize = 3
	e.containerInstances(cluster, 7)
	e.containerInstances("ecsAnywhereCluster-pi", 2)
	mine := append(e.activation(site, 4), e.activation(site, 4)...) // before and after a renewal
	theirs := e.activation(other, 3)
	wantStatus(t, e.run(t, cfn.RequestDelete, created), cfn.StatusSuccess)
	if left := e.aws.ContainerInstances[cluster]; len(left) != 0 {
		t.Errorf("container instances left in the site's cluster: %v", left)
	}
	if len(e.aws.ContainerInstances["ecsAnywhereCluster-pi"]) != 2 {
		t.Error("another site's container instances were deregistered")
	}
	for _, id := range mine {
		if e.aws.Instances[id] != nil {
			t.Errorf("managed instance %s of the site is still registered", id)
		}
	}
	for _, id := range theirs {
		if e.aws.Instances[id] == nil {
			t.Errorf("managed instance %s of another site was deregistered", id)
		}
	}
	for _, c := range e.aws.Calls(fakeaws.DeregisterContainerInstance) {
		if c["force"] != true || c["cluster"] != cluster {
			t.Errorf("container instance deregistered with %v: want force in the site's cluster", c)
		}
	}
	if n := len(e.aws.Calls(fakeaws.ListContainerInstances)); n != 3 {
		t.Errorf("7 container instances in pages of 3 need 3 list calls, made %d", n)
	}
	for _, c := range e.aws.Calls(fakeaws.DescribeInstanceInformation) {
		if got := fmt.Sprint(c["Filters"]); !strings.Contains(got, "tag:"+tagKey) || !strings.Contains(got, site) {
			t.Errorf("managed instances must be listed by the site's stack tag, filters %s", got)
		}
	}
}

func TestDeleteByAnUpdateKeepsTheNodes(t *testing.T) {
	for _, status := range []string{"UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"} {
		t.Run(status, func(t *testing.T) {
			e := newEnv(t)
			e.aws.StackStatus[stackID] = status
			e.containerInstances(cluster, 2)
			ids := e.activation(site, 2)
			wantStatus(t, e.run(t, cfn.RequestDelete, created), cfn.StatusSuccess)
			if len(e.aws.ContainerInstances[cluster]) != 2 || e.aws.Instances[ids[0]] == nil || e.aws.Instances[ids[1]] == nil {
				t.Error("a resource removed by an update (keepNodesOnDestroy turned on) must not deregister the site's nodes")
			}
		})
	}
}

func TestUnknownStackStatusFailsWithoutDeregistering(t *testing.T) {
	e := newEnv(t)
	e.aws.On(fakeaws.DescribeStacks, fakeaws.QueryError("AccessDenied", "not authorized to perform: cloudformation:DescribeStacks"))
	ids := e.activation(site, 1)
	r := e.run(t, cfn.RequestDelete, created)
	wantStatus(t, r, cfn.StatusFailed, "read the status of stack", "access denied", "nodes were not deregistered")
	if e.aws.Instances[ids[0]] == nil {
		t.Error("when the stack status is unknown nothing may be deregistered")
	}
}

func TestAlreadyGoneIsSuccess(t *testing.T) {
	t.Run("cluster gone", func(t *testing.T) {
		e := newEnv(t)
		ids := e.activation(site, 1)
		wantStatus(t, e.run(t, cfn.RequestDelete, created), cfn.StatusSuccess)
		if e.aws.Instances[ids[0]] != nil {
			t.Error("managed instances must be deregistered even when the cluster is gone")
		}
	})
	t.Run("instances deregistered meanwhile", func(t *testing.T) {
		e := newEnv(t)
		e.containerInstances(cluster, 2)
		ids := e.activation(site, 2)
		e.aws.On(fakeaws.DeregisterContainerInstance, fakeaws.Reply{Status: 400, Body: `{"__type":"InvalidParameterException","message":"Container instance not found."}`})
		e.aws.On(fakeaws.DeregisterManagedInstance, fakeaws.Reply{Status: 400, Body: `{"__type":"InvalidInstanceId","Message":"Instance Id ` + ids[0] + ` is not valid"}`})
		wantStatus(t, e.run(t, cfn.RequestDelete, created), cfn.StatusSuccess)
	})
	t.Run("never created", func(t *testing.T) {
		e := newEnv(t)
		wantStatus(t, e.run(t, cfn.RequestDelete, "create-failed-req-1"), cfn.StatusSuccess)
		if n := len(e.aws.Calls(fakeaws.ListContainerInstances)); n != 0 {
			t.Errorf("a resource never created deregistered nodes (%d calls)", n)
		}
	})
}

func TestThrottlingThenSuccess(t *testing.T) {
	e := newEnv(t)
	e.containerInstances(cluster, 2)
	ids := e.activation(site, 2)
	throttled := fakeaws.Reply{Status: 400, Body: `{"__type":"ThrottlingException","message":"Rate exceeded"}`}
	e.aws.On(fakeaws.ListContainerInstances, throttled)
	e.aws.On(fakeaws.DeregisterContainerInstance, throttled, throttled)
	e.aws.On(fakeaws.DescribeInstanceInformation, throttled)
	e.aws.On(fakeaws.DeregisterManagedInstance, throttled, throttled, throttled)
	wantStatus(t, e.run(t, cfn.RequestDelete, created), cfn.StatusSuccess)
	if len(e.aws.ContainerInstances[cluster]) != 0 || e.aws.Instances[ids[0]] != nil || e.aws.Instances[ids[1]] != nil {
		t.Error("throttled calls must be retried until the nodes are deregistered")
	}
}

func TestPersistentFailureIsReportedWithWhatToDo(t *testing.T) {
	e := newEnv(t)
	ids := e.activation(site, 3)
	denied := fakeaws.Reply{Status: 400, Body: `{"__type":"AccessDeniedException","Message":"not authorized to perform: ssm:DeregisterManagedInstance"}`}
	e.aws.On(fakeaws.DeregisterManagedInstance, denied)
	e.containerInstances(cluster, 1)
	r := e.run(t, cfn.RequestDelete, created)
	wantStatus(t, r, cfn.StatusFailed, "1 node(s) could not be deregistered", ids[0], "access denied", "delete the stack again")
	if e.aws.Instances[ids[1]] != nil || e.aws.Instances[ids[2]] != nil || len(e.aws.ContainerInstances[cluster]) != 0 {
		t.Error("one failure must not stop the other nodes' deregistration")
	}
}

func TestBadPropertiesFailCreate(t *testing.T) {
	e := newEnv(t)
	ev := cfn.Event{RequestType: cfn.RequestCreate, RequestID: "r", ResourceProperties: map[string]any{"ClusterName": cluster}}
	r := e.cfn.Run(t, context.Background(), e.h.Function(slog.New(slog.NewJSONHandler(e.logs, nil))), ev)
	wantStatus(t, r, cfn.StatusFailed, "property TagKey", "property TagValue")
}

// A deleted stack's resource that names another site's cluster or node
// tag (forged, or edited by hand) is refused: no node of that site is
// deregistered.
func TestForgedDeleteIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(map[string]any)
		want   string
	}{
		{"another site's cluster", func(p map[string]any) { p["ClusterName"] = "piCluster" }, "holds no cluster piCluster"},
		{"another site's nodes", func(p map[string]any) { p["TagValue"] = other }, "is not the deleted stack's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.containerInstances("piCluster", 2)
			e.activation(other, 2)
			props := baseProps()
			tc.change(props)
			r := e.runWith(t, cfn.RequestDelete, created, props)
			wantStatus(t, r, cfn.StatusFailed)
			if !strings.Contains(r.Reason, "refused") || !strings.Contains(r.Reason, tc.want) {
				t.Errorf("reason %q must refuse, saying %q", r.Reason, tc.want)
			}
			if len(e.aws.ContainerInstances["piCluster"]) != 2 || len(e.aws.Instances) != 2 {
				t.Errorf("a refused request deregistered another site's nodes: %d container instances, %d managed instances left", len(e.aws.ContainerInstances["piCluster"]), len(e.aws.Instances))
			}
		})
	}
}
