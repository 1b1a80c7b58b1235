package contract

import (
	"encoding/json"
	"testing"
	"time"
)

// TestRecordFieldsAreTheJoinCommands: the join command finds the id and the
// code by the names this package gives.
func TestRecordFieldsAreTheJoinCommands(t *testing.T) {
	b, err := json.Marshal(Current{ActivationID: "i", ActivationCode: "c", ExpirationDate: time.Unix(0, 0).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{SecretActivationID: "i", SecretActivationCode: "c", SecretExpirationDate: "1970-01-01T00:00:00Z"} {
		if got, _ := m[key].(string); got != want {
			t.Errorf("record field %s = %v, want %q (record %s)", key, m[key], want, b)
		}
	}
}
