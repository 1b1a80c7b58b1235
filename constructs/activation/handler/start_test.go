package handler

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
)

// The fleet's activation function answers CloudFormation's requests and
// the sites' renewals, told apart by RequestType.
func TestDispatch(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var got []cfn.Event
	answer := func(_ context.Context, e cfn.Event) (string, error) { got = append(got, e); return "", nil }
	if _, err := dispatch(context.Background(), log, nil, answer, json.RawMessage(`{"RequestType":"Create","ResourceType":"Custom::SsmActivation","ResourceProperties":{"Serial":"1"}}`)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].RequestType != cfn.RequestCreate || got[0].ResourceProperties["Serial"] != "1" {
		t.Errorf("a CloudFormation request must reach the custom resource handler: %+v", got)
	}
	_, err := dispatch(context.Background(), log, nil, answer, json.RawMessage(`{"settings":{"IamRole":"r"},"renewDays":-1}`))
	if err == nil || !strings.Contains(err.Error(), "renewal event") || !strings.Contains(err.Error(), "renewDays is -1") || len(got) != 1 {
		t.Errorf("a bad renewal must fail with what is wrong, and not reach the custom resource handler: %v", err)
	}
	if _, err := dispatch(context.Background(), log, nil, answer, json.RawMessage(`[1]`)); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Errorf("an event that is not an object: %v", err)
	}
}
