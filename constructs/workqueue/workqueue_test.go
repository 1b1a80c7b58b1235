package workqueue

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props Props
		want  []string
	}{
		{"no key", Props{MaxReceiveCount: 3}, []string{"Key is nil"}},
		{"receive count", Props{MaxReceiveCount: 1001}, []string{"Key is nil", "MaxReceiveCount is 1001", "from 1 to 1000"}},
		{"negative", Props{MaxReceiveCount: -4}, []string{"MaxReceiveCount is -4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.props.validate()
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
