package send

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	routercontract "github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
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
		f.published[body] = aws.ToString(e.MessageAttributes[routercontract.Attribute].StringValue)
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

// fakeDirectory is a site directory: parameter name -> value.
type fakeDirectory map[string]string

func (d fakeDirectory) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	v, ok := d[aws.ToString(in.Name)]
	if !ok {
		return nil, &ssmtypes.ParameterNotFound{Message: aws.String("not found")}
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: in.Name, Value: aws.String(v)}}, nil
}

func (d fakeDirectory) GetParametersByPath(_ context.Context, in *ssm.GetParametersByPathInput, _ ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error) {
	out := &ssm.GetParametersByPathOutput{}
	for k, v := range d {
		if strings.HasPrefix(k, aws.ToString(in.Path)+"/") {
			out.Parameters = append(out.Parameters, ssmtypes.Parameter{Name: aws.String(k), Value: aws.String(v)})
		}
	}
	return out, nil
}

// A site's work goes to its entry topic as its directory entry says; the
// region's to its topic among the outputs'; an unknown location names the
// known ones; a stack without the outputs says to deploy.
func TestLocate(t *testing.T) {
	ctx := context.Background()
	topics := "arn:t1,arn:t2,arn:t3"
	dir := fakeDirectory{"/W/sites/factory": `{"site":"factory","entryTopicArn":"arn:t2"}`, "/W/sites/pi": `{"site":"pi"}`}
	routed := map[string]string{stackscontract.OutputEntryTopics: topics, stackscontract.OutputEntryTopic: "arn:t1", stackscontract.OutputWork: routercontract.WorkRouted}
	got, err := Locate(ctx, dir, "W-Regional", "W", routed, "factory")
	if err != nil || got.Topic != "arn:t2" || Check(got, "factory", []string{"a"}) != nil {
		t.Errorf("factory: %+v %v", got, err)
	}
	got, err = Locate(ctx, dir, "W-Regional", "W", routed, "region")
	if want := strings.Split(topics, ",")[routercontract.Topic("region", 3)]; err != nil || got.Topic != want {
		t.Errorf("region: %+v %v, want topic %s", got, err, want)
	}
	// An entry of an earlier version without its topic: the topic by hash.
	got, _ = Locate(ctx, dir, "W-Regional", "W", routed, "pi")
	if want := strings.Split(topics, ",")[routercontract.Topic("pi", 3)]; got.Topic != want {
		t.Errorf("pi: %+v, want topic %s", got, want)
	}
	got, err = Locate(ctx, dir, "W-Regional", "W", routed, "mars")
	if err != nil {
		t.Fatal(err)
	}
	errcheck.Contains(t, Check(got, "mars", []string{"a"}), `unknown location "mars": the locations are factory, pi, region`)
	shared, err := Locate(ctx, dir, "W-Regional", "W", map[string]string{stackscontract.OutputQueueURL: "https://q", stackscontract.OutputWork: routercontract.WorkShared}, "factory")
	if err != nil || shared.Topic != "" || shared.Queue != "https://q" {
		t.Errorf("shared: %+v %v", shared, err)
	}
	_, err = Locate(ctx, dir, "W-Regional", "W", map[string]string{stackscontract.OutputQueueURL: "https://q"}, "factory")
	errcheck.Contains(t, err, "W-Regional has no outputs Work", "make deploy")
}

func TestReadNames(t *testing.T) {
	got, err := ReadNames(strings.NewReader("001\r\n\n002\n 003 \n"))
	if err != nil || strings.Join(got, "|") != "001|002| 003 " {
		t.Errorf("got %q, %v", got, err)
	}
}
