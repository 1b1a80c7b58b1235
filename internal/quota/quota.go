// Package quota is the table of AWS quotas the app can cross as it grows
// (CloudFormation, CodePipeline, SNS, IAM, EventBridge, CloudWatch, SSM) and
// the one check synth makes against them: a count the app would reach,
// compared with the quota, and when it is crossed one line naming the
// quota, the value and the way out. It is CDK-free: stacks counts what it
// built, this package judges.
package quota

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Quota is one AWS quota.
type Quota struct {
	// Service and Name are AWS's names of the quota.
	Service, Name string
	// Limit is the default value (or the fixed one).
	Limit int
	// Raise is the Service Quotas name to ask for more, or "" when AWS does
	// not raise it.
	Raise string
}

// The quotas the app checks. Sources: the quota pages of each service's
// user guide (docs/measurements.md lists them).
var (
	StackResources = Quota{"CloudFormation", "resources per stack", 500, ""}
	StackOutputs   = Quota{"CloudFormation", "outputs per stack", 200, ""}
	// StackParameters: CDK adds one (the bootstrap version) and one per asset.
	StackParameters = Quota{"CloudFormation", "parameters per stack", 200, ""}
	// TemplateBytes is the size of a template uploaded through S3 (as the
	// CDK CLI does for every template).
	TemplateBytes   = Quota{"CloudFormation", "template body size in S3", 1_000_000, ""}
	Stacks          = Quota{"CloudFormation", "stacks per account and region", 2000, "Stacks"}
	PipelineActions = Quota{"CodePipeline", "actions per stage", 50, ""}
	PipelineStages  = Quota{"CodePipeline", "stages per pipeline", 50, ""}
	// FilterPolicies: subscriptions with a filter policy on one topic.
	FilterPolicies = Quota{"SNS", "filter policies per topic", 200, "Filter policies per topic"}
	// FilterCombinations: the values one filter policy may combine.
	FilterCombinations = Quota{"SNS", "filter policy value combinations", 150, ""}
	Roles              = Quota{"IAM", "roles per account", 1000, "Roles per account"}
	ManagedPolicies    = Quota{"IAM", "customer managed policies per account", 1500, "Customer managed policies per account"}
	// ManagedPolicyChars is the size of one managed policy document
	// (whitespace not counted).
	ManagedPolicyChars = Quota{"IAM", "managed policy size (characters)", 6144, ""}
	Rules              = Quota{"EventBridge", "rules per event bus", 300, "Number of rules"}
	DashboardWidgets   = Quota{"CloudWatch", "widgets per dashboard", 500, ""}
	WidgetMetrics      = Quota{"CloudWatch", "metrics per dashboard widget", 500, ""}
	Parameters         = Quota{"Systems Manager", "standard parameters per account and region", 10000, ""}
	// HybridNodes is the standard tier's; the advanced tier (paid) has no
	// such limit, and is the way out instead of a raise.
	HybridNodes = Quota{"Systems Manager", "registered hybrid nodes per account and region (standard tier)", 1000, ""}
)

// Use is what the app would reach of one quota, in one place.
type Use struct {
	Quota Quota
	// Where is the stack, topic, stage or widget; "" for the account.
	Where string
	// Value is what the app would reach.
	Value int
	// WayOut is the setting that brings the value down (Raise is added when
	// the quota can be raised).
	WayOut string
}

// Crossed says whether the use is over the quota.
func (u Use) Crossed() bool { return u.Value > u.Quota.Limit }

// Error is the one line a crossed quota gives.
func (u Use) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "quota: %s %s is %s", u.Quota.Service, u.Quota.Name, Thousands(u.Quota.Limit))
	if u.Quota.Raise != "" {
		b.WriteString(" by default")
	}
	b.WriteString(", and ")
	if u.Where != "" {
		fmt.Fprintf(&b, "%s would reach %s", u.Where, Thousands(u.Value))
	} else {
		fmt.Fprintf(&b, "this app would reach %s", Thousands(u.Value))
	}
	var ways []string
	if u.WayOut != "" {
		ways = append(ways, u.WayOut)
	}
	if u.Quota.Raise != "" {
		ways = append(ways, fmt.Sprintf("raise %q (%s) in Service Quotas", u.Quota.Raise, u.Quota.Service))
	}
	if len(ways) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(ways, ", or "))
	}
	return b.String()
}

// Check returns the crossed uses, one line each, in the order given; nil
// when every use is within its quota.
func Check(uses ...Use) error {
	var errs []error
	for _, u := range uses {
		if u.Crossed() {
			errs = append(errs, u)
		}
	}
	return errors.Join(errs...)
}

// Thousands writes n with commas: 1,469.
func Thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + Thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
