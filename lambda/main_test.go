package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
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
		!strings.Contains(err.Error(), `_HANDLER is "bootstrap"`) || !strings.Contains(err.Error(), "activation, siteagent, sitenodes, taskcount") {
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

// The fleet's activation function answers CloudFormation's requests and
// the sites' renewals, told apart by RequestType.
func TestActivationDispatch(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var got []cfn.Event
	answer := func(_ context.Context, e cfn.Event) (string, error) { got = append(got, e); return "", nil }
	if _, err := activation(context.Background(), log, nil, answer, json.RawMessage(`{"RequestType":"Create","ResourceType":"Custom::SsmActivation","ResourceProperties":{"Serial":"1"}}`)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].RequestType != cfn.RequestCreate || got[0].ResourceProperties["Serial"] != "1" {
		t.Errorf("a CloudFormation request must reach the custom resource handler: %+v", got)
	}
	_, err := activation(context.Background(), log, nil, answer, json.RawMessage(`{"settings":{"IamRole":"r"},"renewDays":-1}`))
	if err == nil || !strings.Contains(err.Error(), "renewal event") || !strings.Contains(err.Error(), "renewDays is -1") || len(got) != 1 {
		t.Errorf("a bad renewal must fail with what is wrong, and not reach the custom resource handler: %v", err)
	}
	if _, err := activation(context.Background(), log, nil, answer, json.RawMessage(`[1]`)); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Errorf("an event that is not an object: %v", err)
	}
}
