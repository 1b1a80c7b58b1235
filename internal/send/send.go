// Package send is the producer side of the app: it sends file names as work
// to a location, through the entry topic with the location message
// attribute (routed work) or to the one queue (shared work), ten per call.
// It reads where to send from the regional stack's outputs and the site
// directory (a site's entry topic), and checks every
// name with the worker's own rule before sending any. It imports no CDK.
package send

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	routercontract "github.com/ecs-anywhere-stretched/stretched/constructs/router/contract"
	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	workerspeccontract "github.com/ecs-anywhere-stretched/stretched/constructs/workerspec/contract"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Target is where work goes, from the regional stack's outputs and the
// site directory.
type Target struct {
	// Topic is the entry topic of the location (routed work); empty when
	// work is shared.
	Topic string
	// Queue is the one queue of shared work.
	Queue string
	// Locations are the names work may be sent to (as far as known: the
	// location asked for when it exists, or the directory's when not).
	Locations []string
}

// Directory is what Locate reads of the site directory; *ssm.Client
// satisfies it.
type Directory interface {
	GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	GetParametersByPath(context.Context, *ssm.GetParametersByPathInput, ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
}

// Locate finds where work for location goes: the region's from the
// regional stack's outputs (stack, out), a site's from its entry in the
// site directory (its entry topic), so nothing here grows with the sites.
// An unknown location gives a Target without it, naming those known.
func Locate(ctx context.Context, dir Directory, stack, prefix string, out map[string]string, location string) (Target, error) {
	var t Target
	topics := strings.Split(cmp.Or(out[stackscontract.OutputEntryTopics], out[stackscontract.OutputEntryTopic]), ",")
	switch {
	case out[stackscontract.OutputWork] == routercontract.WorkShared && out[stackscontract.OutputQueueURL] != "":
		t.Queue = out[stackscontract.OutputQueueURL]
	case out[stackscontract.OutputWork] == routercontract.WorkRouted && topics[0] != "":
		t.Topic = topics[routercontract.Topic(location, len(topics))]
	default:
		return t, fmt.Errorf("%s has no outputs %s and %s or %s: deploy this version of the app (make deploy) first", stack, stackscontract.OutputWork, stackscontract.OutputEntryTopics, stackscontract.OutputQueueURL)
	}
	if location == routercontract.RegionLocation {
		t.Locations = []string{location}
		return t, nil
	}
	if !routercontract.Location.MatchString(location) {
		return t, nil // Check names the location as unknown
	}
	entry, err := Entry(ctx, dir, prefix, location)
	var missing *ssmtypes.ParameterNotFound
	switch {
	case errors.As(err, &missing):
		known, err := knownLocations(ctx, dir, prefix)
		t.Locations = known
		return t, err
	case err != nil:
		return t, err
	}
	if topic, _ := entry[siteagentcontract.DirEntryTopic].(string); t.Topic != "" && topic != "" {
		t.Topic = topic
	}
	t.Locations = []string{location}
	return t, nil
}

// Entry is a site's entry in the site directory (/<prefix>/sites/<site>,
// JSON). The error of a missing entry wraps *ssmtypes.ParameterNotFound.
func Entry(ctx context.Context, dir Directory, prefix, site string) (map[string]any, error) {
	path := siteagentcontract.SiteDirectory(prefix) + "/" + site
	got, err := dir.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(path)})
	if err != nil {
		return nil, fmt.Errorf("read the site directory entry %s: %w", path, err)
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(got.Parameter.Value)), &entry); err != nil {
		return nil, fmt.Errorf("site directory entry %s is not JSON (%w): deploy the site's stack again", path, err)
	}
	return entry, nil
}

// knownLocations are the region and the directory's sites, for an error
// message: the first 20, sorted.
func knownLocations(ctx context.Context, dir Directory, prefix string) ([]string, error) {
	sites, err := SiteNames(ctx, dir, prefix, maxListed)
	out := append([]string{routercontract.RegionLocation}, sites...)
	slices.Sort(out)
	if len(out) > maxListed {
		out = append(out[:maxListed], "…")
	}
	return out, err
}

// SiteNames are the names of the sites in the app's directory: every one,
// or with most > 0, those of the first pages until at least most are read
// (for a message that names a few).
func SiteNames(ctx context.Context, dir Directory, prefix string, most int) ([]string, error) {
	var out []string
	pages := ssm.NewGetParametersByPathPaginator(dir, &ssm.GetParametersByPathInput{Path: aws.String(siteagentcontract.SiteDirectory(prefix)), MaxResults: aws.Int32(10)})
	for pages.HasMorePages() && (most <= 0 || len(out) < most) {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return out, fmt.Errorf("list the site directory %s: %w", siteagentcontract.SiteDirectory(prefix), err)
		}
		for _, p := range page.Parameters {
			out = append(out, path.Base(aws.ToString(p.Name)))
		}
	}
	return out, nil
}

// maxListed is how many locations an unknown location's error names.
const maxListed = 20

// Check returns every problem with a send, joined: an unknown location, and
// each name the worker would refuse (with its place in the list).
func Check(t Target, location string, files []string) error {
	var errs []error
	if !slices.Contains(t.Locations, location) {
		errs = append(errs, fmt.Errorf("unknown location %q: the locations are %s", location, strings.Join(t.Locations, ", ")))
	}
	if len(files) == 0 {
		errs = append(errs, errors.New("no file names: give them as arguments or one per line on standard input"))
	}
	for i, f := range files {
		if err := workerspeccontract.CheckName(f); err != nil {
			errs = append(errs, fmt.Errorf("name %d (%s): %w; the worker would refuse it", i+1, strconv.QuoteToASCII(f), err))
		}
	}
	return errors.Join(errs...)
}

// ReadNames reads one name per line; blank lines are skipped.
func ReadNames(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line != "" {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read names: %w", err)
	}
	return out, nil
}

// Clients are the calls send makes; *sns.Client and *sqs.Client satisfy them.
type Clients struct {
	SNS interface {
		PublishBatch(context.Context, *sns.PublishBatchInput, ...func(*sns.Options)) (*sns.PublishBatchOutput, error)
	}
	SQS interface {
		SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	}
}

// attempts is how often an entry a batch call refused is sent again.
const attempts = 3

// Send sends files to location, ten per call; it returns how many were
// sent. An entry refused by SNS or SQS is sent again, up to attempts times;
// the error names every file not sent, so nothing is lost silently.
func Send(ctx context.Context, c Clients, t Target, location string, files []string) (int, error) {
	if err := Check(t, location, files); err != nil {
		return 0, err
	}
	sent := 0
	var failed []string
	for start := 0; start < len(files); start += 10 {
		batch := files[start:min(start+10, len(files))]
		for attempt := 1; len(batch) > 0 && attempt <= attempts; attempt++ {
			refused, reasons, err := c.batch(ctx, t, location, batch)
			if err != nil {
				return sent, fmt.Errorf("send to %s: %w (%d of %d sent; the rest were not)", location, err, sent, len(files))
			}
			sent += len(batch) - len(refused)
			batch = refused
			if attempt == attempts {
				for i, f := range refused {
					failed = append(failed, fmt.Sprintf("%s (%s)", strconv.QuoteToASCII(f), reasons[i]))
				}
			}
		}
	}
	if len(failed) > 0 {
		return sent, fmt.Errorf("%d name(s) were refused %d times and not sent: %s", len(failed), attempts, strings.Join(failed, ", "))
	}
	return sent, nil
}

// batch sends up to ten files in one call; it returns those refused.
func (c Clients) batch(ctx context.Context, t Target, location string, files []string) (refused, reasons []string, err error) {
	collect := func(id, code, msg *string) {
		i, _ := strconv.Atoi(aws.ToString(id))
		refused = append(refused, files[i])
		reasons = append(reasons, aws.ToString(code)+": "+aws.ToString(msg))
	}
	if t.Topic != "" {
		entries := make([]snstypes.PublishBatchRequestEntry, len(files))
		for i, f := range files {
			entries[i] = snstypes.PublishBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), Message: aws.String(f),
				MessageAttributes: map[string]snstypes.MessageAttributeValue{
					routercontract.Attribute: {DataType: aws.String("String"), StringValue: aws.String(location)},
				},
			}
		}
		out, err := c.SNS.PublishBatch(ctx, &sns.PublishBatchInput{TopicArn: aws.String(t.Topic), PublishBatchRequestEntries: entries})
		if err != nil {
			return nil, nil, err
		}
		for _, f := range out.Failed {
			collect(f.Id, f.Code, f.Message)
		}
		return refused, reasons, nil
	}
	entries := make([]sqstypes.SendMessageBatchRequestEntry, len(files))
	for i, f := range files {
		entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(f)}
	}
	out, err := c.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(t.Queue), Entries: entries})
	if err != nil {
		return nil, nil, err
	}
	for _, f := range out.Failed {
		collect(f.Id, f.Code, f.Message)
	}
	return refused, reasons, nil
}
