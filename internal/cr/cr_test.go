package cr

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
)

// A request that does not parse (here a property list where an object
// belongs) is answered FAILED through its ResponseURL, with the request's
// ids and a reason that says what is wrong, and nothing is retried (no
// error to Lambda); the handler never sees it. One that parses reaches it.
func TestLenientAnswersARequestThatDoesNotParse(t *testing.T) {
	var got map[string]any
	answered := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answered++
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &got); err != nil || r.Method != http.MethodPut {
			t.Errorf("answer %s %s: %v", r.Method, body, err)
		}
	}))
	defer srv.Close()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	reached := 0
	f := Lenient(log, func(context.Context, cfn.Event) (string, error) { reached++; return "", nil })

	raw := `{"RequestType":"Create","ResponseURL":"` + srv.URL + `","StackId":"arn:aws:cloudformation:eu-west-1:123456789012:stack/S/1",
	 "RequestId":"req-1","LogicalResourceId":"NodesFleet","ResourceType":"Custom::SiteNodes","ResourceProperties":["not","an","object"]}`
	if _, err := f(context.Background(), json.RawMessage(raw)); err != nil {
		t.Errorf("an answered request returned %v: Lambda would retry it", err)
	}
	if answered != 1 || reached != 0 || got["Status"] != "FAILED" || got["RequestId"] != "req-1" || got["LogicalResourceId"] != "NodesFleet" ||
		got["PhysicalResourceId"] != "create-failed-req-1" || !strings.Contains(got["Reason"].(string), "does not parse as a CloudFormation custom resource request") {
		t.Errorf("answered %d times, handler reached %d times, answer %v", answered, reached, got)
	}
	if !strings.Contains(logs.String(), "request failed") {
		t.Errorf("the failure is not logged:\n%s", logs.String())
	}

	if _, err := f(context.Background(), json.RawMessage(`{"RequestType":"Create","ResourceProperties":{"a":"b"}}`)); err != nil || reached != 1 {
		t.Errorf("a request that parses: handler reached %d times, %v", reached, err)
	}
	if _, err := f(context.Background(), json.RawMessage(`["no", "response", "url"]`)); err == nil || answered != 1 {
		t.Errorf("nobody to answer: error %v, answered %d times; want the error returned", err, answered)
	}
}
