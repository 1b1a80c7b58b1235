package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/awserr"
)

// DirectoryAPI is what the fleet agent calls of Parameter Store.
type DirectoryAPI interface {
	GetParametersByPath(context.Context, *ssm.GetParametersByPathInput, ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error)
}

// Defaults of the fleet agent.
const (
	// DefaultSiteTimeout bounds one site's run: a site whose calls hang
	// cannot starve the others.
	DefaultSiteTimeout = 10 * time.Second
	// DefaultParallel sites run at once.
	DefaultParallel = 8
)

// Fleet runs the agent of every site in the site directory, once a minute
// (and for one site when a node of its cluster changes state), each site
// bounded in time and failing alone.
type Fleet struct {
	SSM DirectoryAPI
	ECS ServiceAPI
	SQS QueueAPI
	// Directory is the path of the site directory (contract.SiteDirectory).
	Directory string
	// SiteTimeout bounds each site's run; Parallel sites run at once.
	SiteTimeout time.Duration
	Parallel    int
	Log         *slog.Logger
	// Metrics receives the fleet's metrics line after each run of every site.
	Metrics io.Writer
	Now     func() time.Time
}

// FleetFromEnv reads the fleet agent's settings from its environment.
func FleetFromEnv(getenv func(string) string) (Fleet, error) {
	dir := getenv(contract.EnvDirectory)
	if !strings.HasPrefix(dir, "/") {
		return Fleet{}, fmt.Errorf("site agent environment: %s is %q: must be the site directory's path, such as /EcsWorker/sites; redeploy the regional stack", contract.EnvDirectory, dir)
	}
	return Fleet{Directory: dir, SiteTimeout: DefaultSiteTimeout, Parallel: DefaultParallel}, nil
}

// Site is one entry of the site directory.
type Site struct {
	Name     string `json:"site"`
	Cluster  string `json:"cluster"`
	Service  string `json:"service"`
	QueueURL string `json:"queueUrl"`
	// DeadLetterQueueURL is read for its depth; empty (an entry of an
	// earlier version) is not read.
	DeadLetterQueueURL string `json:"deadLetterQueueUrl"`
	MinTasks           int    `json:"minTasks"`
	MaxTasks           int    `json:"maxTasks"`
	BacklogPerTask     int    `json:"backlogPerTask"`
}

func (s Site) validate() error {
	var errs []error
	for k, v := range map[string]string{contract.DirSite: s.Name, contract.DirCluster: s.Cluster, contract.DirService: s.Service, contract.DirQueueURL: s.QueueURL} {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is empty", k))
		}
	}
	// The bounds the configuration and the construct check, once more: an
	// entry written by hand, or by another version, is read here.
	for _, p := range (contract.SiteSettings{MinTasks: s.MinTasks, MaxTasks: s.MaxTasks}).Problems() {
		errs = append(errs, p)
	}
	if s.BacklogPerTask < 1 {
		errs = append(errs, fmt.Errorf("%s is %d: must be at least 1", contract.DirBacklogPerTask, s.BacklogPerTask))
	}
	return errors.Join(errs...)
}

// Sites reads the site directory, every page. An entry that does not parse
// is returned as an error naming the parameter; the others are still read.
func (f *Fleet) Sites(ctx context.Context) ([]Site, error) {
	var sites []Site
	var errs []error
	in := &ssm.GetParametersByPathInput{Path: aws.String(f.Directory), MaxResults: aws.Int32(10)}
	for {
		out, err := f.SSM.GetParametersByPath(ctx, in)
		if err != nil {
			return sites, fmt.Errorf("read the site directory %s: %w", f.Directory, awserr.Explain(err))
		}
		for _, p := range out.Parameters {
			var s Site
			if err := json.Unmarshal([]byte(aws.ToString(p.Value)), &s); err != nil {
				errs = append(errs, fmt.Errorf("site directory entry %s: not JSON (%v): redeploy its site's stack", aws.ToString(p.Name), err))
				continue
			}
			if err := s.validate(); err != nil {
				errs = append(errs, fmt.Errorf("site directory entry %s: %w: redeploy its site's stack", aws.ToString(p.Name), err))
				continue
			}
			sites = append(sites, s)
		}
		if aws.ToString(out.NextToken) == "" {
			return sites, errors.Join(errs...)
		}
		in.NextToken = out.NextToken
	}
}

// FleetReport is what one run of the fleet agent did, by site.
type FleetReport struct {
	Sites map[string]Report
	// Failed are the sites whose run failed, with why.
	Failed map[string]string
}

// Event is the part of the EventBridge event the agent reads: a container
// instance state change names its cluster; a schedule names none.
type Event struct {
	DetailType string `json:"detail-type"`
	Detail     struct {
		ClusterArn string `json:"clusterArn"`
	} `json:"detail"`
}

// Handle runs the sites an event concerns: every site on a schedule, the
// site of the cluster when a node changed state (no site: nothing to do).
func (f *Fleet) Handle(ctx context.Context, e Event) (FleetReport, error) {
	cluster := ""
	if arn := e.Detail.ClusterArn; arn != "" {
		cluster = arn[strings.LastIndex(arn, "/")+1:]
	}
	return f.Run(ctx, cluster)
}

// Run runs the agent of every site in the directory (of only the site
// whose cluster is onlyCluster, when it is set), Parallel at a time, each
// within SiteTimeout. A site that fails does not stop the others; the
// error names every site that failed.
func (f *Fleet) Run(ctx context.Context, onlyCluster string) (FleetReport, error) {
	rep := FleetReport{Sites: map[string]Report{}, Failed: map[string]string{}}
	sites, dirErr := f.Sites(ctx)
	var mu sync.Mutex
	var errs []error
	if dirErr != nil {
		errs = append(errs, dirErr)
	}
	sem := make(chan struct{}, max(f.Parallel, 1))
	var wg sync.WaitGroup
	for _, s := range sites {
		if onlyCluster != "" && s.Cluster != onlyCluster {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			sctx, cancel := context.WithTimeout(ctx, f.SiteTimeout)
			defer cancel()
			a := Scaler{ECS: f.ECS, SQS: f.SQS, Cluster: s.Cluster, Service: s.Service, QueueURL: s.QueueURL, DeadLetterQueueURL: s.DeadLetterQueueURL,
				MinTasks: s.MinTasks, MaxTasks: s.MaxTasks, BacklogPerTask: s.BacklogPerTask,
				Log: f.Log.With("site", s.Name)}
			r, err := a.Run(sctx)
			mu.Lock()
			defer mu.Unlock()
			rep.Sites[s.Name] = r
			if err != nil {
				if sctx.Err() != nil {
					err = fmt.Errorf("%w (the site's run is bounded to %v)", err, f.SiteTimeout)
				}
				rep.Failed[s.Name] = err.Error()
				f.Log.Error("site agent run failed", "site", s.Name, "error", err)
				errs = append(errs, fmt.Errorf("site %s: %w", s.Name, err))
			}
		}()
	}
	wg.Wait()
	f.Log.Info("fleet agent run", "sites", len(rep.Sites), "failed", len(rep.Failed))
	if onlyCluster == "" {
		// A run for one site's node event would count one site only.
		if err := f.writeMetrics(rep); err != nil {
			errs = append(errs, err)
		}
	}
	return rep, errors.Join(errs...)
}

// FleetName is the app's stack prefix, from the site directory's path
// (/<prefix>/sites): the dimension of the fleet's metrics.
func (f *Fleet) FleetName() string {
	return strings.Split(strings.TrimPrefix(f.Directory, "/"), "/")[0]
}

// writeMetrics writes one embedded-metric-format line: how many sites the
// run served, and how many of them are offline, have a node disconnected
// while online, or run fewer tasks than desired while online. A count the
// run could not read (contract.MetricSitesFailed counts those sites) is in none.
func (f *Fleet) writeMetrics(rep FleetReport) error {
	line := map[string]any{contract.DimensionFleet: f.FleetName(), contract.MetricSites: len(rep.Sites), contract.MetricSitesFailed: len(rep.Failed)}
	for _, m := range []string{contract.MetricSitesOffline, contract.MetricSitesNodeDisconnected, contract.MetricSitesTasksBelowDesired, contract.MetricSitesDeadLetters} {
		line[m] = 0
	}
	for _, r := range rep.Sites {
		for m, yes := range map[string]bool{contract.MetricSitesOffline: r.Offline(), contract.MetricSitesNodeDisconnected: r.NodeDisconnected(),
			contract.MetricSitesTasksBelowDesired: r.TasksBelowDesired(), contract.MetricSitesDeadLetters: r.DeadLetters > 0} {
			if yes {
				line[m] = line[m].(int) + 1
			}
		}
	}
	defs := make([]map[string]string, len(contract.FleetMetrics))
	for i, m := range contract.FleetMetrics {
		defs[i] = map[string]string{"Name": m, "Unit": "Count"}
	}
	line["_aws"] = map[string]any{
		"Timestamp": f.Now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  contract.MetricNamespace,
			"Dimensions": [][]string{{contract.DimensionFleet}},
			"Metrics":    defs,
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("encode the fleet metrics: %w", err)
	}
	if _, err := fmt.Fprintf(f.Metrics, "%s\n", b); err != nil {
		return fmt.Errorf("write the fleet metrics: %w", err)
	}
	return nil
}
