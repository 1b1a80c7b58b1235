package join

import (
	"fmt"
	"strings"
)

// Endpoint is a host a node reaches, over HTTPS (port 443).
type Endpoint struct {
	// Host is the name, with {region} for the site's region and * where
	// AWS varies a label.
	Host string
	// When is "join" (the install, once), "run" (the agents and the
	// worker, always) or "update" (fleet node update-agents and the SSM
	// Agent's own updates).
	When string
	// Who reaches it, and for what.
	Why string
}

// Endpoints is every host a node reaches, in one table: docs/sites.md and
// the user data's comment (with a proxy) are made from it, and the join
// tests check that every URL the join fetches on the fake machine is here.
var Endpoints = []Endpoint{
	{"amazon-ecs-agent.s3.amazonaws.com", "join", "the ECS Anywhere install script and its signature"},
	{"raw.githubusercontent.com", "join", "the ECS signing key (pinned by fingerprint) and the SSM Agent's signing keys, as the install script fetches them"},
	{"keyserver.ubuntu.com", "join", "the ECS signing key, only when raw.githubusercontent.com fails (hkps)"},
	{"s3.{region}.amazonaws.com", "join", "the ECS agent package (bucket amazon-ecs-agent-{region}), the SSM Agent package and ECS Exec's binaries (bucket amazon-ssm-{region})"},
	{"download.docker.com", "join", "Docker's key and repository, when Docker is not installed (the install script's --docker-install-source all)"},
	{"the distribution's mirrors", "join", "packages: curl, gnupg, jq, Docker's dependencies (the image's apt/dnf sources, such as deb.debian.org)"},
	{"ssm.{region}.amazonaws.com", "run", "SSM Agent: registration, the node's credentials (the ECS agent's come through it), inventory"},
	{"ec2messages.{region}.amazonaws.com", "run", "SSM Agent: Run Command (fleet node update-agents, patching)"},
	{"ssmmessages.{region}.amazonaws.com", "run", "SSM Agent: sessions and ECS Exec"},
	{"ecs.{region}.amazonaws.com", "run", "ECS agent: registration and state"},
	{"ecs-a-*.{region}.amazonaws.com", "run", "ECS agent: its connection for tasks to run (ACS)"},
	{"ecs-t-*.{region}.amazonaws.com", "run", "ECS agent: telemetry (TCS)"},
	{"api.ecr.{region}.amazonaws.com", "run", "ECS agent: the image's registry token"},
	{"*.dkr.ecr.{region}.amazonaws.com", "run", "the worker image (your account's registry)"},
	{"prod-{region}-starport-layer-bucket.s3.{region}.amazonaws.com", "run", "the worker image's layers (ECR serves them from S3)"},
	{"logs.{region}.amazonaws.com", "run", "the tasks' logs (awslogs)"},
	{"sqs.{region}.amazonaws.com", "run", "the worker: its site's queue"},
	{"s3.{region}.amazonaws.com", "update", "new ECS agent and SSM Agent packages (the same buckets as the join)"},
}

// EndpointsFor are the endpoints' host names in region.
func EndpointsFor(region string) []Endpoint {
	out := make([]Endpoint, len(Endpoints))
	for i, e := range Endpoints {
		e.Host = strings.ReplaceAll(e.Host, "{region}", region)
		e.Why = strings.ReplaceAll(e.Why, "{region}", region)
		out[i] = e
	}
	return out
}

// EndpointsTable is the endpoints as a Markdown table, for docs/sites.md.
func EndpointsTable() string {
	var b strings.Builder
	b.WriteString("| host (port 443) | when | who, for what |\n|---|---|---|\n")
	for _, e := range Endpoints {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", e.Host, e.When, e.Why)
	}
	return b.String()
}

// EndpointsComment is what the user data says about the network behind a
// proxy: the hosts to allow in region, one a line.
func EndpointsComment(region string) string {
	var b strings.Builder
	b.WriteString("A proxy must let the machine reach (HTTPS, port 443):\n")
	seen := map[string]bool{}
	for _, e := range EndpointsFor(region) {
		if seen[e.Host] {
			continue
		}
		seen[e.Host] = true
		fmt.Fprintf(&b, "  %-58s %s\n", e.Host, e.When)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
