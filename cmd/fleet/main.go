// Command fleet sends work and tells whether a stretched ECS Anywhere
// deployment is healthy. `go run ./cmd/fleet send --location factory 001 002`
// sends file names to a location through the entry (names on standard input
// when none are given). Status: `go run ./cmd/fleet status` (or `make status`) prints, from the
// deployed stacks, the queue, the regional service and, per site, the
// activations, managed instances, container instances and service. Exit
// status: 0 healthy, 1 unhealthy (a node disconnected, tasks below desired,
// dead letters present, ...), 2 when it cannot tell (no credentials, no
// stack). It never reads or prints an activation code. After the upgrade
// to site queues in the site stacks, `fleet rehome --site S` moves the
// site's messages from the queues the regional stack held. Before that
// upgrade, `fleet prepare-upgrade` readies the site stacks of the earlier
// version for it (package upgrade).
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ecs-anywhere-stretched/stretched/cmd/fleet/internal/nodes"
	"github.com/ecs-anywhere-stretched/stretched/cmd/fleet/internal/rehome"
	"github.com/ecs-anywhere-stretched/stretched/cmd/fleet/internal/status"
	"github.com/ecs-anywhere-stretched/stretched/cmd/fleet/internal/upgrade"
	fleetmanagercontract "github.com/ecs-anywhere-stretched/stretched/constructs/fleetmanager/contract"
	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/awserr"
	"github.com/ecs-anywhere-stretched/stretched/internal/join"
	"github.com/ecs-anywhere-stretched/stretched/internal/send"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// Exit statuses.
const (
	exitHealthy   = 0
	exitUnhealthy = 1
	exitError     = 2
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, os.Stdin, stdout, stderr)
}

func runWith(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	usage := func() {
		for i, c := range commands {
			lead := "      "
			if i == 0 {
				lead = "usage:"
			}
			fmt.Fprintf(stderr, "%s fleet %s %s\n", lead, c.name, c.synopsis)
		}
		fmt.Fprintln(stderr, "every command, with a fleet of cells: [--map cdk.out/fleet-map.json] [--cell CELL] [--profile CELL=PROFILE ...] [--role CELL=ROLE_ARN ...] (docs/cells.md)")
		fmt.Fprintln(stderr, "fleet COMMAND -h: the command's flags")
	}
	if len(args) == 0 || !slices.Contains([]string{"status", "send", "rehome", "prepare-upgrade", "node"}, args[0]) {
		usage()
		return exitError
	}
	cmd := args[0]
	if cmd == "node" {
		if len(args) < 2 || !slices.Contains([]string{"userdata", "list", "drain", "retire", "update-agents"}, args[1]) {
			usage()
			return exitError
		}
		cmd, args = "node "+args[1], args[1:]
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	prefix := fs.String("prefix", stackscontract.DefaultStackPrefix, "stack prefix of the app (context key stackPrefix)")
	region := fs.String("region", "", "AWS region of the stacks (default: the AWS configuration's)")
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	location := fs.String("location", "", `where the files are: "region" or a site's name`)
	site := fs.String("site", "", siteUsage[cmd])
	deleteOld := fs.Bool("delete", false, "delete the old queues once empty")
	dryRun := fs.Bool("dry-run", false, "print what would change and change nothing")
	nodeCount := fs.Int("nodes", 1, "how many machines the user data joins: its activation's registration limit")
	expires := fs.Duration("expires", nodes.DefaultExpiry, "how long the user data's activation accepts machines, 1h to 720h")
	proxy := fs.String("proxy", "", "the HTTP(S) proxy the machines reach AWS through, http://host:port")
	noProxy := fs.String("no-proxy", "", "more addresses to reach without the proxy, comma-separated")
	gpu := fs.Bool("gpu", false, "install the ECS agent with GPU support")
	ecsVersion := fs.String("ecs-version", "", ecsVersionUsage[cmd])
	stage := fs.String("stage", join.StageFull, "full: install and join at first boot; image: install only, for a golden image (no activation); boot: join a machine made from such an image")
	wait := fs.Duration("wait", 10*time.Minute, waitUsage[cmd])
	force := fs.Bool("force", false, "retire even the last node running tasks, or one whose tasks did not move in time")
	format := fs.String("format", "cloud-init", "cloud-init: user data; script: a shell script to run as root on a machine without cloud-init")
	mapPath := fs.String("map", "", "the fleet map make synth writes (default "+defaultMap+", when it exists): with cells, a site's cell gives its account, region and stack prefix")
	cellName := fs.String("cell", "", "the one cell to go to (fleet map of cells; default: the site's cell, or every cell)")
	profiles, roles := cellFlag{}, cellFlag{}
	fs.Var(profiles, "profile", "CELL=PROFILE: the AWS profile of a cell's account (repeat per cell; default: the default credentials)")
	fs.Var(roles, "role", "CELL=ROLE_ARN: a role to assume in a cell's account (repeat per cell)")
	this := commandNamed(cmd)
	// Every command goes to a site's cell, or to every cell, the same way.
	allowed := append(slices.Clone(this.flags), cellFlags...)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fleet %s %s\n", cmd, this.synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			if slices.Contains(allowed, f.Name) {
				def := ""
				if f.DefValue != "" && f.DefValue != "false" {
					def = " (default " + f.DefValue + ")"
				}
				fmt.Fprintf(stderr, "  --%s\n    \t%s%s\n", f.Name, f.Usage, def)
			}
		})
	}
	if err := fs.Parse(args[1:]); err != nil {
		return exitError
	}
	var stray []string
	fs.Visit(func(f *flag.Flag) {
		if !slices.Contains(allowed, f.Name) {
			stray = append(stray, "--"+f.Name)
		}
	})
	if len(stray) > 0 {
		fmt.Fprintf(stderr, "fleet %s: %s does not apply to this command (fleet %s -h lists its flags)\n", cmd, strings.Join(stray, ", "), cmd)
		return exitError
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "fleet "+cmd+": "+format+"\n", a...)
		return exitError
	}
	var files []string
	if cmd == "send" {
		if *location == "" {
			return fail(`--location is required: "region" or a site's name`)
		}
		files = fs.Args()
		if len(files) == 0 {
			var err error
			if files, err = send.ReadNames(stdin); err != nil {
				return fail("%v", err)
			}
		}
	}
	var u join.Unattended
	var batch nodes.Batch
	if cmd == "node userdata" {
		if *site == "" {
			return fail("--site is required: the site the machines join")
		}
		if *format != "cloud-init" && *format != "script" {
			return fail(`--format is %q: give "cloud-init" or "script"`, *format)
		}
		if *ecsVersion != "" && fleetmanagercontract.Older(*ecsVersion, fleetmanagercontract.MinECSAgent) {
			return fail("--ecs-version %s is older than %s, the oldest ECS agent that runs the site's container restart policy: give %s or newer, or leave it out for the latest", *ecsVersion, fleetmanagercontract.MinECSAgent, fleetmanagercontract.MinECSAgent)
		}
		u = join.Unattended{Site: *site, Stage: *stage, Proxy: *proxy, GPU: *gpu, ECSVersion: *ecsVersion}
		if *noProxy != "" {
			u.NoProxy = strings.Split(*noProxy, ",")
		}
		batch = nodes.Batch{Site: *site, Nodes: *nodeCount, Expires: *expires}
		if err := batch.Validate(); err != nil && *stage != join.StageImage {
			return fail("%v", err)
		}
	}
	opts := []func(*config.LoadOptions) error{config.WithRetryMaxAttempts(5)}
	if *wait <= 0 {
		return fail("--wait is %s: give how long to wait, such as 10m", *wait)
	}
	a := invocation{cmd: cmd, site: *site, location: *location, files: files, asJSON: *asJSON, deleteOld: *deleteOld, dryRun: *dryRun,
		wait: *wait, force: *force, ecsVersion: *ecsVersion, format: *format, args: fs.Args(), u: u, batch: batch, stdout: stdout, stderr: stderr, fail: fail}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	fleetMap, err := readMap(*mapPath, given["map"])
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, commandTimeout(cmd, *wait))
	defer cancel()
	imageOnly := cmd == "node userdata" && *stage == join.StageImage // no AWS call
	if fleetMap == nil {
		if *cellName != "" || len(profiles) > 0 || len(roles) > 0 {
			return fail("--cell, --profile and --role need a fleet map of cells (%s, written by make synth when context key cells is set; --map names another)", defaultMap)
		}
		if *region != "" {
			opts = append(opts, config.WithRegion(*region))
		}
		cfg, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return fail("load the AWS configuration: %v", err)
		}
		if cfg.Region == "" {
			return fail("no AWS region: pass --region or set AWS_REGION (or a region in your AWS profile)")
		}
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil && !imageOnly {
			return fail("no AWS credentials found: set AWS_PROFILE, run `aws configure` or `aws sso login`, then run this again (%v)", err)
		}
		return a.execute(ctx, cfg, *prefix)
	}
	// A fleet of cells: the map says where each site is.
	if given["prefix"] || given["region"] {
		return fail("--prefix and --region do not apply with a fleet map of cells (%s): it gives each cell's stack prefix and region; name a site (--site) or a cell (--cell)", cmp.Or(*mapPath, defaultMap))
	}
	for flagName, byCell := range map[string]cellFlag{"profile": profiles, "role": roles} {
		for name := range byCell {
			if _, err := fleetMap.Cell(name); err != nil {
				return fail("--%s: %v", flagName, err)
			}
		}
	}
	targets, err := cellsFor(fleetMap, cmd, *site, *location, *cellName)
	if err != nil {
		return fail("%v", err)
	}
	if cmd == "status" {
		return a.statusOfCells(ctx, targets, profiles, roles, opts)
	}
	code := exitHealthy
	for _, c := range targets {
		if len(targets) > 1 {
			cellHeading(stdout, c)
		}
		cfg := aws.Config{Region: c.Region} // an image's user data makes no AWS call
		if !imageOnly {
			if cfg, err = cellAWS(ctx, c, profiles, roles, opts); err != nil {
				return fail("%v", err)
			}
		}
		code = max(code, a.execute(ctx, cfg, c.StackPrefix))
	}
	return code
}

// invocation is one run's command and flags, whatever the cell.
type invocation struct {
	cmd, site, location       string
	files, args               []string
	asJSON, deleteOld, dryRun bool
	wait                      time.Duration
	force                     bool
	ecsVersion, format        string
	u                         join.Unattended
	batch                     nodes.Batch
	stdout, stderr            io.Writer
	fail                      func(string, ...any) int
}

// execute runs the command in one account and region, on the stacks
// named with prefix.
func (a invocation) execute(ctx context.Context, cfg aws.Config, prefix string) int {
	cmd, fail, stdout := a.cmd, a.fail, a.stdout
	if cmd == "send" {
		return sendWork(ctx, cfg, prefix, a.location, a.files, stdout, fail)
	}
	if cmd == "node list" || cmd == "node drain" || cmd == "node retire" || cmd == "node update-agents" {
		return nodeCommand(ctx, cmd, ecs.NewFromConfig(cfg), ssm.NewFromConfig(cfg), cfg.Region, prefix, a.site, a.args, a.asJSON, a.wait, a.force, a.ecsVersion, stdout, a.stderr, fail)
	}
	if cmd == "node userdata" {
		return userData(ctx, ssm.NewFromConfig(cfg), cfg.Region, prefix, a.u, a.batch, a.format, stdout, a.stderr, fail)
	}
	if cmd == "prepare-upgrade" {
		if err := upgrade.Run(ctx, cloudformation.NewFromConfig(cfg), upgrade.Options{Prefix: prefix, DryRun: a.dryRun}, stdout); err != nil {
			return fail("%v", err)
		}
		return exitHealthy
	}
	if cmd == "rehome" {
		return rehomeSite(ctx, sqs.NewFromConfig(cfg), ssm.NewFromConfig(cfg), prefix, a.site, a.deleteOld, stdout, fail)
	}
	f, now, err := gather(ctx, cfg, prefix, a.site)
	if err != nil {
		return fail("%v", err)
	}
	if a.asJSON {
		err = status.WriteJSON(stdout, f)
	} else {
		err = status.WriteText(stdout, f, now)
	}
	if err != nil {
		return fail("write: %v", err)
	}
	if !f.Healthy {
		return exitUnhealthy
	}
	return exitHealthy
}

// gather reads the fleet of one account and region.
func gather(ctx context.Context, cfg aws.Config, prefix, site string) (status.Fleet, time.Time, error) {
	c := status.Clients{
		CloudFormation: cloudformation.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg), CloudWatch: cloudwatch.NewFromConfig(cfg),
		ECS: ecs.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), Now: time.Now,
	}
	f, err := status.Gather(ctx, c, status.Scope{Prefix: prefix, Site: site})
	if errors.Is(err, status.ErrNoStack) {
		err = fmt.Errorf("%w (region %s)", err, cfg.Region)
	}
	return f, c.Now(), err
}

// cellHeading starts a cell's part of a command's output.
func cellHeading(w io.Writer, c stackscontract.MapCell) {
	fmt.Fprintf(w, "CELL %s (account %s, region %s)\n", c.Name, c.Account, c.Region)
}

// CellStatus is one cell's part of `fleet status --json` for a fleet of
// cells.
type CellStatus struct {
	Cell    string        `json:"cell"`
	Account string        `json:"account"`
	Region  string        `json:"region"`
	Fleet   *status.Fleet `json:"fleet,omitempty"`
	// Error is why the cell could not be read (no credentials, no stack).
	Error string `json:"error,omitempty"`
}

// statusOfCells reports every target cell: one that cannot be read is
// reported as such, and the others still are; the exit status is the
// worst of them.
func (a invocation) statusOfCells(ctx context.Context, cells []stackscontract.MapCell, profiles, roles cellFlag, opts []func(*config.LoadOptions) error) int {
	var out []CellStatus
	code := exitHealthy
	for _, c := range cells {
		cs := CellStatus{Cell: c.Name, Account: c.Account, Region: c.Region}
		cfg, err := cellAWS(ctx, c, profiles, roles, opts)
		var f status.Fleet
		var now time.Time
		if err == nil {
			f, now, err = gather(ctx, cfg, c.StackPrefix, a.site)
		}
		switch {
		case err != nil:
			cs.Error = err.Error()
			code = exitError
		case !f.Healthy:
			code = max(code, exitUnhealthy)
		}
		if err == nil {
			cs.Fleet = &f
		}
		out = append(out, cs)
		if a.asJSON {
			continue
		}
		cellHeading(a.stdout, c)
		if err != nil {
			fmt.Fprintf(a.stdout, "  cannot tell: %v\n\n", err)
			continue
		}
		if err := status.WriteText(a.stdout, f, now); err != nil {
			return a.fail("write: %v", err)
		}
		fmt.Fprintln(a.stdout)
	}
	if a.asJSON {
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintln(a.stdout, string(b))
	}
	return code
}

// nodeCommand lists, drains or retires a site's nodes.
func nodeCommand(ctx context.Context, cmd string, e nodes.ECS, m interface {
	nodes.Managed
	nodes.Commands
	send.Directory
}, region, prefix, site string, args []string, asJSON bool, wait time.Duration, force bool, ecsVersion string, stdout, stderr io.Writer, fail func(string, ...any) int) int {
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }
	poll := min(5*time.Second, max(wait/10, 100*time.Millisecond))
	switch {
	case cmd == "node update-agents" && (site == "" || len(args) != 0):
		return fail("give --site SITE (and no node: every connected node of the site is updated, one at a time)")
	case cmd != "node list" && cmd != "node update-agents" && (site == "" || len(args) != 1):
		return fail("give --site SITE and one NODE (a managed instance id, container instance id or name)")
	}
	sites := []string{site}
	if site == "" {
		var err error
		if sites, err = siteNames(ctx, m, prefix); err != nil {
			if awserr.Denied(err) {
				return fail("%v: listing every site reads the whole site directory, which a site's NodeOperatorPolicy does not grant: give --site SITE", err)
			}
			return fail("%v", reachable(err, region))
		}
	}
	target := ""
	if cmd == "node update-agents" {
		recommended := ""
		if ecsVersion == "" {
			p, err := m.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(nodes.RecommendedParameter)})
			if err != nil {
				return fail("read AWS's recommended ECS agent version (%s): %v; give --ecs-version", nodes.RecommendedParameter, reachable(err, region))
			}
			recommended = aws.ToString(p.Parameter.Value)
		}
		var err error
		if target, err = nodes.Target(ecsVersion, recommended); err != nil {
			return fail("%v", err)
		}
	}
	var all []nodes.Node
	unhealthy := false
	for _, name := range sites {
		entry, err := siteEntry(ctx, m, prefix, name, region)
		if err != nil {
			return fail("%v", err)
		}
		s, err := nodes.SiteOf(name, entry)
		if err != nil {
			return fail("%v", err)
		}
		list, err := nodes.List(ctx, e, m, s)
		if err != nil {
			return fail("%v", err)
		}
		if cmd == "node list" {
			if !asJSON {
				writeNodes(stdout, name, list)
			}
			for _, n := range list {
				unhealthy = unhealthy || len(n.Problems) > 0
			}
			all = append(all, list...)
			continue
		}
		if cmd == "node update-agents" {
			if err := nodes.UpdateAgents(ctx, e, m, s, region, list, target, wait, poll, say); err != nil {
				return fail("%v", err)
			}
			return exitHealthy
		}
		n, err := nodes.Find(list, name, args[0])
		var missing *nodes.NotFoundError
		if cmd == "node retire" && errors.As(err, &missing) && nodes.IsID(args[0]) {
			say("%s is in neither cluster %s nor site %s's managed instances: already retired, nothing to do", args[0], s.Cluster, name)
			return exitHealthy
		}
		if err != nil {
			return fail("%v", err)
		}
		if cmd == "node drain" {
			if _, err := nodes.Drain(ctx, e, s, n, wait, poll, say); err != nil {
				return fail("%v; it stays DRAINING: run this again to wait longer (--wait), or retire it", err)
			}
			say("node %s is drained: it stays in the cluster, DRAINING (fleet node retire to remove it; aws ecs update-container-instances-state --status ACTIVE to use it again)", n.Name)
			return exitHealthy
		}
		if err := nodes.Retire(ctx, e, m, s, list, n, force, wait, poll, say); err != nil {
			return fail("%v", err)
		}
		say("node %s is retired. On the machine, remove the agents, their containers and their state:\n%s", n.Name, nodes.Cleanup(s.Cluster))
		return exitHealthy
	}
	if asJSON {
		b, _ := json.MarshalIndent(all, "", "  ")
		fmt.Fprintln(stdout, string(b))
	}
	if unhealthy {
		return exitUnhealthy
	}
	return exitHealthy
}

// siteNames are the sites in the app's directory, sorted; none is an error.
func siteNames(ctx context.Context, dir send.Directory, prefix string) ([]string, error) {
	out, err := send.SiteNames(ctx, dir, prefix, 0)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the site directory %s is empty: no site of this app is deployed here (--prefix, --region?)", siteagentcontract.SiteDirectory(prefix))
	}
	sort.Strings(out)
	return out, nil
}

// writeNodes prints a site's nodes as a table.
func writeNodes(w io.Writer, site string, list []nodes.Node) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "site %s: %d node(s)\n", site, len(list))
	fmt.Fprintln(tw, "NODE\tMANAGED INSTANCE\tCONTAINER INSTANCE\tECS\tCONNECTED\tECS AGENT\tSSM AGENT\tTASKS\tLAST SEEN")
	for _, n := range list {
		ci := n.ContainerInstance[strings.LastIndex(n.ContainerInstance, "/")+1:]
		seen := "-"
		if !n.LastSeen.IsZero() {
			seen = n.LastSeen.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\t%d\t%s\n", cmp.Or(n.Name, "-"), n.ManagedInstance, cmp.Or(ci, "-"), cmp.Or(n.ECSStatus, "-"), n.Connected, cmp.Or(n.ECSAgent, "-"), cmp.Or(n.SSMAgent, "-"), n.RunningTasks, seen)
	}
	_ = tw.Flush()
	for _, n := range list {
		for _, p := range n.Problems {
			fmt.Fprintf(w, "  %s: %s\n", cmp.Or(n.Name, n.ManagedInstance), p)
		}
	}
}

// userData prints the user data (or script) that joins a batch of a
// site's machines, after making the batch's dedicated activation (none for
// an image); what it made goes to stderr, the secret only to stdout.
func userData(ctx context.Context, api interface {
	send.Directory
	nodes.SSM
}, region, prefix string, u join.Unattended, b nodes.Batch, format string, stdout, stderr io.Writer, fail func(string, ...any) int) int {
	u.Region = region
	what := fmt.Sprintf("ECS Anywhere join of site %s (fleet node userdata, stage %s).", u.Site, cmp.Or(u.Stage, join.StageFull))
	if u.Stage != join.StageImage {
		entry, err := siteEntry(ctx, api, prefix, u.Site, region)
		if err != nil {
			return fail("%v", err)
		}
		u.Cluster, _ = entry[siteagentcontract.DirCluster].(string)
		if err := u.ValidateSettings(); err != nil {
			return fail("nothing made:\n%v", err)
		}
		act, err := nodes.Create(ctx, api, b, entry, time.Now())
		if err != nil {
			return fail("%v", err)
		}
		u.ActivationID, u.ActivationCode = act.ID, act.Code
		what += fmt.Sprintf("\nHolds activation %s: %d machine(s) may register until %s. Treat it as a secret.", act.ID, b.Nodes, act.Expiry.Format(time.RFC3339))
		fmt.Fprintf(stderr, "activation %s made for %d machine(s) of site %s, accepting them until %s; the user data holds its code: treat it as a secret (docs/sites.md)\n", act.ID, b.Nodes, u.Site, act.Expiry.Format(time.RFC3339))
	}
	if err := u.Validate(); err != nil {
		return fail("%v", err)
	}
	if format == "script" {
		_, _ = io.WriteString(stdout, u.Script())
	} else {
		_, _ = io.WriteString(stdout, u.CloudConfig(what))
	}
	return exitHealthy
}

// rehomeSite moves a site's messages from the queues the regional stack of
// an earlier version held (retained by the upgrade) to the site's own, as
// its directory entry names them; with deleteOld it deletes the old queues
// once they are empty.
func rehomeSite(ctx context.Context, q rehome.SQS, dir send.Directory, prefix, site string, deleteOld bool, stdout io.Writer, fail func(string, ...any) int) int {
	if site == "" {
		return fail("--site is required: the site whose messages to move")
	}
	path := siteagentcontract.SiteDirectory(prefix) + "/" + site
	entry, err := send.Entry(ctx, dir, prefix, site)
	if err != nil {
		return fail("%v; deploy the site's stack of this version first (make deploy)", err)
	}
	oldQueue, oldDLQ := rehome.OldQueues(site)
	total := 0
	for _, pair := range [][2]string{{oldQueue, siteagentcontract.DirQueueURL}, {oldDLQ, siteagentcontract.DirDeadLetterURL}} {
		to, _ := entry[pair[1]].(string)
		from, err := rehome.Find(ctx, q, stackscontract.RegionalStack(prefix), pair[0])
		if err != nil {
			return fail("%v", err)
		}
		if from == "" {
			fmt.Fprintf(stdout, "no queue of %s with a logical id %s…: nothing to move\n", stackscontract.RegionalStack(prefix), pair[0])
			continue
		}
		if to == "" || to == from {
			return fail("site directory entry %s has no %s of its own: deploy the site's stack of this version first", path, pair[1])
		}
		n, err := rehome.Move(ctx, q, from, to, 3)
		total += n
		if err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(stdout, "moved %d message(s) from %s to %s\n", n, from, to)
		if deleteOld {
			if _, err := q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(from)}); err != nil {
				return fail("delete %s: %v", from, err)
			}
			fmt.Fprintf(stdout, "deleted %s\n", from)
		}
	}
	fmt.Fprintf(stdout, "site %s: %d message(s) moved\n", site, total)
	return exitHealthy
}

// sendWork sends files to location through the regional stack's entry.
func sendWork(ctx context.Context, cfg aws.Config, prefix, location string, files []string, stdout io.Writer, fail func(string, ...any) int) int {
	out, err := status.RegionalOutputs(ctx, cloudformation.NewFromConfig(cfg), prefix)
	if err != nil {
		return fail("%v (region %s)", err, cfg.Region)
	}
	t, err := send.Locate(ctx, ssm.NewFromConfig(cfg), stackscontract.RegionalStack(prefix), prefix, out, location)
	if err != nil {
		return fail("%v", err)
	}
	if err := send.Check(t, location, files); err != nil {
		return fail("nothing sent:\n%v", err)
	}
	n, err := send.Send(ctx, send.Clients{SNS: sns.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg)}, t, location, files)
	if err != nil {
		return fail("%v", err)
	}
	via := t.Topic
	if via == "" {
		via = t.Queue
	}
	fmt.Fprintf(stdout, "sent %d file name(s) to %s through %s\n", n, location, via)
	return exitHealthy
}

// command is one of fleet's commands: its synopsis and its flags.
type command struct {
	name, synopsis string
	flags          []string
}

var commands = []command{
	{"status", "[--prefix P] [--region R] [--site SITE] [--json]", []string{"prefix", "region", "site", "json"}},
	{"send", "--location LOCATION [--prefix P] [--region R] [NAME ...]   (names as arguments, or one per line on standard input)", []string{"location", "prefix", "region"}},
	{"prepare-upgrade", "[--prefix P] [--region R] [--dry-run]   (before deploying this version over one made before the fleet-wide functions)", []string{"prefix", "region", "dry-run"}},
	{"node userdata", "--site SITE [--nodes 1] [--expires 24h] [--proxy URL [--no-proxy A,B]] [--gpu] [--ecs-version V] [--stage full|image|boot] [--format cloud-init|script]   (user data that joins machines with nobody at them; holds a dedicated activation: a secret)",
		[]string{"site", "prefix", "region", "nodes", "expires", "proxy", "no-proxy", "gpu", "ecs-version", "stage", "format"}},
	{"node list", "[--site SITE] [--json]   (each node: host name, managed and container instance, ECS status, agents, connected, tasks, last seen, problems)", []string{"site", "prefix", "region", "json"}},
	{"node drain", "--site SITE [--wait 10m] NODE   (DRAINING, then wait until its tasks stopped or moved; NODE: host name, mi-… or container instance id)", []string{"site", "prefix", "region", "wait"}},
	{"node retire", "--site SITE [--wait 10m] [--force] NODE   (drain, deregister from ECS and SSM, print the machine's clean-up; a node already gone is done)", []string{"site", "prefix", "region", "wait", "force"}},
	{"node update-agents", "--site SITE [--wait 10m] [--ecs-version V]   (one node below V at a time: drain, update ecs-init through SSM Run Command, ACTIVE again, version checked)", []string{"site", "prefix", "region", "wait", "ecs-version"}},
	{"rehome", "--site SITE [--prefix P] [--region R] [--delete]   (after the upgrade: move a site's messages from the regional stack's old queues to its own)", []string{"site", "prefix", "region", "delete"}},
}

// cellFlags are every command's flags for a fleet of cells.
var cellFlags = []string{"map", "cell", "profile", "role"}

// commandNamed is the command called name (the zero command when none is).
func commandNamed(name string) command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return command{}
}

// Flag texts that differ between commands.
var (
	siteUsage = map[string]string{
		"status": "the one site to look at (default: every site)", "rehome": "the site whose messages to move",
		"node list": "the site whose nodes to list (default: every site; needs to read the whole site directory)",
	}
	ecsVersionUsage = map[string]string{
		"node userdata":      "the ECS agent version to install (default: the latest; at least " + fleetmanagercontract.MinECSAgent + ")",
		"node update-agents": "the ECS agent version to reach: nodes at it or newer are skipped (default: AWS's recommended, " + nodes.RecommendedParameter + ")",
	}
	waitUsage = map[string]string{
		"node drain":         "how long to wait for the node's tasks to stop or move (the command waits that long, not longer)",
		"node retire":        "how long to wait for the node's tasks to stop or move before deregistering it",
		"node update-agents": "how long to wait for each node to drain and, after its update, to connect again",
	}
)

// commandTimeout is how long cmd may take in all: what it waits for (wait)
// and time for its calls; the rollouts bound each step themselves.
func commandTimeout(cmd string, wait time.Duration) time.Duration {
	switch cmd {
	case "prepare-upgrade", "node update-agents":
		return 12 * time.Hour
	case "node drain", "node retire":
		return wait + 2*time.Minute
	}
	return 2 * time.Minute
}

// siteEntry reads a site's directory entry, saying whether the site does
// not exist (and which do), SSM could not be reached, or the read was
// refused.
func siteEntry(ctx context.Context, dir send.Directory, prefix, site, region string) (map[string]any, error) {
	entry, err := send.Entry(ctx, dir, prefix, site)
	var missing *ssmtypes.ParameterNotFound
	switch {
	case err == nil:
		return entry, nil
	case errors.As(err, &missing):
		names, lerr := siteNames(ctx, dir, prefix)
		if lerr != nil {
			return nil, fmt.Errorf("%q is not a site of this app (--prefix %s, region %s); the sites could not be listed (%v)", site, prefix, region, lerr)
		}
		return nil, fmt.Errorf("%q is not a site of this app (--prefix %s, region %s): the sites are %s", site, prefix, region, strings.Join(names, ", "))
	}
	return nil, reachable(err, region)
}

// reachable says an error that is a connection failure as one.
func reachable(err error, region string) error {
	var send *smithyhttp.RequestSendError
	var netErr net.Error
	if errors.As(err, &send) || errors.As(err, &netErr) {
		return fmt.Errorf("cannot reach AWS in region %s (network, proxy or --region?): %w", region, err)
	}
	return err
}
