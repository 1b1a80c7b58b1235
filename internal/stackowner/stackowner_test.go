package stackowner

import "testing"

func TestNameOf(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:cloudformation:eu-west-1:123456789012:stack/EcsWorker-Anywhere-onprem/0a1b2c3d-0000": "EcsWorker-Anywhere-onprem",
		"EcsWorker-Anywhere-lab": "EcsWorker-Anywhere-lab",
	} {
		if got := NameOf(in); got != want {
			t.Errorf("NameOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRequire(t *testing.T) {
	s := Stack{Name: "A", byType: map[string]map[string]bool{"AWS::ECS::Cluster": {"a": true}}}
	if err := s.Require("cluster", "AWS::ECS::Cluster", "a"); err != nil {
		t.Errorf("its own cluster refused: %v", err)
	}
	err := s.Require("cluster", "AWS::ECS::Cluster", "b")
	if err == nil || err.Error() != "refused: stack A holds no cluster b; the fleet's functions act only on the resources of the stack that asks (a forged request, or properties edited by hand)" {
		t.Errorf("another's cluster: %v", err)
	}
}
