package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	activation "github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	siteagent "github.com/ecs-anywhere-stretched/stretched/constructs/siteagent/contract"
	sitenodes "github.com/ecs-anywhere-stretched/stretched/constructs/sitenodes/contract"
	taskcount "github.com/ecs-anywhere-stretched/stretched/constructs/taskcount/contract"
)

// Every Go function of the synthesized templates (the golden templates of
// the test package) names a handler the binary answers, and the binary
// answers nothing no template names.
func TestTheBinaryAnswersEveryHandlerTheTemplatesName(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "test", "testdata", "*.template.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden templates: %v", err)
	}
	named := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tpl struct {
			Resources map[string]struct {
				Type       string
				Properties struct{ Handler, Runtime string }
			}
		}
		if err := json.Unmarshal(raw, &tpl); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for id, r := range tpl.Resources {
			if r.Type != "AWS::Lambda::Function" || r.Properties.Runtime != "provided.al2023" {
				continue
			}
			named[r.Properties.Handler] = true
			if _, ok := handlers[r.Properties.Handler]; !ok {
				t.Errorf("%s: %s has Handler %q, which the binary does not answer (add the feature's handler.Start to handlers)", f, id, r.Properties.Handler)
			}
		}
	}
	for name := range handlers {
		if !named[name] {
			t.Errorf("the binary answers %q, but no template names it", name)
		}
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
	if _, err := handler(log, aws.Config{}, env(map[string]string{"_HANDLER": siteagent.Handler})); err == nil ||
		!strings.Contains(err.Error(), "handler siteagent: bad environment") || !strings.Contains(err.Error(), siteagent.EnvDirectory) {
		t.Fatalf("agent without environment: %v", err)
	}
	for _, name := range []string{activation.Handler, sitenodes.Handler, taskcount.Handler} {
		h, err := handler(log, aws.Config{}, env(map[string]string{"_HANDLER": name}))
		if err != nil || h == nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
