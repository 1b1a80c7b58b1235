// Package storage is the regional worker's /data: an encrypted EFS file
// system (elastic throughput, infrequent access after 30 days, AWS Backup's
// daily plan, RETAIN so a destroy never deletes the data) with mount
// targets in the subnets the tasks run in.
//
// It is added to scope as "FileSystem", the id the first version gave it:
// construct ids are API.
package storage

import (
	"errors"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Props configure the file system.
type Props struct {
	// Vpc of the mount targets. Required.
	Vpc awsec2.IVpc
	// Subnets of the mount targets: where the tasks run. Required.
	Subnets *awsec2.SubnetSelection
}

// New adds the file system to scope.
func New(scope constructs.Construct, props Props) (awsefs.FileSystem, error) {
	if props.Vpc == nil || props.Subnets == nil {
		return nil, errors.New("storage: Vpc or Subnets is nil: give the network's VPC and task subnets")
	}
	return awsefs.NewFileSystem(scope, jsii.String("FileSystem"), &awsefs.FileSystemProps{
		Vpc:                    props.Vpc,
		Encrypted:              jsii.Bool(true),
		PerformanceMode:        awsefs.PerformanceMode_GENERAL_PURPOSE,
		ThroughputMode:         awsefs.ThroughputMode_ELASTIC,
		LifecyclePolicy:        awsefs.LifecyclePolicy_AFTER_30_DAYS,
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
		EnableAutomaticBackups: jsii.Bool(true),
		VpcSubnets:             props.Subnets,
	}), nil
}
