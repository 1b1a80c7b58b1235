// Command fleetreport reads a synthesized cloud assembly and prints what
// bench/fleet.sh reports for it: every template's resources, outputs and
// bytes, the quotas it crosses, and the fixed monthly cost of the app (the
// cost of what exists before any node joins), from a price table whose
// sources are below. It reads only the templates.
//
//	go run ./bench/fleetreport [-sites N] [-json] cdk.out
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	siteagentcontract "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	"github.com/ecs-anywhere-stretched/stretched/internal/quota"
)

// Prices, USD per month, us-east-1.
//   - KMS: https://aws.amazon.com/kms/pricing/ ($1 per customer managed key)
//   - Secrets Manager: https://aws.amazon.com/secrets-manager/pricing/ ($0.40 per secret)
//   - Parameter Store: https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html
//     (standard parameters: no charge; advanced $0.05, https://aws.amazon.com/systems-manager/pricing/)
//   - CloudWatch: https://aws.amazon.com/cloudwatch/pricing/ ($0.10 per standard
//     alarm metric, $0.50 per composite alarm, $0.30 per custom metric (first
//     10,000), $3.00 per dashboard beyond the free three; a Metrics Insights
//     alarm is priced per metric it analyzes: $0.10 each here)
//   - Lambda: https://aws.amazon.com/lambda/pricing/ ($0.20 per million requests,
//     $0.0000133334 per GB-second on arm64)
//   - EventBridge scheduled rules and AWS service events: no charge
//     (https://aws.amazon.com/eventbridge/pricing/)
const (
	kmsKey            = 1.00
	secret            = 0.40
	advancedParameter = 0.05
	alarmMetric       = 0.10
	compositeAlarm    = 0.50
	customMetric      = 0.30
	dashboard         = 3.00
	lambdaRequest     = 0.20 / 1e6
	lambdaGBSecond    = 0.0000133334
	// containerInsightsMetrics is the fewest custom metrics a cluster with
	// Container Insights writes: the 16 ECS metric names
	// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-metrics-ECS.html),
	// each at least at the cluster dimension; services and task families
	// add more.
	containerInsightsMetrics = 16
	// runSeconds is the assumed duration of one scheduled run per site it
	// serves (not measured here: no AWS account).
	runSeconds = 0.3
	// minutesPerMonth: 730 hours.
	minutesPerMonth = 730 * 60
)

// Line is one priced item.
type Line struct {
	Item  string  `json:"item"`
	Count float64 `json:"count"`
	USD   float64 `json:"usd"`
}

// Template is what the report says of one template.
type Template struct {
	File      string `json:"file"`
	Resources int    `json:"resources"`
	Outputs   int    `json:"outputs"`
	Bytes     int    `json:"bytes"`
}

// Report is the whole report.
type Report struct {
	Templates []Template `json:"templates"`
	// Sites is the number of site stacks.
	Sites  int      `json:"sites"`
	Quotas []string `json:"quotas"`
	Cost   []Line   `json:"cost"`
	// MonthlyUSD is the fixed monthly cost of the app; PerSiteUSD the part
	// that is the sites' (the site stacks, and what the other stacks hold
	// per site), divided by Sites.
	MonthlyUSD float64 `json:"monthlyUsd"`
	PerSiteUSD float64 `json:"perSiteUsd"`
}

func main() {
	asJSON := flag.Bool("json", false, "print JSON")
	rolesQuota := flag.Int("iam-roles-quota", 0, "the account's raised IAM roles quota, as synthesized with -c iamRolesQuota (0: the default)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: fleetreport [-json] <cloud assembly folder>")
		os.Exit(2)
	}
	stacks, err := quota.ReadAssembly(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	raised := map[quota.Quota]quota.Raised{}
	if *rolesQuota > 0 {
		raised[quota.Roles] = quota.Raised{Limit: *rolesQuota, Key: "iamRolesQuota"}
	}
	r := report(stacks, raised)
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	print(r)
}

var rateRe = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)

// runsPerMonth is how often a schedule expression runs in a month.
func runsPerMonth(expr string) float64 {
	m := rateRe.FindStringSubmatch(expr)
	if m == nil {
		return 30 // a cron: assume daily
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	per := map[string]float64{"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}[m[2]]
	return minutesPerMonth / (n * per)
}

// report measures stacks; raised are the quotas the synth was given as
// raised (the same check as the synth's).
func report(stacks []quota.Stack, raised map[quota.Quota]quota.Raised) Report {
	var r Report
	for _, s := range stacks {
		r.Templates = append(r.Templates, Template{File: s.File, Resources: len(s.Resources), Outputs: len(s.Outputs), Bytes: s.Bytes})
		if isSite(s.File) {
			r.Sites++
		}
	}
	if err := quota.CheckStacks(stacks, raised); err != nil {
		r.Quotas = strings.Split(err.Error(), "\n")
	}
	site := map[string]float64{}
	total := map[string]float64{}
	add := func(s quota.Stack, item string, usd float64) {
		total[item] += usd
		if isSite(s.File) {
			site[item] += usd
		}
	}
	for _, s := range stacks {
		memory := map[string]float64{}
		for id, res := range s.Resources {
			if res.Type == "AWS::Lambda::Function" {
				mb, ok := res.Properties["MemorySize"].(float64)
				if !ok {
					mb = 128
				}
				memory[id] = mb
			}
		}
		for _, res := range s.Resources {
			p := res.Properties
			switch res.Type {
			case "AWS::ECS::Cluster":
				for _, cs := range asList(p["ClusterSettings"]) {
					m, _ := cs.(map[string]any)
					if m["Name"] == "containerInsights" && m["Value"] != "disabled" {
						add(s, "Container Insights metrics (at least)", containerInsightsMetrics*customMetric)
					}
				}
			case "AWS::KMS::Key":
				add(s, "KMS keys", kmsKey)
			case "AWS::SecretsManager::Secret":
				add(s, "Secrets Manager secrets", secret)
			case "AWS::SSM::Parameter":
				if p["Tier"] == "Advanced" {
					add(s, "advanced SSM parameters", advancedParameter)
				}
			case "AWS::CloudWatch::Alarm":
				add(s, "alarm metrics", alarmMetric*float64(alarmMetrics(p, r.Sites)))
			case "AWS::CloudWatch::CompositeAlarm":
				add(s, "composite alarms", compositeAlarm)
			case "AWS::CloudWatch::Dashboard":
				add(s, "dashboards", dashboard)
			case "AWS::Events::Rule":
				expr, _ := p["ScheduleExpression"].(string)
				if expr == "" {
					continue
				}
				served := 1.0 // a site's own schedule
				if !isSite(s.File) {
					served = float64(max(r.Sites, 1)) // a fleet-wide one serves every site
				}
				for _, t := range asList(p["Targets"]) {
					arn, _ := t.(map[string]any)["Arn"].(map[string]any)
					getAtt := asList(arn["Fn::GetAtt"])
					if len(getAtt) == 0 {
						continue
					}
					mb := memory[fmt.Sprint(getAtt[0])]
					runs := runsPerMonth(expr)
					add(s, "scheduled Lambda runs", runs*lambdaRequest+runs*served*runSeconds*mb/1024*lambdaGBSecond)
				}
			}
		}
	}
	// The agent's metrics: counts of sites for the fleet, a fixed set
	// whatever its size (none per site).
	total["custom metrics (agent)"] += float64(len(siteagentcontract.FleetMetrics)) * customMetric
	items := make([]string, 0, len(total))
	for k := range total {
		items = append(items, k)
	}
	sort.Strings(items)
	for _, k := range items {
		r.Cost = append(r.Cost, Line{Item: k, USD: total[k]})
		r.MonthlyUSD += total[k]
	}
	var perSite float64
	for _, v := range site {
		perSite += v
	}
	if r.Sites > 0 {
		r.PerSiteUSD = perSite / float64(r.Sites)
	}
	return r
}

// alarmMetrics is how many metrics an alarm watches: one, those of its
// metric math, or every series of a Metrics Insights query (one per site
// and the region's, as the app's queries are over every location).
func alarmMetrics(p map[string]any, sites int) int {
	ms := asList(p["Metrics"])
	if len(ms) == 0 {
		return 1
	}
	n := 0
	for _, m := range ms {
		mm, _ := m.(map[string]any)
		if e, _ := mm["Expression"].(string); strings.Contains(strings.ToUpper(e), "SELECT") {
			n += sites + 1
		} else if mm["MetricStat"] != nil {
			n++
		}
	}
	return max(n, 1)
}

func asList(v any) []any { l, _ := v.([]any); return l }

func isSite(file string) bool { return strings.Contains(file, "Anywhere") }

func print(r Report) {
	fmt.Printf("%-52s %9s %7s %10s\n", "template", "resources", "outputs", "bytes")
	var most Template
	for _, t := range r.Templates {
		if !isSite(t.File) {
			fmt.Printf("%-52s %9d %7d %10d\n", t.File, t.Resources, t.Outputs, t.Bytes)
			continue
		}
		most.Resources, most.Outputs, most.Bytes = max(most.Resources, t.Resources), max(most.Outputs, t.Outputs), max(most.Bytes, t.Bytes)
	}
	if r.Sites > 0 {
		fmt.Printf("%-52s %9d %7d %10d\n", fmt.Sprintf("each of %d site templates, at most", r.Sites), most.Resources, most.Outputs, most.Bytes)
	}
	if len(r.Quotas) == 0 {
		fmt.Println("quotas: every template within")
	}
	for _, q := range r.Quotas {
		fmt.Println(q)
	}
	fmt.Println("fixed monthly cost (USD, before any node):")
	for _, l := range r.Cost {
		fmt.Printf("  %-28s %10.2f\n", l.Item, l.USD)
	}
	fmt.Printf("  %-28s %10.2f\n  %-28s %10.2f\n", "total", r.MonthlyUSD, "site stacks, per site", r.PerSiteUSD)
}
