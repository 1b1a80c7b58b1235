package main

import (
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecs-anywhere-stretched/stretched/internal/names"
)

// The constructs set a function's Handler from names.Handlers: the binary
// must answer every one of them, and nothing else.
func TestTheBinaryAnswersEveryHandlerTheConstructsName(t *testing.T) {
	got := slices.Sorted(maps.Keys(handlers))
	want := slices.Sorted(slices.Values(names.Handlers))
	if !slices.Equal(got, want) {
		t.Fatalf("handlers: %v, names.Handlers: %v", got, want)
	}
}

func TestHandlerSelection(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	if _, err := handler(log, aws.Config{}, env(map[string]string{"_HANDLER": "bootstrap"})); err == nil ||
		!strings.Contains(err.Error(), `_HANDLER is "bootstrap"`) || !strings.Contains(err.Error(), "activation, renewer, siteagent, sitenodes, taskcount") {
		t.Fatalf("unknown handler: %v", err)
	}
	// A handler whose environment is incomplete says so at start, by name.
	if _, err := handler(log, aws.Config{}, env(map[string]string{"_HANDLER": names.HandlerSiteAgent})); err == nil ||
		!strings.Contains(err.Error(), "handler siteagent: bad environment") || !strings.Contains(err.Error(), names.EnvDirectory) {
		t.Fatalf("agent without environment: %v", err)
	}
	for _, name := range []string{names.HandlerActivation, names.HandlerSiteNodes, names.HandlerTaskCount} {
		h, err := handler(log, aws.Config{}, env(map[string]string{"_HANDLER": name}))
		if err != nil || h == nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
