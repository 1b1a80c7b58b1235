package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/ecs-anywhere-stretched/stretched/cmd/fleet/internal/status"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// CloudFormation is what Run calls; *cloudformation.Client satisfies it.
type CloudFormation interface {
	cloudformation.DescribeStacksAPIClient
	cloudformation.ListExportsAPIClient
	GetTemplate(context.Context, *cloudformation.GetTemplateInput, ...func(*cloudformation.Options)) (*cloudformation.GetTemplateOutput, error)
	UpdateStack(context.Context, *cloudformation.UpdateStackInput, ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error)
}

// settled are the stack statuses an update can start from.
var settled = []cftypes.StackStatus{cftypes.StackStatusCreateComplete, cftypes.StackStatusUpdateComplete, cftypes.StackStatusUpdateRollbackComplete, cftypes.StackStatusImportComplete}

// MaxTemplateBody is the largest template UpdateStack takes in its
// TemplateBody (bytes); a larger one must come through S3.
const MaxTemplateBody = 51200

// Options of Run.
type Options struct {
	// Prefix is the app's stack prefix (context key stackPrefix).
	Prefix string
	// DryRun prints what would change and updates nothing.
	DryRun bool
	// Wait bounds the wait for one stack's update. Default: 30 minutes.
	Wait time.Duration
}

// Run prepares every site stack of the app (<prefix>-Anywhere-*) and
// reports each on out: updated, already of this version, or what it would
// change (DryRun). Stacks are updated one after another; the first failure
// stops the run, so a second run picks up where it stopped.
func Run(ctx context.Context, api CloudFormation, o Options, out io.Writer) error {
	if o.Wait == 0 {
		o.Wait = 30 * time.Minute
	}
	sites, err := siteStacks(ctx, api, o.Prefix)
	if err != nil {
		return err
	}
	if len(sites) == 0 {
		return fmt.Errorf("no stack named %s…: nothing to prepare (give the app's --prefix, or the --region it is deployed in)", stackscontract.AnywhereStack(o.Prefix, ""))
	}
	exports, err := allExports(ctx, api)
	if err != nil {
		return err
	}
	for _, s := range sites {
		name := aws.ToString(s.StackName)
		if !slices.Contains(settled, s.StackStatus) {
			return fmt.Errorf("stack %s is %s: prepare needs it settled (CREATE_COMPLETE, UPDATE_COMPLETE or UPDATE_ROLLBACK_COMPLETE); let the running operation end or fix the stack, then run this again", name, s.StackStatus)
		}
		got, err := api.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: s.StackName, TemplateStage: cftypes.TemplateStageOriginal})
		if err != nil {
			return fmt.Errorf("read the template of %s: %w", name, err)
		}
		p, err := Prepare([]byte(aws.ToString(got.TemplateBody)), exports)
		if err != nil {
			return fmt.Errorf("stack %s: %w", name, err)
		}
		if !p.Changed() {
			fmt.Fprintf(out, "%s: nothing to prepare (of this version already, or prepared before)\n", name)
			continue
		}
		what := fmt.Sprintf("retain %s on removal; replace %d import(s) by their values", strings.Join(p.Retained, ", "), len(p.Imports))
		if o.DryRun {
			fmt.Fprintf(out, "%s: would %s (dry run: nothing changed)\n", name, what)
			continue
		}
		if len(p.Template) > MaxTemplateBody {
			return fmt.Errorf("stack %s: the prepared template is %d bytes, over the %d bytes UpdateStack takes inline: update the stack with it through S3 by hand (aws cloudformation update-stack --template-url …)", name, len(p.Template), MaxTemplateBody)
		}
		if err := update(ctx, api, s, p, o.Wait); err != nil {
			return fmt.Errorf("stack %s: %w", name, err)
		}
		fmt.Fprintf(out, "%s: prepared: %s\n", name, what)
	}
	return nil
}

// update applies a prepared template with the stack's parameters and
// capabilities as they are, and waits until the update ends.
func update(ctx context.Context, api CloudFormation, s cftypes.Stack, p Prepared, wait time.Duration) error {
	var params []cftypes.Parameter
	for _, sp := range s.Parameters {
		params = append(params, cftypes.Parameter{ParameterKey: sp.ParameterKey, UsePreviousValue: aws.Bool(true)})
	}
	_, err := api.UpdateStack(ctx, &cloudformation.UpdateStackInput{
		StackName:    s.StackName,
		TemplateBody: aws.String(string(p.Template)),
		Parameters:   params,
		Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityIam, cftypes.CapabilityCapabilityNamedIam, cftypes.CapabilityCapabilityAutoExpand},
	})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && strings.Contains(apiErr.ErrorMessage(), "No updates are to be performed") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update the stack: %w", err)
	}
	w := cloudformation.NewStackUpdateCompleteWaiter(api, func(o *cloudformation.StackUpdateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, 15*time.Second
	})
	if err := w.Wait(ctx, &cloudformation.DescribeStacksInput{StackName: s.StackId}, wait); err != nil {
		return fmt.Errorf("wait for the update (see the stack's events in the CloudFormation console): %w", err)
	}
	return nil
}

// siteStacks are the app's site stacks, by name.
func siteStacks(ctx context.Context, api CloudFormation, prefix string) ([]cftypes.Stack, error) {
	live, err := status.LiveStacks(ctx, api)
	if err != nil {
		return nil, err
	}
	var sites []cftypes.Stack
	for name, s := range live {
		if strings.HasPrefix(name, stackscontract.AnywhereStack(prefix, "")) {
			sites = append(sites, s)
		}
	}
	sort.Slice(sites, func(i, j int) bool { return aws.ToString(sites[i].StackName) < aws.ToString(sites[j].StackName) })
	return sites, nil
}

// allExports are the exports of the account and region, name to value.
func allExports(ctx context.Context, api CloudFormation) (map[string]string, error) {
	exports := map[string]string{}
	pages := cloudformation.NewListExportsPaginator(api, &cloudformation.ListExportsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the exports: %w", err)
		}
		for _, e := range page.Exports {
			exports[aws.ToString(e.Name)] = aws.ToString(e.Value)
		}
	}
	return exports, nil
}
