package join

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unattendedStubs are the machine's own tools for an unattended join:
// they log their calls (id says root; install makes folders without
// changing owners).
var unattendedStubs = map[string]string{
	"id": `#!/bin/sh
echo 0`,
	"install": `#!/bin/sh
echo "install $*" >> "$STUB_LOG"
while [ $# -gt 0 ]; do case "$1" in -o|-g|-m) shift;; -d) ;; *) mkdir -p "$1";; esac; shift; done`,
	"systemctl": `#!/bin/sh
echo "systemctl $*" >> "$STUB_LOG"`,
	"amazon-ssm-agent": `#!/bin/sh
echo "amazon-ssm-agent $*" >> "$STUB_LOG"
[ -z "${STUB_REGISTER_FAIL:-}" ] || exit 1`,
}

// unattendedNode is a node for the unattended script: the join stubs, the
// machine's tools above, and a root folder for every path it writes.
func unattendedNode(t *testing.T) (*node, string) {
	n := newNode(t)
	for name, body := range unattendedStubs {
		_ = os.Remove(filepath.Join(n.bin, name))
		write(t, filepath.Join(n.bin, name), body, 0o755)
	}
	for _, name := range []string{"date", "dirname", "mv", "printf"} {
		if p, err := exec.LookPath(name); err == nil {
			_ = os.Symlink(p, filepath.Join(n.bin, name))
		}
	}
	root := t.TempDir()
	n.env = append(n.env, "ECS_JOIN_ROOT="+root)
	return n, root
}

// run writes u's script and runs it with shell.
func (n *node) run(t *testing.T, shell string, u Unattended, env ...string) (string, bool) {
	t.Helper()
	if err := u.Validate(); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "join")
	write(t, script, u.Script(), 0o700)
	cmd := exec.Command(filepath.Join(n.bin, shell), script)
	cmd.Env = append(append([]string{}, n.env...), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func read(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(raw)
}

var batch = Unattended{Region: region, Cluster: cluster, ActivationID: id, ActivationCode: code, Site: "onprem"}

// A first-boot join in sh and bash: /data for uid 1000, the install
// script verified and run with the batch's activation and --no-start,
// then the ECS agent enabled and started without blocking (its unit waits
// for cloud-final, which runs this); a log a person can read.
func TestUnattendedJoinRegistersAndStartsWithoutBlocking(t *testing.T) {
	for _, shell := range []string{"sh", "bash"} {
		n, root := unattendedNode(t)
		out, ok := n.run(t, shell, batch)
		if !ok || !strings.Contains(out, "ecs-anywhere-join: done (log: "+root+LogFile+")") {
			t.Fatalf("%s: join failed:\n%s\n%s", shell, out, read(t, filepath.Join(root, LogFile)))
		}
		want := []string{"--region", region, "--cluster", cluster, "--activation-id", id, "--activation-code", code, "--no-start"}
		if got := n.installArgs(); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: install script flags %v, want %v", shell, got, want)
		}
		calls := n.calls()
		for _, c := range []string{"install -d -o 1000 -g 1000 " + root + "/data", "gpg --batch --status-fd 1 --verify", "systemctl enable ecs", "systemctl start --no-block ecs"} {
			if !strings.Contains(calls, c) {
				t.Errorf("%s: no %q in\n%s", shell, c, calls)
			}
		}
		log := read(t, filepath.Join(root, LogFile))
		if !strings.Contains(log, "install script signature verified") || !strings.Contains(log, "ECS agent starting") {
			t.Errorf("%s: the log does not say what happened:\n%s", shell, log)
		}
		if strings.Contains(log, code) {
			t.Errorf("%s: the log holds the activation code", shell)
		}
		if fi, err := os.Stat(filepath.Join(root, LogFile)); err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: the log must be root's only: %v %v", shell, fi.Mode(), err)
		}
		if _, err := os.Stat(filepath.Join(root, "etc", "systemd")); err == nil {
			t.Errorf("%s: proxy settings written without a proxy", shell)
		}
	}
}

// With a proxy, its settings are written for the ECS agent, Docker and the
// SSM agent before the install script runs, and the downloads use it.
func TestUnattendedJoinBehindAProxy(t *testing.T) {
	n, root := unattendedNode(t)
	u := batch
	u.Proxy, u.NoProxy, u.GPU, u.ECSVersion = "http://proxy.example:3128", []string{"10.0.0.0/8", ".corp.example"}, true, "1.89.1"
	write(t, filepath.Join(n.bin, "curl"), "#!/bin/sh\necho \"curl proxy=$https_proxy $HTTPS_PROXY no=$NO_PROXY\" >> \"$STUB_LOG\"\n"+strings.SplitN(stubs["curl"], "\n", 2)[1], 0o755)
	out, ok := n.run(t, "sh", u)
	if !ok {
		t.Fatalf("join failed:\n%s\n%s", out, read(t, filepath.Join(root, LogFile)))
	}
	noProxy := "169.254.169.254,169.254.170.2,/var/run/docker.sock,10.0.0.0/8,.corp.example"
	if cfg := read(t, filepath.Join(root, "etc/ecs/ecs.config")); cfg != "HTTP_PROXY=http://proxy.example:3128\nNO_PROXY="+noProxy+"\n" {
		t.Errorf("ecs.config:\n%s", cfg)
	}
	for _, unit := range []string{"ecs", "docker", "amazon-ssm-agent"} {
		dropIn := read(t, filepath.Join(root, "etc/systemd/system", unit+".service.d", "http-proxy.conf"))
		if !strings.Contains(dropIn, `"HTTPS_PROXY=http://proxy.example:3128"`) || !strings.Contains(dropIn, `"NO_PROXY=`+noProxy+`"`) {
			t.Errorf("%s drop-in:\n%s", unit, dropIn)
		}
	}
	calls := n.calls()
	if !strings.Contains(calls, "curl proxy=http://proxy.example:3128 http://proxy.example:3128 no="+noProxy) {
		t.Errorf("the downloads do not use the proxy:\n%s", calls)
	}
	if strings.Index(calls, "systemctl daemon-reload") > strings.Index(calls, "curl ") {
		t.Errorf("the proxy must be set before anything is downloaded or installed:\n%s", calls)
	}
	if got := strings.Join(n.installArgs(), " "); !strings.HasSuffix(got, "--no-start --enable-gpu --ecs-version 1.89.1") {
		t.Errorf("install flags %s", got)
	}
}

// A golden image: the agents installed without an activation, not
// registered, not started; a clone registers at first boot and starts the
// agent with the cluster set.
func TestUnattendedGoldenImageThenFirstBoot(t *testing.T) {
	n, root := unattendedNode(t)
	image := Unattended{Region: region, Stage: StageImage, Site: "onprem"}
	if out, ok := n.run(t, "bash", image); !ok {
		t.Fatalf("image: %s", out)
	}
	if got := strings.Join(n.installArgs(), " "); got != "--region "+region+" --skip-registration --no-start" {
		t.Errorf("image install flags %s", got)
	}
	if strings.Contains(n.calls(), "systemctl") {
		t.Errorf("the image must start nothing:\n%s", n.calls())
	}
	boot := batch
	boot.Stage = StageBoot
	out, ok := n.run(t, "sh", boot)
	if !ok {
		t.Fatalf("first boot: %s\n%s", out, read(t, filepath.Join(root, LogFile)))
	}
	calls := n.calls()
	if !strings.Contains(calls, "amazon-ssm-agent -register -y -id "+id+" -code "+code+" -region "+region) || !strings.Contains(calls, "systemctl start --no-block ecs") {
		t.Errorf("first boot calls:\n%s", calls)
	}
	if cfg := read(t, filepath.Join(root, "etc/ecs/ecs.config")); !strings.Contains(cfg, "ECS_CLUSTER="+cluster) {
		t.Errorf("ecs.config %q", cfg)
	}
	// A used-up activation: it says so and what to do, and fails.
	n2, _ := unattendedNode(t)
	out, ok = n2.run(t, "sh", boot, "STUB_REGISTER_FAIL=1")
	if ok || !strings.Contains(out, "SSM registration failed: the activation may be used up or expired") {
		t.Errorf("failed registration: ok %v\n%s", ok, out)
	}
}

// A bad signature stops the join before anything is installed; the
// output says so and where the log is; a machine already registered is
// left alone.
func TestUnattendedJoinRefuses(t *testing.T) {
	n, root := unattendedNode(t)
	out, ok := n.run(t, "sh", batch, "STUB_SIG=bad")
	if ok || n.installArgs() != nil || !strings.Contains(out, "FAILED") || !strings.Contains(out, "signature does not verify") {
		t.Errorf("bad signature: ok %v, install ran %v\n%s", ok, n.installArgs() != nil, out)
	}
	if err := os.MkdirAll(filepath.Join(root, "var/lib/amazon/ssm"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "var/lib/amazon/ssm/registration"), `{"ManagedInstanceID":"mi-0123456789abcdef0","Region":"eu-west-1"}`, 0o600)
	out, ok = n.run(t, "sh", batch)
	if !ok || n.installArgs() != nil || !strings.Contains(read(t, filepath.Join(root, LogFile)), "already registered with SSM") {
		t.Errorf("a registered machine: ok %v\n%s", ok, out)
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
