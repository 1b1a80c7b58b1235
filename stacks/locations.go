package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/router"
	routercontract "github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workqueue"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// addLocations makes the region's work queue (with the ids the first
// version gave the one queue) and, when work is routed, the entry that
// routes to every location's queue: the region's here, each site's in its
// own stack (NewAnywhere), so the regional stack does not grow per site.
func (r *Regional) addLocations(key awskms.IKey, props *RegionalStackProps) error {
	stack := r.Stack
	wq, err := workqueue.New(stack, "WorkQueue", r.queueProps(""))
	if err != nil {
		return err
	}
	r.WorkQueue = wq
	r.tagQueue(wq)
	if !props.Routed {
		return nil
	}
	locations := append([]string{routercontract.RegionLocation}, props.SiteNames...)
	if r.Router, err = router.New(stack, "Entry", router.Props{Key: key, Locations: locations, Topics: props.EntryTopics, Fleet: props.Fleet}); err != nil {
		return err
	}
	return r.Router.Subscribe(wq.Queue(), routercontract.RegionLocation)
}

// queueProps are the settings of every work queue of the app.
func (r *Regional) queueProps(policy awscdk.RemovalPolicy) workqueue.Props {
	return workqueue.Props{Key: r.Key, MaxReceiveCount: r.maxReceiveCount, VisibilityTimeout: r.visibilityTimeout, RemovalPolicy: policy}
}

// tagQueue tags a work queue and its dead-letter queue with the app's
// stretched:fleet: the fleet's agent reads the backlog of those only.
func (r *Regional) tagQueue(q *workqueue.WorkQueue) {
	for _, queue := range []awssqs.IQueue{q.Queue(), q.DeadLetterQueue()} {
		awscdk.Tags_Of(queue).Add(jsii.String(stackscontract.FleetTagKey), jsii.String(r.Fleet), nil)
	}
}

// SiteQueue is a site's work queue, made in the site's stack: its own when
// work is routed (subscribed to the entry, kept with its messages when the
// site's stack is destroyed), the region's when work is shared.
func (r *Regional) SiteQueue(stack awscdk.Stack, site string) (*workqueue.WorkQueue, error) {
	if r.Router == nil {
		return r.WorkQueue, nil
	}
	sq, err := workqueue.New(stack, "WorkQueue", r.queueProps(awscdk.RemovalPolicy_RETAIN))
	if err != nil {
		return nil, err
	}
	r.tagQueue(sq)
	return sq, r.Router.Subscribe(sq.Queue(), site)
}
