package workerspec

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec/contract"
)

// Secret is one environment variable of the worker read from an SSM
// parameter or a Secrets Manager secret (see contract.Secret).
type Secret = contract.Secret

var completeRe = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)

// secretEntries are the container's "Secrets": each variable with the
// parameter or secret ECS reads it from (a secret's JSON key as ECS spells
// it, <arn>:<key>::).
func (s *Spec) secretEntries() []map[string]string {
	sorted := slices.Clone(s.props.Secrets)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Env < sorted[j].Env })
	out := make([]map[string]string, 0, len(sorted))
	for _, sec := range sorted {
		from := sec.Parameter
		if sec.SecretArn != "" {
			from = sec.SecretArn
			if sec.JSONKey != "" {
				from += ":" + sec.JSONKey + "::"
			}
		}
		out = append(out, map[string]string{"Name": sec.Env, "ValueFrom": from})
	}
	return out
}

// grantSecrets lets the execution role read exactly the configured
// parameters and secrets, and decrypt with the keys named through SSM or
// Secrets Manager only. ECS reads them when a task starts.
func (s *Spec) grantSecrets(executionRole awsiam.IRole) {
	stack := awscdk.Stack_Of(s.Construct)
	var params, secrets []string
	partial := false
	keys := map[string][]string{}
	for _, sec := range s.props.Secrets {
		service := fmt.Sprintf("secretsmanager.%s.amazonaws.com", *stack.Region())
		if sec.Parameter != "" {
			service = fmt.Sprintf("ssm.%s.amazonaws.com", *stack.Region())
			arn := sec.Parameter
			if !strings.HasPrefix(arn, "arn:") {
				arn = *stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("ssm"), Resource: jsii.String("parameter"),
					ResourceName: jsii.String(strings.TrimPrefix(sec.Parameter, "/"))})
			}
			params = append(params, arn)
		} else {
			arn := sec.SecretArn
			if !completeRe.MatchString(arn) {
				// A partial ARN: Secrets Manager appends six characters.
				arn += "-??????"
				partial = true
			}
			secrets = append(secrets, arn)
		}
		if sec.KmsKeyArn != "" {
			keys[sec.KmsKeyArn] = append(keys[sec.KmsKeyArn], service)
		}
	}
	if len(params) > 0 {
		executionRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("ReadWorkerParameters"), Actions: jsii.Strings("ssm:GetParameters"), Resources: jsii.Strings(slices.Sorted(slices.Values(params))...),
		}))
	}
	if len(secrets) > 0 {
		executionRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("ReadWorkerSecrets"), Actions: jsii.Strings("secretsmanager:GetSecretValue"), Resources: jsii.Strings(slices.Sorted(slices.Values(secrets))...),
		}))
	}
	if partial {
		cdknag.NagSuppressions_AddResourceSuppressions(executionRole, &[]*cdknag.NagPackSuppression{{
			Id:        jsii.String("AwsSolutions-IAM5"),
			AppliesTo: &[]any{&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::arn:.+:secretsmanager:.+-\?\?\?\?\?\?$/`)}},
			Reason:    jsii.String("a secret given by partial ARN: the six '?' match exactly the random suffix Secrets Manager appends to that one secret's name"),
		}}, jsii.Bool(true))
	}
	for _, arn := range slices.Sorted(maps.Keys(keys)) {
		executionRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:    jsii.Strings("kms:Decrypt"),
			Resources:  jsii.Strings(arn),
			Conditions: &map[string]any{"StringEquals": map[string]any{"kms:ViaService": slices.Compact(slices.Sorted(slices.Values(keys[arn])))}},
		}))
	}
}
