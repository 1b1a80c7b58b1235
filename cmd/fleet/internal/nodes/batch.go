// Package nodes is what fleet node does for a site's machines: the
// dedicated activation a batch of machines joins with (fleet node
// userdata). It imports no CDK.
package nodes

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/awserr"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Bounds of a batch.
const (
	MaxNodes = 1000 // SSM's registration limit of one activation
	// MinExpiry and MaxExpiry bound how long a batch's activation accepts
	// machines (SSM allows up to 30 days).
	MinExpiry     = time.Hour
	MaxExpiry     = 30 * 24 * time.Hour
	DefaultExpiry = 24 * time.Hour
)

// Batch is a dedicated activation for some machines of one site: limited
// to their number and a short time, tagged with the site's stack so the
// site's destroy deletes it with the site's own.
type Batch struct {
	Site string
	// Nodes is how many machines may register with it.
	Nodes int
	// Expires is how long it accepts them.
	Expires time.Duration
}

// Validate returns every problem of b.
func (b Batch) Validate() error {
	var errs []error
	if b.Nodes < 1 || b.Nodes > MaxNodes {
		errs = append(errs, fmt.Errorf("--nodes is %d: give how many machines this user data joins, 1 to %d", b.Nodes, MaxNodes))
	}
	if b.Expires < MinExpiry || b.Expires > MaxExpiry {
		errs = append(errs, fmt.Errorf("--expires is %s: give %s to %s (SSM keeps an activation at most 30 days; shorter is safer, the user data holds its code)", b.Expires, MinExpiry, MaxExpiry))
	}
	return errors.Join(errs...)
}

// Activation is a batch's activation.
type Activation struct {
	ID, Code string
	Expiry   time.Time
}

// SSM is the call a batch makes; *ssm.Client satisfies it.
type SSM interface {
	CreateActivation(context.Context, *ssm.CreateActivationInput, ...func(*ssm.Options)) (*ssm.CreateActivationOutput, error)
}

// Create makes b's activation for the site whose directory entry is entry:
// its instance role, registration limit b.Nodes, expiry now+b.Expires,
// tagged like the site's own (stretched:stack, site, cluster).
func Create(ctx context.Context, api SSM, b Batch, entry map[string]any, now time.Time) (Activation, error) {
	role, _ := entry[siteagentcontract.DirInstanceRole].(string)
	stack, _ := entry[siteagentcontract.DirStack].(string)
	cluster, _ := entry[siteagentcontract.DirCluster].(string)
	if role == "" || stack == "" || cluster == "" {
		return Activation{}, fmt.Errorf("site %s's directory entry names no instance role, stack or cluster: deploy the site's stack of this version (make deploy), then run this again", b.Site)
	}
	expiry := now.Add(b.Expires).UTC().Truncate(time.Second)
	out, err := api.CreateActivation(ctx, &ssm.CreateActivationInput{
		IamRole:             aws.String(role),
		RegistrationLimit:   aws.Int32(int32(b.Nodes)),
		ExpirationDate:      aws.Time(expiry),
		DefaultInstanceName: aws.String(b.Site),
		Description:         aws.String(fmt.Sprintf("batch of %d machine(s) for site %s, made by fleet node userdata", b.Nodes, b.Site)),
		Tags: []ssmtypes.Tag{
			{Key: aws.String(stackscontract.StackTagKey), Value: aws.String(stack)},
			{Key: aws.String("site"), Value: aws.String(b.Site)},
			{Key: aws.String("cluster"), Value: aws.String(cluster)},
		},
	})
	if err != nil {
		return Activation{}, fmt.Errorf("create the batch's activation for site %s: %w (the credentials need the site's NodeOperatorPolicyArn)", b.Site, awserr.Explain(err))
	}
	return Activation{ID: aws.ToString(out.ActivationId), Code: aws.ToString(out.ActivationCode), Expiry: expiry}, nil
}
