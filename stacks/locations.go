package stacks

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/ecs-anywhere-stretched/stretched/constructs/router"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workerspec"
	"github.com/ecs-anywhere-stretched/stretched/constructs/workqueue"
	"github.com/ecs-anywhere-stretched/stretched/internal/names"
)

// addLocations makes the work queues: the region's (with the ids the first
// version gave the one queue), one per site when work is routed, and the
// entry that routes to them.
func (r *Regional) addLocations(key awskms.IKey, props *RegionalStackProps) error {
	stack := r.Stack
	queueProps := func(policy awscdk.RemovalPolicy) workqueue.Props {
		return workqueue.Props{Key: key, MaxReceiveCount: props.MaxReceiveCount, VisibilityTimeout: props.VisibilityTimeout, RemovalPolicy: policy}
	}
	wq, err := workqueue.New(stack, "WorkQueue", queueProps(""))
	if err != nil {
		return err
	}
	r.WorkQueue = wq
	// The fleet's agent reads the backlog of queues with the app's tag only.
	tag := func(q *workqueue.WorkQueue) {
		for _, queue := range []awssqs.IQueue{q.Queue(), q.DeadLetterQueue()} {
			awscdk.Tags_Of(queue).Add(jsii.String(names.FleetTagKey), jsii.String(props.Fleet), nil)
		}
	}
	tag(wq)
	r.Queues = map[string]*workqueue.WorkQueue{names.RegionLocation: wq}
	for _, site := range props.Sites {
		r.Queues[site.Name] = wq
		if !props.Routed {
			continue
		}
		// In the regional stack, beside the region's: destroying a site
		// stack leaves its queue and messages; removing the site from the
		// configuration leaves them too (RETAIN).
		sq, err := workqueue.New(stack, "WorkQueue-"+site.Name, queueProps(awscdk.RemovalPolicy_RETAIN))
		if err != nil {
			return fmt.Errorf("site %q: %w", site.Name, err)
		}
		r.Queues[site.Name] = sq
		tag(sq)
	}
	if props.Routed {
		byLocation := map[string]awssqs.IQueue{}
		for name, q := range r.Queues {
			byLocation[name] = q.Queue()
		}
		if r.Router, err = router.New(stack, "Entry", router.Props{Key: key, Queues: byLocation, Fleet: props.Fleet}); err != nil {
			return err
		}
	}

	return nil
}

// QueueFor is the queue of a location: "region" or a site's name.
func (r *Regional) QueueFor(location string) *workqueue.WorkQueue { return r.Queues[location] }

// distinctQueues are the work queues, each once, the region's first.
func (r *Regional) distinctQueues() []workerspec.Queue {
	out := []workerspec.Queue{r.WorkQueue}
	for _, name := range r.locationNames() {
		if q := r.Queues[name]; q != r.WorkQueue {
			out = append(out, q)
		}
	}
	return out
}

// locationNames are the locations, sorted.
func (r *Regional) locationNames() []string {
	out := make([]string, 0, len(r.Queues))
	for name := range r.Queues {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
