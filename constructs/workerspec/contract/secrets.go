package contract

// The worker's environment variables that come from SSM parameters and
// Secrets Manager secrets: the configuration decodes them, the worker spec
// sets them, and both check them with ValidateSecrets.

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Secret is one environment variable of the worker whose value ECS reads
// from an SSM parameter or a Secrets Manager secret when a task starts, so it
// is never a plain value in a template. Set exactly one of Parameter and
// SecretArn.
type Secret struct {
	// Env is the variable's name: letters, digits and '_', not a name of the
	// reference contract (SQS_QUEUE_URL, EFS_SOURCE_FOLDER,
	// EFS_DESTINATION_FOLDER, AWS_REGION) and not starting with AWS_ or ECS_.
	Env string `json:"-"`
	// Parameter is an SSM parameter's name (such as /app/api-url) or ARN; a
	// String or a SecureString.
	Parameter string `json:"parameter"`
	// SecretArn is a Secrets Manager secret's ARN (complete, with its
	// six-character suffix, or partial).
	SecretArn string `json:"secretArn"`
	// JSONKey takes one key of a secret's JSON value. Default: the whole value.
	JSONKey string `json:"jsonKey"`
	// KmsKeyArn is the customer-managed key that encrypts the parameter or
	// secret; the execution role may decrypt with it through SSM or Secrets
	// Manager only. Default: none (an AWS managed key needs no grant).
	KmsKeyArn string `json:"kmsKeyArn"`
}

var (
	envRe       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,254}$`)
	paramNameRe = regexp.MustCompile(`^/?[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$`)
	paramArnRe  = regexp.MustCompile(`^arn:aws[a-z-]*:ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+$`)
	secretArnRe = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$`)
	kmsArnRe    = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$`)
)

// ValidateSecrets reports every problem of secrets, naming the variable,
// the value and what is allowed. owner starts each message.
func ValidateSecrets(owner string, secrets []Secret) error {
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: secret %s: "+format, append([]any{owner, env}, args...)...))
	}
	seen := map[string]bool{}
	for _, s := range secrets {
		switch {
		case !envRe.MatchString(s.Env):
			bad(s.Env, "%q is not a variable name: use letters, digits and '_', not starting with a digit", s.Env)
		case slices.Contains(Set, s.Env):
			bad(s.Env, "the name is part of the worker's contract (%s): choose another name", strings.Join(Set, ", "))
		case strings.HasPrefix(s.Env, "AWS_") || strings.HasPrefix(s.Env, "ECS_"):
			bad(s.Env, "names starting with AWS_ or ECS_ belong to AWS and the ECS agent: choose another name")
		case seen[s.Env]:
			bad(s.Env, "the variable is given twice: give it one source")
		}
		seen[s.Env] = true
		switch {
		case (s.Parameter == "") == (s.SecretArn == ""):
			bad(s.Env, "give exactly one of an SSM parameter (name or ARN) and a Secrets Manager secret ARN")
		case s.Parameter != "" && !paramNameRe.MatchString(s.Parameter) && !paramArnRe.MatchString(s.Parameter):
			bad(s.Env, "parameter %q: must be a parameter name such as /app/api-url or an ARN such as arn:aws:ssm:eu-west-1:123456789012:parameter/app/api-url", s.Parameter)
		case s.Parameter != "" && s.JSONKey != "":
			bad(s.Env, "jsonKey %q applies to Secrets Manager secrets only", s.JSONKey)
		case s.SecretArn != "" && !secretArnRe.MatchString(s.SecretArn):
			bad(s.Env, "secret %q: must be a Secrets Manager ARN such as arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/token-AbCdEf", s.SecretArn)
		}
		if s.JSONKey != "" && !envRe.MatchString(strings.ReplaceAll(s.JSONKey, "-", "_")) {
			bad(s.Env, "jsonKey %q: must be a plain JSON key such as password", s.JSONKey)
		}
		if s.KmsKeyArn != "" && !kmsArnRe.MatchString(s.KmsKeyArn) {
			bad(s.Env, "kmsKeyArn %q: must be a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", s.KmsKeyArn)
		}
	}
	return errors.Join(errs...)
}
