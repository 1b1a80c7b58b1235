package sdkcalls

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

type queue interface {
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

type local interface{ Close() error }

type holder struct {
	Q queue
	L local
}

// Calls are found through named and unnamed structs, and only SDK calls.
func TestOf(t *testing.T) {
	want := []string{"sqs:SendMessage"}
	for _, v := range []any{holder{}, &holder{}, struct{ queue }{}, struct{ H holder }{}} {
		if got := Of(v); !slices.Equal(got, want) {
			t.Errorf("Of(%T) = %v, want %v", v, got, want)
		}
	}
}
