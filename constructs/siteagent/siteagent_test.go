package siteagent

import (
	"testing"

	"github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	"github.com/ecs-anywhere-stretched/stretched/testkit/errcheck"
)

// Bad props are refused before anything is made, every problem named with
// what to pass: the fleet's agent and a site's entry.
func TestNewNamesEveryProblem(t *testing.T) {
	_, err := New(nil, "SiteAgent", Props{Directory: "sites"})
	errcheck.Contains(t, err, `siteagent: Directory is "sites"`, "such as /EcsWorker/sites", "siteagent: Fleet is empty")
	_, err = NewSite(nil, "Agent", SiteProps{Tasks: contract.SiteSettings{MinTasks: 3, MaxTasks: 2}, BacklogPerTask: -1})
	errcheck.Contains(t, err, "Directory, Site, Fleet, Cluster, Service, Queue and DeadLetterQueue are required",
		"Tasks.minTasks is 3: must not exceed maxTasks (2)", "BacklogPerTask is -1")
}
