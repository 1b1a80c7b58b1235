// Command floor is the smallest CDK for Go app (one stack, one queue),
// built from this module's CDK modules: bench/synth.sh synthesizes it beside
// the real app to measure how far the app's synth is above what any CDK for
// Go app costs on this machine.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Floor"), nil)
	awssqs.NewQueue(stack, jsii.String("Queue"), &awssqs.QueueProps{Encryption: awssqs.QueueEncryption_SQS_MANAGED})
	app.Synth(nil)
}
