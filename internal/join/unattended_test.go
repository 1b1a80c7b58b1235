package join

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var batch = Unattended{Region: region, Cluster: cluster, ActivationID: id, ActivationCode: code, Site: "onprem"}

// The log says what happened, holds no activation code, and is root's only;
// without a proxy no proxy settings are written.
func TestUnattendedJoinLog(t *testing.T) {
	m := newMachine(t)
	if out, ok := m.cloudInit("sh", batch.CloudConfig("join")); !ok {
		t.Fatalf("join failed:\n%s", out)
	}
	log := read(t, filepath.Join(m.root, LogFile))
	for _, w := range []string{"install script signature verified", "SSM Agent running, registered as mi-", "ECS agent starting: node mi-"} {
		if !strings.Contains(log, w) {
			t.Errorf("the log does not say %q:\n%s", w, log)
		}
	}
	if strings.Contains(log, code) {
		t.Error("the log holds the activation code")
	}
	if fi, err := os.Stat(filepath.Join(m.root, LogFile)); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("the log must be root's only: %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(m.root, "etc/systemd/system/ecs.service.d")); err == nil {
		t.Error("proxy settings written without a proxy")
	}
}

// With a proxy, its settings are written for the ECS agent, Docker and the
// SSM agent before anything is downloaded, and the downloads use it.
func TestUnattendedJoinBehindAProxy(t *testing.T) {
	m := newMachine(t)
	u := batch
	u.Proxy, u.NoProxy = "http://proxy.example:3128", []string{"10.0.0.0/8", ".corp.example"}
	if out, ok := m.cloudInit("sh", u.CloudConfig("proxy")); !ok {
		t.Fatalf("join failed:\n%s\n%s", out, read(t, filepath.Join(m.root, LogFile)))
	}
	m.requireJoined("behind a proxy")
	noProxy := "169.254.169.254,169.254.170.2,/var/run/docker.sock,10.0.0.0/8,.corp.example"
	if cfg := read(t, filepath.Join(m.root, "etc/ecs/ecs.config")); cfg != "HTTP_PROXY=http://proxy.example:3128\nNO_PROXY="+noProxy+"\nECS_CLUSTER="+cluster+"\n" {
		t.Errorf("ecs.config:\n%s", cfg)
	}
	for _, unit := range []string{"ecs", "docker", "amazon-ssm-agent"} {
		dropIn := read(t, filepath.Join(m.root, "etc/systemd/system", unit+".service.d", "http-proxy.conf"))
		if !strings.Contains(dropIn, `"HTTPS_PROXY=http://proxy.example:3128"`) || !strings.Contains(dropIn, `"NO_PROXY=`+noProxy+`"`) {
			t.Errorf("%s drop-in:\n%s", unit, dropIn)
		}
	}
	calls := read(t, m.log)
	if !strings.Contains(calls, "curl via http://proxy.example:3128 (direct: "+noProxy+")") {
		t.Errorf("the downloads do not use the proxy:\n%s", calls)
	}
	if !strings.Contains(calls, "apt-get update via http://proxy.example:3128\n") {
		t.Errorf("cloud-init's packages are not fetched through the proxy:\n%s", calls)
	}
	if i := strings.Index(calls, "systemctl daemon-reload"); i < 0 || i > strings.Index(calls, "\ncurl ") {
		t.Errorf("the proxy must be set before anything is downloaded or installed:\n%s", calls)
	}
}

// A bad signature stops the join before anything is installed; a used-up
// activation at an image's first boot says so and what to do.
func TestUnattendedJoinRefuses(t *testing.T) {
	m := newMachine(t)
	out, ok := m.cloudInit("sh", batch.CloudConfig("join"), "STUB_SIG=bad")
	if ok || !strings.Contains(out, `FAILED at step "install script signature"`) || !strings.Contains(out, "signature does not verify") {
		t.Errorf("bad signature: ok %v\n%s", ok, out)
	}
	if calls := read(t, m.log); strings.Contains(calls, "apt update -y") {
		t.Errorf("the install script ran:\n%s", calls)
	}
	m = newMachine(t)
	if out, ok := m.cloudInit("sh", Unattended{Region: region, Stage: StageImage}.CloudConfig("image")); !ok {
		t.Fatalf("image: %s", out)
	}
	m.reboot()
	boot := batch
	boot.Stage = StageBoot
	out, ok = m.cloudInit("sh", boot.CloudConfig("boot"), "STUB_REGISTER_FAIL=1")
	if ok || !strings.Contains(out, `FAILED at step "SSM registration"`) || !strings.Contains(out, "the activation may be used up or expired") {
		t.Errorf("failed registration: ok %v\n%s", ok, out)
	}
}

func TestUnattendedValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		u    Unattended
		want string
	}{
		"bad id":           {Unattended{Region: region, Cluster: cluster, ActivationID: "x", ActivationCode: code}, "activation id is \"x\""},
		"image with code":  {Unattended{Region: region, Stage: StageImage, ActivationID: id, ActivationCode: code}, "an image carries no activation"},
		"proxy scheme":     {Unattended{Region: region, Cluster: cluster, ActivationID: id, ActivationCode: code, Proxy: "proxy:3128"}, "give it as http://host:port"},
		"no-proxy alone":   {Unattended{Region: region, Cluster: cluster, ActivationID: id, ActivationCode: code, NoProxy: []string{"x"}}, "without a proxy"},
		"quote in cluster": {Unattended{Region: region, Cluster: "a'b", ActivationID: id, ActivationCode: code}, "cluster is \"a'b\""},
		"gpu at boot":      {Unattended{Region: region, Cluster: cluster, ActivationID: id, ActivationCode: code, Stage: StageBoot, GPU: true}, "chosen when the image is made"},
		"stage":            {Unattended{Region: region, Cluster: cluster, ActivationID: id, ActivationCode: code, Stage: "later"}, "stage is \"later\""},
	} {
		if err := tc.u.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// The user data passes cloud-init's own schema check (Debian's cloud-init
// package), with and without a proxy, for each stage.
func TestCloudConfigPassesCloudInitsSchema(t *testing.T) {
	ci, err := exec.LookPath("cloud-init")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("cloud-init is not installed: .ci/run installs it (apt-get install cloud-init)")
		}
		t.Skip("cloud-init is not installed (apt-get install cloud-init)")
	}
	proxied := batch
	proxied.Proxy, proxied.NoProxy = "http://proxy.example:3128", []string{"10.0.0.0/8"}
	image := Unattended{Region: region, Stage: StageImage}
	boot := batch
	boot.Stage = StageBoot
	for name, u := range map[string]Unattended{"plain": batch, "proxy": proxied, "image": image, "boot": boot} {
		doc := u.CloudConfig("ECS Anywhere join of site onprem\nholds an activation: a secret")
		if !strings.HasPrefix(doc, "#cloud-config\n") || !strings.Contains(doc, "      #!/bin/sh\n") {
			t.Errorf("%s: not cloud-config with the script:\n%s", name, doc)
		}
		f := filepath.Join(t.TempDir(), "user-data")
		write(t, f, doc, 0o600)
		out, err := exec.Command(ci, "schema", "--config-file", f).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Valid cloud-config") {
			t.Errorf("%s: cloud-init schema: %v\n%s", name, err, out)
		}
	}
}
