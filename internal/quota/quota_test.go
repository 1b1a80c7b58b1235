package quota

import (
	"fmt"
	"strings"
	"testing"
)

func TestCheckNamesTheQuotaTheValueAndTheWayOut(t *testing.T) {
	err := Check(
		Use{Quota: StackOutputs, Where: "stack EcsWorker-Regional", Value: 200},
		Use{Quota: StackOutputs, Where: "stack EcsWorker-Regional", Value: 257, WayOut: "configure fewer sites"},
		Use{Quota: Roles, Value: 3006, WayOut: "give sites your own instance role"},
	)
	if err == nil {
		t.Fatal("two crossed quotas passed")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		"quota: CloudFormation outputs per stack is 200, and stack EcsWorker-Regional would reach 257: configure fewer sites",
		`quota: IAM roles per account is 1,000 by default, and this app would reach 3,006: give sites your own instance role, or raise "Roles per account" (IAM) in Service Quotas`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d (a use at its quota is within it):\n%v", len(lines), len(want), err)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i, lines[i], want[i])
		}
	}
	if err := Check(Use{Quota: Stacks, Value: 2000}); err != nil {
		t.Errorf("a use at its quota: %v", err)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1469: "1,469", 1000000: "1,000,000", -2500: "-2,500"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestPolicyCharsTakesEveryReferenceForAnARN(t *testing.T) {
	doc := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Action": "sqs:SendMessage",
		"Resource": []any{map[string]any{"Fn::GetAtt": []any{"Q1", "Arn"}}, map[string]any{"Ref": "Q2"}, "arn:aws:sqs:eu-west-1:123456789012:x"},
	}}}
	arn := `"` + strings.Repeat("a", ArnChars) + `"`
	want := len(`{"Statement":[{"Action":"sqs:SendMessage","Effect":"Allow","Resource":[` + arn + `,` + arn + `,"arn:aws:sqs:eu-west-1:123456789012:x"]}],"Version":"2012-10-17"}`)
	if got := PolicyChars(doc); got != want {
		t.Errorf("PolicyChars = %d, want %d", got, want)
	}
}

func TestCombinationsCountsAsSNSDoes(t *testing.T) {
	var names []any
	for i := range 149 {
		names = append(names, fmt.Sprint("site", i))
	}
	unrouted := map[string]any{"$or": []any{
		map[string]any{"location": []any{map[string]any{"exists": false}}},
		map[string]any{"location": []any{map[string]any{"anything-but": names}}},
	}}
	for _, tc := range []struct {
		policy any
		want   int
	}{
		{map[string]any{"location": []any{"onprem"}}, 1},
		{map[string]any{"location": []any{"a", "b"}, "kind": []any{"x", "y", "z"}}, 6},
		{unrouted, 150},
	} {
		if got := Combinations(tc.policy); got != tc.want {
			t.Errorf("Combinations(%v) = %d, want %d", tc.policy, got, tc.want)
		}
	}
	more := map[string]any{"$or": []any{
		map[string]any{"location": []any{map[string]any{"exists": false}}},
		map[string]any{"location": []any{map[string]any{"anything-but": append(names, "one-more")}}},
	}}
	if err := Check(Use{Quota: FilterCombinations, Where: "the unrouted subscription", Value: Combinations(more)}); err == nil {
		t.Error("151 combinations passed")
	}
}
