// Package status answers "is my fleet healthy?" from the deployed stacks:
// it finds the regional stack and every site stack by their prefix, reads
// their outputs and asks SQS, CloudWatch, ECS and SSM about the queue, the
// services, the nodes and the activations. It never reads the activation
// secret, so it can never print a code. It imports no CDK.
package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	fleetmanagercontract "github.com/ecs-anywhere-stretched/stretched/constructs/fleetmanager/contract"
	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/ecsnodes"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Clients are the AWS clients status uses; *cloudformation.Client and the
// others satisfy them.
type Clients struct {
	CloudFormation interface {
		DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	}
	SQS interface {
		GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	}
	CloudWatch interface {
		GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
	}
	ECS interface {
		ecsnodes.API
		DescribeServices(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	}
	SSM interface {
		DescribeActivations(context.Context, *ssm.DescribeActivationsInput, ...func(*ssm.Options)) (*ssm.DescribeActivationsOutput, error)
		DescribeInstanceInformation(context.Context, *ssm.DescribeInstanceInformationInput, ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error)
		GetParametersByPath(context.Context, *ssm.GetParametersByPathInput, ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
	}
	Now func() time.Time
}

// Fleet is the whole answer.
type Fleet struct {
	Prefix   string   `json:"prefix"`
	Region   Region   `json:"region"`
	Sites    []Site   `json:"sites"`
	Problems []string `json:"problems"`
	Healthy  bool     `json:"healthy"`
}

// Region is the regional stack.
type Region struct {
	Stack   string  `json:"stack"`
	Queue   Queue   `json:"queue"`
	Service Service `json:"service"`
	// Unrouted is how many messages reached the entry without a known
	// location (routed work only).
	Unrouted int `json:"unrouted"`
}

// Queue is the work queue.
type Queue struct {
	URL         string `json:"url"`
	Visible     int    `json:"visible"`
	InFlight    int    `json:"inFlight"`
	DeadLetters int    `json:"deadLetters"`
	// OldestAgeSeconds is the age of the oldest message over the last ten
	// minutes (CloudWatch), nil when CloudWatch has no data point.
	OldestAgeSeconds *float64 `json:"oldestAgeSeconds"`
}

// Service is an ECS service's counts.
type Service struct {
	Cluster string `json:"cluster"`
	Name    string `json:"name"`
	Desired int    `json:"desired"`
	Running int    `json:"running"`
	Pending int    `json:"pending"`
}

// Site is one site stack.
type Site struct {
	Stack string `json:"stack"`
	// Queue is the site's own work queue; nil when work is shared (the
	// region's queue is every location's).
	Queue              *Queue              `json:"queue"`
	Activations        []Activation        `json:"activations"`
	ManagedInstances   []ManagedInstance   `json:"managedInstances"`
	ContainerInstances []ContainerInstance `json:"containerInstances"`
	Service            Service             `json:"service"`
}

// Activation is one of the site's activations (never its code).
type Activation struct {
	ID                string    `json:"id"`
	Expires           time.Time `json:"expires"`
	Expired           bool      `json:"expired"`
	Registrations     int       `json:"registrations"`
	RegistrationLimit int       `json:"registrationLimit"`
}

// ManagedInstance is an SSM managed instance of the site.
type ManagedInstance struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	PingStatus   string    `json:"pingStatus"`
	LastPing     time.Time `json:"lastPing"`
	AgentVersion string    `json:"agentVersion"`
	Platform     string    `json:"platform"`
}

// ContainerInstance is an ECS container instance of the site's cluster.
type ContainerInstance struct {
	ID             string `json:"id"`
	Node           string `json:"node"`
	AgentConnected bool   `json:"agentConnected"`
	RunningTasks   int    `json:"runningTasks"`
	Status         string `json:"status"`
}

// ErrNoStack is returned when the regional stack does not exist.
var ErrNoStack = errors.New("stack not found")

// Scope is what Gather reads.
type Scope struct {
	// Prefix names the app's stacks. Required.
	Prefix string
	// Site, when set, is the one site to read (its name, not its stack's).
	// Default: every site.
	Site string
	// Parallel sites are read at once. Default (0 or less): DefaultParallel.
	Parallel int
}

// DefaultParallel sites are read at once: a fleet of 500 sites is several
// calls per site, too slow one after another.
const DefaultParallel = 8

// Gather reads the fleet of the stacks named with the scope's prefix. A
// missing regional stack, or a missing site when one is asked for, is an
// error (wrapping ErrNoStack); anything else that cannot be read is
// recorded as a problem, so one bad site does not hide the others. Sites
// are read Parallel at a time; their problems are reported in site order.
func Gather(ctx context.Context, c Clients, scope Scope) (Fleet, error) {
	prefix := scope.Prefix
	f := Fleet{Prefix: prefix}
	stacks, err := c.stacks(ctx)
	if err != nil {
		return f, err
	}
	regional := stackscontract.RegionalStack(prefix)
	rs, found := stacks[regional]
	if !found {
		return f, fmt.Errorf("%w: %s does not exist in this account and region: deploy it (make deploy), or give the right --prefix or --region", ErrNoStack, regional)
	}
	f.Region = c.region(ctx, rs, &f)
	regionalOut := outputs(rs)
	sitePrefix := stackscontract.AnywhereStack(prefix, "")
	var siteNames []string
	for name := range stacks {
		if strings.HasPrefix(name, sitePrefix) {
			siteNames = append(siteNames, name)
		}
	}
	sort.Strings(siteNames)
	if scope.Site != "" {
		want := stackscontract.AnywhereStack(prefix, scope.Site)
		if !slices.Contains(siteNames, want) {
			var known []string
			for _, n := range siteNames {
				known = append(known, strings.TrimPrefix(n, sitePrefix))
			}
			return f, fmt.Errorf("%w: site %q has no stack %s: give one of %s", ErrNoStack, scope.Site, want, strings.Join(known, ", "))
		}
		siteNames = []string{want}
	}
	activations, err := c.activations(ctx)
	if err != nil {
		f.problem("activations: %v", err)
	}
	directory, err := c.directory(ctx, prefix)
	if err != nil {
		f.problem("site directory: %v", err)
	}
	type result struct {
		site     Site
		problems []string
	}
	results := make([]result, len(siteNames))
	parallel := scope.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, name := range siteNames {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var own Fleet // this site's problems, merged in order below
			site := c.site(ctx, stacks[name], activations, &own)
			// A routed site's queue: the site's directory entry has its
			// URLs (a deployment of an earlier version, the regional
			// stack's outputs named after the site).
			location := strings.TrimPrefix(name, sitePrefix)
			url, dlq := directory[location].QueueURL, directory[location].DeadLetterQueueURL
			if url == regionalOut[stackscontract.OutputQueueURL] {
				url = "" // shared work: the site uses the region's queue
			} else if url == "" {
				url, dlq = regionalOut[stackscontract.OutputQueueURL+stackscontract.Pascal(location)], regionalOut[stackscontract.OutputDeadLetterQueueURL+stackscontract.Pascal(location)]
			}
			if url != "" {
				q := c.queue(ctx, "site "+location, url, dlq, &own)
				site.Queue = &q
			}
			results[i] = result{site, own.Problems}
		}()
	}
	wg.Wait()
	for _, r := range results {
		f.Sites = append(f.Sites, r.site)
		f.Problems = append(f.Problems, r.problems...)
	}
	f.Healthy = len(f.Problems) == 0
	return f, nil
}

// directoryEntry is what status reads of a site's directory entry.
type directoryEntry struct {
	QueueURL           string `json:"queueUrl"`
	DeadLetterQueueURL string `json:"deadLetterQueueUrl"`
}

// directory reads the app's site directory, by site name: 10 sites a call.
func (c Clients) directory(ctx context.Context, prefix string) (map[string]directoryEntry, error) {
	out := map[string]directoryEntry{}
	pages := ssm.NewGetParametersByPathPaginator(c.SSM, &ssm.GetParametersByPathInput{Path: aws.String(siteagentcontract.SiteDirectory(prefix)), MaxResults: aws.Int32(10)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return out, explain(err)
		}
		for _, p := range page.Parameters {
			var e directoryEntry
			if err := json.Unmarshal([]byte(aws.ToString(p.Value)), &e); err != nil {
				return out, fmt.Errorf("entry %s is not JSON: %w", aws.ToString(p.Name), err)
			}
			out[path.Base(aws.ToString(p.Name))] = e
		}
	}
	return out, nil
}

// RegionalOutputs are the outputs of the regional stack of prefix; a missing
// stack is an error wrapping ErrNoStack.
func RegionalOutputs(ctx context.Context, cf interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}, prefix string) (map[string]string, error) {
	regional := stackscontract.RegionalStack(prefix)
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(regional)})
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "ValidationError" && strings.Contains(api.ErrorMessage(), "does not exist") {
			return nil, fmt.Errorf("%w: %s does not exist in this account and region: deploy it (make deploy), or give the right --prefix or --region", ErrNoStack, regional)
		}
		return nil, fmt.Errorf("read stack %s: %w", regional, explain(err))
	}
	if len(out.Stacks) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoStack, regional)
	}
	return outputs(out.Stacks[0]), nil
}

func (f *Fleet) problem(format string, args ...any) {
	f.Problems = append(f.Problems, fmt.Sprintf(format, args...))
}

func (c Clients) stacks(ctx context.Context) (map[string]cftypes.Stack, error) {
	return LiveStacks(ctx, c.CloudFormation)
}

// LiveStacks are the account's stacks in the region that are not deleted,
// by name.
func LiveStacks(ctx context.Context, api cloudformation.DescribeStacksAPIClient) (map[string]cftypes.Stack, error) {
	out := map[string]cftypes.Stack{}
	pages := cloudformation.NewDescribeStacksPaginator(api, &cloudformation.DescribeStacksInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the stacks: %w", explain(err))
		}
		for _, s := range page.Stacks {
			if s.StackStatus != cftypes.StackStatusDeleteComplete {
				out[aws.ToString(s.StackName)] = s
			}
		}
	}
	return out, nil
}

// explain turns common failures into what to do.
func explain(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
			return fmt.Errorf("access denied: the credentials need read access to CloudFormation, SQS, CloudWatch, ECS and SSM (the AWS managed policy ReadOnlyAccess has it): %w", err)
		case "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException":
			return fmt.Errorf("the AWS credentials are not valid (expired or unknown): log in again (aws sso login, aws configure): %w", err)
		}
	}
	return err
}

func outputs(s cftypes.Stack) map[string]string {
	m := map[string]string{}
	for _, o := range s.Outputs {
		m[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return m
}

func (c Clients) region(ctx context.Context, s cftypes.Stack, f *Fleet) Region {
	out := outputs(s)
	r := Region{Stack: aws.ToString(s.StackName), Queue: Queue{URL: out[stackscontract.OutputQueueURL]}}
	if r.Queue.URL == "" {
		f.problem("%s: no output %s: the stack is not deployed completely (status %s)", r.Stack, stackscontract.OutputQueueURL, s.StackStatus)
		return r
	}
	label := "region"
	if out[stackscontract.OutputWork] == "shared" {
		label = "every location (shared work)"
	}
	r.Queue = c.queue(ctx, label, r.Queue.URL, out[stackscontract.OutputDeadLetterQueueURL], f)
	if u := out[stackscontract.OutputUnroutedQueueURL]; u != "" {
		var err error
		if r.Unrouted, _, err = c.depth(ctx, u); err != nil {
			f.problem("unrouted queue: %v", err)
		}
		if r.Unrouted > 0 {
			f.problem("the unrouted queue holds %d message(s) published without a known location: read them, fix the producer, publish them again with location set", r.Unrouted)
		}
	}
	r.Service = c.service(ctx, out[stackscontract.OutputClusterName], out[stackscontract.OutputServiceName], r.Stack, f)
	return r
}

// StuckSeconds: a location whose oldest message is older than this (the
// default oldest-message alarm) is not doing its work.
const StuckSeconds = 900

// queue reads a location's work queue and dead-letter queue.
func (c Clients) queue(ctx context.Context, location, url, dlq string, f *Fleet) Queue {
	q := Queue{URL: url}
	var err error
	if q.Visible, q.InFlight, err = c.depth(ctx, url); err != nil {
		f.problem("%s: work queue: %v", location, err)
	}
	if dlq != "" {
		if q.DeadLetters, _, err = c.depth(ctx, dlq); err != nil {
			f.problem("%s: dead-letter queue: %v", location, err)
		}
	}
	if q.DeadLetters > 0 {
		f.problem("%s: dead-letter queue holds %d message(s): read the worker's logs, fix the cause, then redrive them", location, q.DeadLetters)
	}
	if q.OldestAgeSeconds, err = c.oldestAge(ctx, url); err != nil {
		f.problem("%s: age of the oldest message: %v", location, err)
	}
	if q.OldestAgeSeconds != nil && *q.OldestAgeSeconds > StuckSeconds {
		f.problem("%s: the oldest message has waited %s: work is not being done there (nodes, tasks, the link?)", location, (time.Duration(*q.OldestAgeSeconds) * time.Second).String())
	}
	return q
}

func (c Clients) depth(ctx context.Context, queueURL string) (visible, inFlight int, err error) {
	out, err := c.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read queue %s: %w", queueURL, explain(err))
	}
	visible, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight, nil
}

// oldestAge is SQS's ApproximateAgeOfOldestMessage, a CloudWatch metric
// only (no queue attribute holds it): the latest minute of the last ten.
func (c Clients) oldestAge(ctx context.Context, queueURL string) (*float64, error) {
	u, err := url.Parse(queueURL)
	if err != nil {
		return nil, fmt.Errorf("queue URL %q: %w", queueURL, err)
	}
	now := c.Now()
	out, err := c.CloudWatch.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-10 * time.Minute)), EndTime: aws.Time(now), ScanBy: cwtypes.ScanByTimestampDescending,
		MetricDataQueries: []cwtypes.MetricDataQuery{{
			Id: aws.String("age"),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{
					Namespace: aws.String("AWS/SQS"), MetricName: aws.String("ApproximateAgeOfOldestMessage"),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("QueueName"), Value: aws.String(path.Base(u.Path))}},
				},
				Period: aws.Int32(60), Stat: aws.String("Maximum"),
			},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("read CloudWatch: %w", explain(err))
	}
	for _, r := range out.MetricDataResults {
		if len(r.Values) > 0 {
			return aws.Float64(r.Values[0]), nil
		}
	}
	return nil, nil
}

func (c Clients) service(ctx context.Context, cluster, name, stack string, f *Fleet) Service {
	s := Service{Cluster: cluster, Name: name}
	if cluster == "" || name == "" {
		f.problem("%s: no outputs %s and %s: the stack is not deployed completely", stack, stackscontract.OutputClusterName, stackscontract.OutputServiceName)
		return s
	}
	out, err := c.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{name}})
	if err != nil {
		f.problem("service %s: %v", name, explain(err))
		return s
	}
	if len(out.Services) != 1 {
		f.problem("service %s not found in cluster %s", name, cluster)
		return s
	}
	svc := out.Services[0]
	s.Desired, s.Running, s.Pending = int(svc.DesiredCount), int(svc.RunningCount), int(svc.PendingCount)
	if s.Running < s.Desired {
		f.problem("service %s runs %d of %d desired tasks (%d pending)", name, s.Running, s.Desired, s.Pending)
	}
	return s
}

// activations lists every activation of the account and region; each site
// keeps those with its stack tag.
func (c Clients) activations(ctx context.Context) ([]ssmtypes.Activation, error) {
	var all []ssmtypes.Activation
	pages := ssm.NewDescribeActivationsPaginator(c.SSM, &ssm.DescribeActivationsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe activations: %w", explain(err))
		}
		all = append(all, page.ActivationList...)
	}
	return all, nil
}

func (c Clients) site(ctx context.Context, s cftypes.Stack, activations []ssmtypes.Activation, f *Fleet) Site {
	name := aws.ToString(s.StackName)
	out := outputs(s)
	site := Site{Stack: name, Activations: []Activation{}, ManagedInstances: []ManagedInstance{}, ContainerInstances: []ContainerInstance{}}
	for _, a := range activations {
		if !slices.ContainsFunc(a.Tags, func(t ssmtypes.Tag) bool {
			return aws.ToString(t.Key) == stackscontract.StackTagKey && aws.ToString(t.Value) == name
		}) {
			continue
		}
		site.Activations = append(site.Activations, Activation{
			ID: aws.ToString(a.ActivationId), Expires: aws.ToTime(a.ExpirationDate).UTC(), Expired: a.Expired,
			Registrations: int(aws.ToInt32(a.RegistrationsCount)), RegistrationLimit: int(aws.ToInt32(a.RegistrationLimit)),
		})
	}
	pages := ssm.NewDescribeInstanceInformationPaginator(c.SSM, &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("tag:" + stackscontract.StackTagKey), Values: []string{name}}},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			f.problem("%s: managed instances: %v", name, explain(err))
			break
		}
		for _, i := range page.InstanceInformationList {
			mi := ManagedInstance{
				ID: aws.ToString(i.InstanceId), Name: aws.ToString(i.Name), PingStatus: string(i.PingStatus), LastPing: aws.ToTime(i.LastPingDateTime).UTC(),
				AgentVersion: aws.ToString(i.AgentVersion), Platform: strings.TrimSpace(aws.ToString(i.PlatformName) + " " + aws.ToString(i.PlatformVersion)),
			}
			if mi.Name == "" {
				mi.Name = aws.ToString(i.ComputerName)
			}
			if i.PingStatus != ssmtypes.PingStatusOnline {
				f.problem("%s: node %s (%s) is %s to Systems Manager since %s", name, mi.ID, mi.Name, mi.PingStatus, mi.LastPing.Format(time.RFC3339))
			}
			if problem := fleetmanagercontract.SSMAgentProblem(mi.AgentVersion); problem != "" {
				f.problem("%s: node %s (%s): %s", name, mi.ID, mi.Name, problem)
			}
			site.ManagedInstances = append(site.ManagedInstances, mi)
		}
	}
	cluster := out[stackscontract.OutputClusterName]
	site.ContainerInstances = c.containerInstances(ctx, name, cluster, f)
	site.Service = c.service(ctx, cluster, out[stackscontract.OutputServiceName], name, f)
	return site
}

func (c Clients) containerInstances(ctx context.Context, stack, cluster string, f *Fleet) []ContainerInstance {
	list := []ContainerInstance{}
	if cluster == "" {
		return list
	}
	instances, err := ecsnodes.Describe(ctx, c.ECS, cluster, explain)
	if err != nil {
		f.problem("%s: %v", stack, err)
		return list
	}
	for _, ci := range instances {
		arn := aws.ToString(ci.ContainerInstanceArn)
		n := ContainerInstance{ID: path.Base(arn), Node: aws.ToString(ci.Ec2InstanceId), AgentConnected: ci.AgentConnected,
			RunningTasks: int(ci.RunningTasksCount), Status: aws.ToString(ci.Status)}
		if !n.AgentConnected {
			f.problem("%s: the ECS agent of node %s (container instance %s) is disconnected", stack, n.Node, n.ID)
		}
		if ci.VersionInfo != nil {
			if problem := fleetmanagercontract.ECSAgentProblem(aws.ToString(ci.VersionInfo.AgentVersion)); problem != "" {
				f.problem("%s: node %s: %s", stack, n.Node, problem)
			}
		}
		list = append(list, n)
	}
	return list
}
