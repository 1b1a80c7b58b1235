// Package synthenv sets up the environment a synthesis of this app runs in.
package synthenv

import (
	"os"

	"github.com/aws/jsii-runtime-go"
)

// BuiltInValidation is the environment variable that turns aws-cdk-lib's own
// CloudFormation validation at synth on ("true") or off ("false").
const BuiltInValidation = "CDK_VALIDATION"

// SkipBuiltInValidation turns off aws-cdk-lib's built-in CloudFormation
// validation (a WebAssembly port of cfn-lint's rules run on every synth:
// about 3.7 s of CPU per synth on a 2-core machine, more than the rest of
// the app's synth) unless the user set CDK_VALIDATION. The same templates
// are checked by the real cfn-lint and by cfn-guard with the Control Tower
// rules in `make test`, which the pipeline runs before it deploys, and
// cdk-nag still fails every synth. CDK_VALIDATION=true turns it back on.
//
// Call it before the first CDK call. The jsii kernel process (Node) reads
// the setting from its environment, and the CDK packages' init functions
// have already prepared that process with the environment as it was then;
// closing the not yet started process makes the first call start a new one
// that has the setting.
func SkipBuiltInValidation() {
	if _, set := os.LookupEnv(BuiltInValidation); !set {
		os.Setenv(BuiltInValidation, "false")
		jsii.Close()
	}
}
