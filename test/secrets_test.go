package test

import (
	"slices"
	"strings"
	"testing"
)

// TestWorkerSecretsInBothTaskDefinitions: the configured parameters and
// secrets reach both task definitions alike, as container secrets, and the
// execution role may read exactly them.
func TestWorkerSecretsInBothTaskDefinitions(t *testing.T) {
	requireSynth(t)
	want := map[string][]string{
		"API_TOKEN":   {"arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/token-AbCdEf:token::"},
		"API_URL":     {`"/app/api-url"`},
		"DB_PASSWORD": {"arn:aws:ssm:eu-west-1:123456789012:parameter/app/db"},
	}
	for _, name := range []string{"Variant-Regional", "Variant-Anywhere-factory", "Variant-Anywhere-pi"} {
		c := container(t, variant[name])
		secrets, _ := c["Secrets"].([]any)
		got := map[string]string{}
		for _, s := range secrets {
			m := s.(map[string]any)
			got[m["Name"].(string)] = jsonOf(m["ValueFrom"])
		}
		if keys := slices.Sorted(mapsKeys(got)); !slices.Equal(keys, []string{"API_TOKEN", "API_URL", "DB_PASSWORD"}) {
			t.Errorf("%s: container secrets %v", name, keys)
		}
		for k, frags := range want {
			for _, f := range frags {
				if !strings.Contains(got[k], f) {
					t.Errorf("%s: secret %s = %s, want it to name %s", name, k, got[k], f)
				}
			}
		}
		for _, e := range envOf(c) {
			if strings.Contains(e, "app/") {
				t.Errorf("%s: a secret's source appears in the plain environment: %s", name, e)
			}
		}
	}
	if len(regionalNoSecrets(t)) != 0 {
		t.Error("the default configuration has no container secrets")
	}
	got := map[string][]statement{}
	for _, st := range statements(variant["Variant-Regional"], "WorkerSpecExecutionRole") {
		for _, a := range st.actions {
			got[a] = append(got[a], st)
		}
	}
	for _, a := range []string{"ssm:GetParameters", "secretsmanager:GetSecretValue"} {
		if len(got[a]) == 0 {
			t.Fatalf("execution role lacks %s", a)
		}
		for _, st := range got[a] {
			r := jsonOf(st.resource)
			if strings.Contains(r, `"*"`) || strings.Contains(r, "parameter/*") || !strings.Contains(r, "app/") {
				t.Errorf("%s must be limited to the configured sources: %s", a, r)
			}
		}
	}
	kms := got["kms:Decrypt"]
	found := false
	for _, st := range kms {
		if jsonOf(st.resource) == `"`+variantKey+`"` {
			found = true
			if c := jsonOf(st.raw["Condition"]); !strings.Contains(c, "kms:ViaService") || !strings.Contains(c, "ssm.") || !strings.Contains(c, "secretsmanager.") {
				t.Errorf("decrypting with the named key must go through SSM or Secrets Manager only: %s", c)
			}
		}
	}
	if !found {
		t.Errorf("execution role may not decrypt with the named key %s: %v", variantKey, kms)
	}
}

func regionalNoSecrets(t *testing.T) []any {
	s, _ := container(t, regional(t))["Secrets"].([]any)
	return s
}
