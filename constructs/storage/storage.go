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

func (p Props) validate() error {
	if p.Vpc == nil || p.Subnets == nil {
		return errors.New("storage: Vpc or Subnets is nil: give the network's VPC and task subnets")
	}
	return nil
}

// Storage is the file system. Its construct is the file system itself (id
// is the file system's, no scope of its own): the regional stack passes the
// first version's id.
type Storage struct {
	constructs.Construct
	fs awsefs.FileSystem
}

// FileSystem is the EFS file system.
func (s *Storage) FileSystem() awsefs.FileSystem { return s.fs }

// New makes the file system.
func New(scope constructs.Construct, id string, props Props) (*Storage, error) {
	if err := props.validate(); err != nil {
		return nil, err
	}
	fs := awsefs.NewFileSystem(scope, jsii.String(id), &awsefs.FileSystemProps{
		Vpc:                    props.Vpc,
		Encrypted:              jsii.Bool(true),
		PerformanceMode:        awsefs.PerformanceMode_GENERAL_PURPOSE,
		ThroughputMode:         awsefs.ThroughputMode_ELASTIC,
		LifecyclePolicy:        awsefs.LifecyclePolicy_AFTER_30_DAYS,
		RemovalPolicy:          awscdk.RemovalPolicy_RETAIN,
		EnableAutomaticBackups: jsii.Bool(true),
		VpcSubnets:             props.Subnets,
	})
	return &Storage{Construct: fs, fs: fs}, nil
}
