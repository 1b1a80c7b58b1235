// Package handler is the taskcount feature's runtime: it answers Custom::ServiceTaskCount (handler
// "taskcount"): the desired count a site's EXTERNAL service is deployed with.
//
// CloudFormation creates an ECS service that has no DesiredCount with one
// task and waits until it runs; on a new site no node has joined yet, so the
// deploy would hang for hours. With a DesiredCount in the template, every
// update of the service sets it, undoing what the site agent chose. So the
// service's DesiredCount is this resource's answer, worked out right before
// the service is created or updated: the desired count the site's service
// has now, or 0 when there is none yet. Create and Update answer the same
// way; Delete does nothing.
package handler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecs-anywhere-stretched/stretched/constructs/taskcount/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/awserr"
	"github.com/ecs-anywhere-stretched/stretched/internal/cr"
)

// ECSAPI is what the handler calls of ECS; *ecs.Client satisfies it.
type ECSAPI interface {
	ecs.ListServicesAPIClient
	DescribeServices(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
}

// Handler answers for one site's service.
type Handler struct {
	ECS ECSAPI
}

// Function is the cfn.CustomResourceFunction for cfn.LambdaWrap.
func (h *Handler) Function(log *slog.Logger) cfn.CustomResourceFunction {
	return cr.Wrap(contract.Handler, log, h.handle)
}

// physicalPrefix starts the resource's id, the same for the life of the
// stack.
const physicalPrefix = "task-count-of:"

func (h *Handler) handle(ctx context.Context, log *slog.Logger, e cfn.Event) (string, map[string]any, error) {
	if e.RequestType == cfn.RequestDelete {
		return e.PhysicalResourceID, nil, nil
	}
	cluster, _ := e.ResourceProperties[contract.PropClusterName].(string)
	family, _ := e.ResourceProperties[contract.PropFamily].(string)
	var errs []error
	if strings.TrimSpace(cluster) == "" {
		errs = append(errs, fmt.Errorf("property %s is %v: must be the site's cluster name; the taskcount construct always sets it", contract.PropClusterName, e.ResourceProperties[contract.PropClusterName]))
	}
	if strings.TrimSpace(family) == "" {
		errs = append(errs, fmt.Errorf("property %s is %v: must be the service's task definition family; the taskcount construct always sets it", contract.PropFamily, e.ResourceProperties[contract.PropFamily]))
	}
	if err := errors.Join(errs...); err != nil {
		return cr.FallbackID(e), nil, err
	}
	id := physicalPrefix + cluster
	if e.RequestType == cfn.RequestUpdate {
		id = e.PhysicalResourceID
	}
	n, service, err := Current(ctx, h.ECS, cluster, family)
	if err != nil {
		return cr.FallbackID(e), nil, err
	}
	if service == "" {
		log.Info("no service of this family in the cluster yet: it is created with 0 tasks and the site agent scales it once nodes join", "cluster", cluster, "family", family)
	} else {
		log.Info("the service keeps the count it has", "cluster", cluster, "service", service, "desiredCount", n)
	}
	return id, map[string]any{contract.AttrDesiredCount: strconv.Itoa(n)}, nil
}

// Current is the desired count of the ACTIVE service in cluster whose task
// definition is of family, and its name; 0 and "" when there is none. Of
// several (a service being replaced), the largest count, so a replacement
// starts with what the site ran.
func Current(ctx context.Context, api ECSAPI, cluster, family string) (int, string, error) {
	var arns []string
	pages := ecs.NewListServicesPaginator(api, &ecs.ListServicesInput{Cluster: aws.String(cluster)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return 0, "", fmt.Errorf("list the services of cluster %s: %w", cluster, awserr.Explain(err))
		}
		arns = append(arns, page.ServiceArns...)
	}
	best, name := 0, ""
	for start := 0; start < len(arns); start += 10 { // DescribeServices takes at most 10
		batch := arns[start:min(start+10, len(arns))]
		out, err := api.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: batch})
		if err != nil {
			return 0, "", fmt.Errorf("describe the services of cluster %s: %w", cluster, awserr.Explain(err))
		}
		for _, s := range out.Services {
			if aws.ToString(s.Status) != "ACTIVE" || familyOf(aws.ToString(s.TaskDefinition)) != family {
				continue
			}
			if name == "" || int(s.DesiredCount) > best {
				best, name = int(s.DesiredCount), aws.ToString(s.ServiceName)
			}
		}
	}
	return best, name, nil
}

// familyOf is the family in a task definition ARN
// (arn:…:task-definition/family:revision) or family:revision.
func familyOf(td string) string {
	td = td[strings.LastIndex(td, "/")+1:]
	if i := strings.LastIndex(td, ":"); i >= 0 {
		td = td[:i]
	}
	return td
}
