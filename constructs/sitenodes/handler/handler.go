// Package handler is the sitenodes feature's runtime: it answers Custom::SiteNodes (handler "sitenodes"): when a
// site's stack is deleted, it deregisters the site's nodes, so the cluster can be deleted
// (ECS refuses while it has container instances) and no managed instance is
// left registered and billed. It touches only the site's cluster and the
// managed instances that carry the site's stack tag (SSM gives every node the
// tags of the activation it joined with), and only when the stack itself is
// being deleted (CloudFormation also deletes a resource that an update
// removed). Create and Update do nothing.
package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/sitenodes/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/awserr"
	"github.com/ecs-anywhere-stretched/stretched/internal/cr"
	"github.com/ecs-anywhere-stretched/stretched/internal/ecsnodes"
	"github.com/ecs-anywhere-stretched/stretched/internal/stackowner"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// ECSAPI is what the handler calls of ECS; *ecs.Client satisfies it.
type ECSAPI interface {
	ecsnodes.ListAPI
	DeregisterContainerInstance(context.Context, *ecs.DeregisterContainerInstanceInput, ...func(*ecs.Options)) (*ecs.DeregisterContainerInstanceOutput, error)
}

// SSMAPI is what the handler calls of SSM.
type SSMAPI interface {
	DescribeInstanceInformation(context.Context, *ssm.DescribeInstanceInformationInput, ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error)
	DeregisterManagedInstance(context.Context, *ssm.DeregisterManagedInstanceInput, ...func(*ssm.Options)) (*ssm.DeregisterManagedInstanceOutput, error)
}

// CloudFormationAPI is what the handler calls of CloudFormation.
type CloudFormationAPI interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	stackowner.API
}

// Handler deregisters one site's nodes on Delete.
type Handler struct {
	ECS ECSAPI
	SSM SSMAPI
	CFN CloudFormationAPI
}

// deletingStatuses are the stack statuses in which a Delete of this
// resource means the site goes away. In any other (an update's clean-up
// after keepNodesOnDestroy was turned on, or the rollback of an update that
// added the resource) the site stays and so do its nodes.
var deletingStatuses = []cftypes.StackStatus{cftypes.StackStatusDeleteInProgress, cftypes.StackStatusRollbackInProgress}

// Function is the cfn.CustomResourceFunction for cfn.LambdaWrap.
func (h *Handler) Function(log *slog.Logger) cfn.CustomResourceFunction {
	return cr.Wrap(contract.Handler, log, h.handle)
}

// props of Custom::SiteNodes.
type props struct {
	cluster, tagKey, tagValue string
}

func parse(m map[string]any) (props, error) {
	var p props
	var errs []error
	get := func(key string) string {
		s, _ := m[key].(string)
		if strings.TrimSpace(s) == "" {
			errs = append(errs, fmt.Errorf("property %s is %v: must be a non-empty string; the sitenodes construct always sets it", key, m[key]))
		}
		return s
	}
	p.cluster, p.tagKey, p.tagValue = get(contract.PropClusterName), get(contract.PropTagKey), get(contract.PropTagValue)
	return p, errors.Join(errs...)
}

func (h *Handler) handle(ctx context.Context, log *slog.Logger, e cfn.Event) (string, map[string]any, error) {
	p, err := parse(e.ResourceProperties)
	if e.RequestType != cfn.RequestDelete {
		if err != nil {
			return cr.FallbackID(e), nil, err
		}
		return physicalPrefix + e.LogicalResourceID, nil, nil
	}
	if err != nil {
		return e.PhysicalResourceID, nil, err
	}
	if !strings.HasPrefix(e.PhysicalResourceID, physicalPrefix) {
		log.Info("resource was never created: nothing to deregister")
		return e.PhysicalResourceID, nil, nil
	}
	status, err := h.stackStatus(ctx, e.StackID)
	if err != nil {
		return e.PhysicalResourceID, nil, err
	}
	if !slices.Contains(deletingStatuses, status) {
		log.Info("the stack is not being deleted: the site's nodes stay registered", "stackStatus", string(status))
		return e.PhysicalResourceID, nil, nil
	}
	// One function serves every site: the cluster and the node tag must
	// be the deleted stack's own, or a forged request would deregister
	// another site's nodes.
	if err := h.verify(ctx, e.StackID, p); err != nil {
		return e.PhysicalResourceID, nil, err
	}
	return e.PhysicalResourceID, nil, h.Deregister(ctx, log, p.cluster, p.tagKey, p.tagValue)
}

// verify refuses properties that name a cluster the stack does not hold,
// or a node tag other than the stack's own.
func (h *Handler) verify(ctx context.Context, stackID string, p props) error {
	st, err := stackowner.Read(ctx, h.CFN, stackID)
	if err != nil {
		return fmt.Errorf("refused: cannot tell what the deleted stack holds: %w; nodes were not deregistered", err)
	}
	var errs []error
	if err := st.Require("cluster", "AWS::ECS::Cluster", p.cluster); err != nil {
		errs = append(errs, err)
	}
	if p.tagKey != stackscontract.StackTagKey || p.tagValue != st.Name {
		errs = append(errs, fmt.Errorf("refused: the nodes' tag %s=%s is not the deleted stack's (%s=%s); nodes were not deregistered", p.tagKey, p.tagValue, stackscontract.StackTagKey, st.Name))
	}
	return errors.Join(errs...)
}

// physicalPrefix starts the resource's id, which is the same for the life of
// the stack: a changed id would make CloudFormation delete the old one.
const physicalPrefix = "nodes-of:"

func (h *Handler) stackStatus(ctx context.Context, stackID string) (cftypes.StackStatus, error) {
	out, err := h.CFN.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stackID)})
	if err != nil {
		return "", fmt.Errorf("read the status of stack %s, to tell its deletion from an update: %w; nodes were not deregistered, retry the deletion", stackID, awserr.Explain(err))
	}
	if len(out.Stacks) != 1 {
		return "", fmt.Errorf("stack %s: DescribeStacks returned %d stacks; nodes were not deregistered, retry the deletion", stackID, len(out.Stacks))
	}
	return out.Stacks[0].StackStatus, nil
}

// maxReported is how many failures an error names; CloudFormation shows a
// short reason.
const maxReported = 5

// Deregister removes every container instance of cluster and every managed
// instance tagged tagKey=tagValue. Instances already gone are success; the
// error names every other failure and what to do.
func (h *Handler) Deregister(ctx context.Context, log *slog.Logger, cluster, tagKey, tagValue string) error {
	var failed []error
	ecsDone, err := h.containerInstances(ctx, log, cluster, &failed)
	if err != nil {
		return err
	}
	ssmDone, err := h.managedInstances(ctx, log, tagKey, tagValue, &failed)
	if err != nil {
		return err
	}
	log.Info("site nodes deregistered", "cluster", cluster, "containerInstances", ecsDone, "managedInstances", ssmDone, "failed", len(failed))
	if len(failed) == 0 {
		return nil
	}
	shown := failed[:min(len(failed), maxReported)]
	more := ""
	if len(failed) > maxReported {
		more = fmt.Sprintf(" (and %d more, see the function's log group)", len(failed)-maxReported)
	}
	return fmt.Errorf("%d node(s) could not be deregistered%s: %w; fix the cause and delete the stack again, or deregister them by hand (docs/sites.md, Site lifecycle)", len(failed), more, errors.Join(shown...))
}

// containerInstances lists every container instance of cluster first and
// then deregisters them: deregistering while paging would shift the pages.
func (h *Handler) containerInstances(ctx context.Context, log *slog.Logger, cluster string, failed *[]error) (int, error) {
	arns, err := ecsnodes.ARNs(ctx, h.ECS, cluster, awserr.Explain)
	if err != nil {
		var nf *ecstypes.ClusterNotFoundException
		if errors.As(err, &nf) {
			log.Info("cluster already gone: no container instances to deregister", "cluster", cluster)
			return 0, nil
		}
		return 0, err
	}
	done := 0
	for _, arn := range arns {
		_, err := h.ECS.DeregisterContainerInstance(ctx, &ecs.DeregisterContainerInstanceInput{
			Cluster: aws.String(cluster), ContainerInstance: aws.String(arn), Force: aws.Bool(true),
		})
		switch {
		case err == nil:
			done++
			log.Info("container instance deregistered", "containerInstance", arn)
		case ecsGone(err):
			log.Info("container instance already gone", "containerInstance", arn)
		default:
			*failed = append(*failed, fmt.Errorf("container instance %s: %w", arn, awserr.Explain(err)))
		}
	}
	return done, nil
}

func ecsGone(err error) bool {
	var nf *ecstypes.ClusterNotFoundException
	if errors.As(err, &nf) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "InvalidParameterException" {
		msg := strings.ToLower(api.ErrorMessage())
		return strings.Contains(msg, "not found") || strings.Contains(msg, "does not exist")
	}
	return false
}

// managedInstances lists every managed instance with the site's tag first
// and then deregisters them.
func (h *Handler) managedInstances(ctx context.Context, log *slog.Logger, tagKey, tagValue string, failed *[]error) (int, error) {
	var found []ssmtypes.InstanceInformation
	pages := ssm.NewDescribeInstanceInformationPaginator(h.SSM, &ssm.DescribeInstanceInformationInput{
		Filters:    []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("tag:" + tagKey), Values: []string{tagValue}}},
		MaxResults: aws.Int32(50),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("list the managed instances tagged %s=%s: %w", tagKey, tagValue, awserr.Explain(err))
		}
		found = append(found, page.InstanceInformationList...)
	}
	done := 0
	for _, info := range found {
		id := aws.ToString(info.InstanceId)
		if !strings.HasPrefix(id, "mi-") {
			// An EC2 instance with the tag is not a node of this site.
			log.Warn("not a managed (hybrid) instance: left alone", "instanceId", id)
			continue
		}
		_, err := h.SSM.DeregisterManagedInstance(ctx, &ssm.DeregisterManagedInstanceInput{InstanceId: aws.String(id)})
		var gone *ssmtypes.InvalidInstanceId
		switch {
		case err == nil:
			done++
			log.Info("managed instance deregistered", "instanceId", id, "activationId", aws.ToString(info.ActivationId))
		case errors.As(err, &gone):
			log.Info("managed instance already gone", "instanceId", id)
		default:
			*failed = append(*failed, fmt.Errorf("managed instance %s: %w", id, awserr.Explain(err)))
		}
	}
	return done, nil
}
