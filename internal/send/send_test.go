package send

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/ecs-anywhere-stretched/stretched/internal/names"
	"github.com/ecs-anywhere-stretched/stretched/internal/route"
	"github.com/ecs-anywhere-stretched/stretched/internal/testkit/errcheck"
)

// fakeSNS records what is published and refuses the bodies in refuse, each
// the given number of times.
type fakeSNS struct {
	calls     int
	published map[string]string // body -> location
	refuse    map[string]int
}

func (f *fakeSNS) PublishBatch(_ context.Context, in *sns.PublishBatchInput, _ ...func(*sns.Options)) (*sns.PublishBatchOutput, error) {
	f.calls++
	out := &sns.PublishBatchOutput{}
	if len(in.PublishBatchRequestEntries) > 10 {
		return nil, &snstypes.TooManyEntriesInBatchRequestException{Message: aws.String("more than 10")}
	}
	for _, e := range in.PublishBatchRequestEntries {
		body := aws.ToString(e.Message)
		if f.refuse[body] > 0 {
			f.refuse[body]--
			out.Failed = append(out.Failed, snstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			continue
		}
		f.published[body] = aws.ToString(e.MessageAttributes[route.Attribute].StringValue)
	}
	return out, nil
}

var target = Target{Topic: "arn:aws:sns:eu-west-1:123456789012:entry", Locations: []string{"factory", "region"}}

func names25() []string {
	var out []string
	for i := range 25 {
		out = append(out, "f"+string(rune('a'+i)))
	}
	return out
}

func TestSendBatchesAndRetriesRefusedEntries(t *testing.T) {
	f := &fakeSNS{published: map[string]string{}, refuse: map[string]int{"fc": 2}}
	files := names25()
	n, err := Send(context.Background(), Clients{SNS: f}, target, "factory", files)
	if err != nil || n != len(files) {
		t.Fatalf("sent %d, %v; want all %d", n, err, len(files))
	}
	if f.calls != 5 { // three batches, and two more for the refused entry
		t.Errorf("%d PublishBatch calls, want 5 (ten per call, a refused entry sent again)", f.calls)
	}
	for _, name := range files {
		if f.published[name] != "factory" {
			t.Errorf("%s published with location %q", name, f.published[name])
		}
	}
}

func TestSendNamesWhatItCouldNotSend(t *testing.T) {
	f := &fakeSNS{published: map[string]string{}, refuse: map[string]int{"fb": 99}}
	n, err := Send(context.Background(), Clients{SNS: f}, target, "region", []string{"fa", "fb"})
	errcheck.Contains(t, err, `"fb" (InternalError: try again)`, "not sent")
	if n != 1 {
		t.Errorf("sent %d, want 1", n)
	}
}

func TestSendChecksBeforeSendingAnything(t *testing.T) {
	f := &fakeSNS{published: map[string]string{}}
	_, err := Send(context.Background(), Clients{SNS: f}, target, "mars", []string{"ok", "../etc/passwd", ""})
	errcheck.Contains(t, err, `unknown location "mars": the locations are factory, region`, `name 2 ("../etc/passwd"): name contains a path separator`, "name 3", "empty")
	if f.calls != 0 {
		t.Errorf("%d calls: nothing may be sent when a name or the location is bad", f.calls)
	}
}

func TestTargetFromOutputs(t *testing.T) {
	routed, err := TargetFromOutputs("EcsWorker-Regional", map[string]string{names.OutputEntryTopic: target.Topic, names.OutputLocations: "factory,region", names.OutputWork: "routed"})
	if err != nil || routed.Topic != target.Topic || len(routed.Locations) != 2 {
		t.Errorf("routed: %+v %v", routed, err)
	}
	shared, err := TargetFromOutputs("EcsWorker-Regional", map[string]string{names.OutputQueueURL: "https://q", names.OutputLocations: "factory,region", names.OutputWork: "shared"})
	if err != nil || shared.Topic != "" || shared.Queue != "https://q" {
		t.Errorf("shared: %+v %v", shared, err)
	}
	_, err = TargetFromOutputs("EcsWorker-Regional", map[string]string{names.OutputQueueURL: "https://q"})
	errcheck.Contains(t, err, "EcsWorker-Regional has no outputs Locations", "make deploy")
}

func TestReadNames(t *testing.T) {
	got, err := ReadNames(strings.NewReader("001\r\n\n002\n 003 \n"))
	if err != nil || strings.Join(got, "|") != "001|002| 003 " {
		t.Errorf("got %q, %v", got, err)
	}
}
