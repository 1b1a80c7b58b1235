// Package cdktest is what a construct's test needs: a TestMain that
// synthesizes as the app does (synthenv) and closes the jsii process, a
// stack to put the construct in, and the assertions API with its panics
// turned into test failures.
package cdktest

import (
	"fmt"
	"os"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/internal/synthenv"
)

// Main runs the package's tests: call it from TestMain.
func Main(m *testing.M) {
	synthenv.SkipBuiltInValidation()
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// Stack is a new environment-agnostic stack in a new app.
func Stack() awscdk.Stack {
	return awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Test"), nil)
}

// Template synthesizes stack.
func Template(t testing.TB, stack awscdk.Stack) assertions.Template {
	t.Helper()
	var tmpl assertions.Template
	Assert(t, func() { tmpl = assertions.Template_FromStack(stack, nil) })
	return tmpl
}

// Assert runs an assertion of the assertions API (they panic on a mismatch)
// and turns its panic into a test failure with the message.
func Assert(t testing.TB, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%v", fmt.Sprint(r))
		}
	}()
	assertion()
}
