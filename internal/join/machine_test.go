package join

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// machine is the fake machine of testdata/machine (its README): a root
// folder standing for /, tools that keep their state under it, the
// install script served as the model of testdata, and cloud-init played
// from the user data as cloud-init runs it.
type machine struct {
	t                        *testing.T
	root, log, urls, scripts string
	env                      []string
}

// machineTools are this computer's tools the scripts use besides the
// fake ones; the shells are among them.
var machineTools = []string{"sh", "dash", "bash", "sed", "grep", "awk", "tail", "head", "tr", "mktemp", "rm", "mkdir", "cp", "cat",
	"basename", "dirname", "date", "mv", "printf", "chmod", "ln", "touch", "env"}

func newMachine(t *testing.T) *machine {
	t.Helper()
	dir := t.TempDir()
	m := &machine{t: t, root: filepath.Join(dir, "root"), log: filepath.Join(dir, "calls.log"), urls: filepath.Join(dir, "urls.log")}
	sys := filepath.Join(dir, "sys")
	files := filepath.Join(dir, "files")
	for _, d := range []string{sys, files, filepath.Join(m.root, "run/systemd/system"), filepath.Join(m.root, "etc"), filepath.Join(m.root, "usr/bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range machineTools {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Skipf("%s not found: the machine tests need it", name)
		}
		if err := os.Symlink(p, filepath.Join(sys, name)); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(m.root, "etc/os-release"), "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm", 0o644)
	model, err := os.ReadFile(filepath.Join("testdata", "ecs-anywhere-install.model.sh"))
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]string{
		"ecs-anywhere-install-latest.sh": string(model), "ecs-anywhere-install-latest.sh.asc": "signature",
		"amazon-ecs-agent.gpg": "key", "amazon-ssm-agent.gpg": "keys", "gpg": "docker's key",
		"amazon-ssm-agent.deb": "Package: amazon-ssm-agent\nVersion: 3.3.4108.0", "amazon-ssm-agent.deb.sig": "signature",
		"amazon-ssm-agent-binaries.tar.gz": "binaries",
	}
	for _, v := range []string{"latest", "1.89.1"} {
		served["amazon-ecs-init-"+v+".amd64.deb"] = "Package: amazon-ecs-init\nVersion: " + v
		served["amazon-ecs-init-"+v+".amd64.deb.asc"] = "signature"
	}
	for name, body := range served {
		write(t, filepath.Join(files, name), body, 0o644)
	}
	bin, err := filepath.Abs(filepath.Join("testdata", "machine", "bin"))
	if err != nil {
		t.Fatal(err)
	}
	m.env = []string{"PATH=" + bin + ":" + filepath.Join(m.root, "usr/bin") + ":" + sys, "HOME=" + dir, "ECS_JOIN_ROOT=" + m.root,
		"STUB_LOG=" + m.log, "STUB_URLS=" + m.urls, "STUB_FILES=" + files, "STUB_SIG=good", "STUB_FPR=" + KeyFingerprint}
	return m
}

// sh runs a command line on the machine with env added.
func (m *machine) sh(line string, env ...string) (string, error) {
	cmd := exec.Command("sh", "-c", line)
	cmd.Env = append(append([]string{}, m.env...), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// cloudInit plays the user data as cloud-init does on first boot: its
// YAML read by cloud-init's own parser (PyYAML), the packages installed
// with the package manager, the files written, then runcmd run (in
// shell) while cloud-final.service is running; when it ends, the units
// queued behind cloud-final start. It returns runcmd's output and whether
// it succeeded.
func (m *machine) cloudInit(shell, userData string, env ...string) (string, bool) {
	t := m.t
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := exec.Command(py, "-c", "import yaml").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 with yaml (cloud-init's) is missing: .ci/run installs cloud-init")
		}
		t.Skip("no python3 with yaml (apt-get install cloud-init)")
	}
	cmd := exec.Command(py, "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))")
	cmd.Stdin = strings.NewReader(userData)
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("the user data is not YAML: %v\n%s", err, userData)
	}
	var doc struct {
		Apt struct {
			HTTPProxy  string `json:"http_proxy"`
			HTTPSProxy string `json:"https_proxy"`
		} `json:"apt"`
		Packages   []string `json:"packages"`
		WriteFiles []struct {
			Path, Permissions, Content string
		} `json:"write_files"`
		Runcmd [][]string `json:"runcmd"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("user data: %v", err)
	}
	if len(doc.Packages) > 0 {
		// cloud-init's apt module writes the proxy into apt's settings.
		aptEnv := append(append([]string{}, env...), "http_proxy="+doc.Apt.HTTPProxy, "https_proxy="+doc.Apt.HTTPSProxy)
		if out, err := m.sh("apt-get update && apt-get install -y "+strings.Join(doc.Packages, " "), aptEnv...); err != nil {
			t.Fatalf("cloud-init packages: %v\n%s", err, out)
		}
	}
	for _, f := range doc.WriteFiles {
		var mode os.FileMode
		if _, err := fmt.Sscanf(f.Permissions, "%o", &mode); err != nil {
			t.Fatalf("write_files %s: permissions %q", f.Path, f.Permissions)
		}
		p := filepath.Join(m.root, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.Content), mode); err != nil {
			t.Fatal(err)
		}
	}
	running := filepath.Join(m.root, "run/fake-systemd/cloud-final.service.running")
	if err := os.MkdirAll(filepath.Dir(running), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, running, "", 0o644)
	var out strings.Builder
	ok := true
	for _, c := range doc.Runcmd {
		o, good := m.run(shell, c[0], env...)
		out.WriteString(o)
		ok = ok && good
	}
	_ = os.Remove(running)
	m.cloudFinalDone()
	return out.String(), ok
}

// run runs the script at path (on the machine) with shell.
func (m *machine) run(shell, path string, env ...string) (string, bool) {
	cmd := exec.Command(shell, filepath.Join(m.root, path))
	cmd.Env = append(append([]string{}, m.env...), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// cloudFinalDone starts what waited for cloud-final.
func (m *machine) cloudFinalDone() {
	queued, _ := filepath.Glob(filepath.Join(m.root, "run/fake-systemd/*.queued"))
	for _, q := range queued {
		if err := os.Rename(q, strings.TrimSuffix(q, ".queued")+".active"); err != nil {
			m.t.Fatal(err)
		}
	}
}

// reboot stops every unit and starts the enabled ones.
func (m *machine) reboot() {
	run := filepath.Join(m.root, "run/fake-systemd")
	_ = os.RemoveAll(run)
	_ = os.MkdirAll(run, 0o755)
	links, _ := filepath.Glob(filepath.Join(m.root, "etc/systemd/system/multi-user.target.wants/*"))
	for _, l := range links {
		write(m.t, filepath.Join(run, filepath.Base(l)+".active"), "", 0o644)
	}
}

// state is what decides whether a machine is a node of the site.
type state struct {
	SSMEnabled, SSMActive, ECSEnabled, ECSActive bool
	ManagedInstance                              string
	Registrations                                int
	Clusters                                     []string // ECS_CLUSTER lines of /etc/ecs/ecs.config
	AgentSettings                                string   // /var/lib/ecs/ecs.config
}

func (m *machine) state() state {
	var s state
	has := func(p string) bool { _, err := os.Lstat(filepath.Join(m.root, p)); return err == nil }
	s.SSMEnabled = has("etc/systemd/system/multi-user.target.wants/amazon-ssm-agent.service")
	s.SSMActive = has("run/fake-systemd/amazon-ssm-agent.service.active")
	s.ECSEnabled = has("etc/systemd/system/multi-user.target.wants/ecs.service")
	s.ECSActive = has("run/fake-systemd/ecs.service.active")
	var reg struct {
		InstanceID string `json:"instanceID"`
	}
	if raw, err := os.ReadFile(filepath.Join(m.root, "var/lib/amazon/ssm/Vault/Store/RegistrationKey")); err == nil {
		_ = json.Unmarshal(raw, &reg)
	}
	s.ManagedInstance = reg.InstanceID
	_, _ = fmt.Sscan(read(m.t, filepath.Join(m.root, "var/lib/amazon/ssm/registrations")), &s.Registrations)
	for _, l := range strings.Split(read(m.t, filepath.Join(m.root, "etc/ecs/ecs.config")), "\n") {
		if c, ok := strings.CutPrefix(l, "ECS_CLUSTER="); ok {
			s.Clusters = append(s.Clusters, c)
		}
	}
	s.AgentSettings = read(m.t, filepath.Join(m.root, "var/lib/ecs/ecs.config"))
	return s
}

// requireJoined fails t unless the machine is a node of the cluster: the
// SSM Agent enabled, running and registered once, the ECS agent enabled
// and running with the cluster set once and ECS Anywhere's settings.
func (m *machine) requireJoined(what string) {
	m.t.Helper()
	s := m.state()
	if !s.SSMEnabled || !s.SSMActive || !strings.HasPrefix(s.ManagedInstance, "mi-") || s.Registrations != 1 ||
		!s.ECSEnabled || !s.ECSActive || !slices.Equal(s.Clusters, []string{cluster}) ||
		!strings.Contains(s.AgentSettings, "ECS_EXTERNAL=true\n") || !strings.Contains(s.AgentSettings, "AWS_DEFAULT_REGION="+region+"\n") {
		m.t.Errorf("%s: the machine did not join: %+v\nlog:\n%s", what, s, read(m.t, filepath.Join(m.root, LogFile)))
	}
}

// hosts are the hosts the machine's curl was asked for.
func (m *machine) hosts() []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(read(m.t, m.urls)), "\n") {
		if u, err := url.Parse(l); err == nil && u.Host != "" && !slices.Contains(out, u.Host) {
			out = append(out, u.Host)
		}
	}
	return out
}

// The default first-boot join, in sh, dash and bash, against the install
// script's model: after cloud-final the SSM Agent runs (the install
// script's --no-start leaves it stopped) and the ECS agent runs with the
// site's cluster; the script deleted itself (it held the activation).
func TestFirstBootJoinsWithTheInstallScriptAsAWSShipsIt(t *testing.T) {
	for _, shell := range []string{"sh", "dash", "bash"} {
		t.Run(shell, func(t *testing.T) {
			m := newMachine(t)
			out, ok := m.cloudInit(shell, batch.CloudConfig("join"))
			if !ok || !strings.Contains(out, "ecs-anywhere-join: done") {
				t.Fatalf("join failed:\n%s\n%s", out, read(t, filepath.Join(m.root, LogFile)))
			}
			m.requireJoined("first boot")
			if _, err := os.Stat(filepath.Join(m.root, ScriptPath)); err == nil {
				t.Error("the join script (it holds the activation) is still on the machine")
			}
			if log := read(t, filepath.Join(m.root, LogFile)); !strings.Contains(log, "Skip starting ssm agent because --no-start is specified.") {
				t.Errorf("the install script did not run with --no-start:\n%s", log)
			}
			if calls := read(t, m.log); !strings.Contains(calls, "systemctl start --no-block ecs") {
				t.Errorf("the ECS agent is not started without blocking:\n%s", calls)
			}
		})
	}
}

// A golden image, then a machine made from it: the image installs the
// SSM Agent (the install script's --skip-registration needs it enabled and
// installs none) and the ECS agent, registers nothing, and leaves the ECS
// agent disabled with no cluster; the clone's first boot registers it and
// starts both agents.
func TestGoldenImageThenFirstBootJoins(t *testing.T) {
	m := newMachine(t)
	image := Unattended{Region: region, Stage: StageImage, Site: "onprem"}
	out, ok := m.cloudInit("sh", image.CloudConfig("image"))
	if !ok {
		t.Fatalf("image: %s\n%s", out, read(t, filepath.Join(m.root, LogFile)))
	}
	s := m.state()
	if !s.SSMEnabled || s.SSMActive || s.ManagedInstance != "" || s.ECSEnabled || s.ECSActive || len(s.Clusters) != 0 {
		t.Errorf("the image must hold both agents installed, nothing registered, running or joining a cluster: %+v", s)
	}
	m.reboot() // a machine made from the image boots
	if s := m.state(); s.ECSActive {
		t.Fatalf("a clone's ECS agent started before its first boot set the cluster: %+v", s)
	}
	boot := batch
	boot.Stage = StageBoot
	out, ok = m.cloudInit("dash", boot.CloudConfig("boot"))
	if !ok {
		t.Fatalf("first boot: %s\n%s", out, read(t, filepath.Join(m.root, LogFile)))
	}
	m.requireJoined("image then boot")
}

// Behind a proxy, with GPU support and a pinned agent: the settings are
// written for the three services before anything is downloaded, the
// machine joins, and the GPU setting is there.
func TestProxyAndGPUJoin(t *testing.T) {
	m := newMachine(t)
	write(t, filepath.Join(m.root, "usr/bin/nvidia-smi"), "#!/bin/sh\nexit 0", 0o755)
	u := batch
	u.Proxy, u.NoProxy, u.GPU, u.ECSVersion = "http://proxy.example:3128", []string{"10.0.0.0/8"}, true, "1.89.1"
	out, ok := m.cloudInit("bash", u.CloudConfig("proxy"))
	if !ok {
		t.Fatalf("join failed:\n%s\n%s", out, read(t, filepath.Join(m.root, LogFile)))
	}
	m.requireJoined("proxy and GPU")
	s := m.state()
	if !strings.Contains(s.AgentSettings, "ECS_ENABLE_GPU_SUPPORT=true") {
		t.Errorf("no GPU support: %q", s.AgentSettings)
	}
	if cfg := read(t, filepath.Join(m.root, "etc/ecs/ecs.config")); !strings.HasPrefix(cfg, "HTTP_PROXY=http://proxy.example:3128\n") {
		t.Errorf("ecs.config:\n%s", cfg)
	}
	if v := strings.TrimSpace(read(t, filepath.Join(m.root, "var/lib/fake-dpkg/amazon-ecs-init"))); v != "1.89.1" {
		t.Errorf("ECS agent %q installed, want the pinned 1.89.1", v)
	}
}

// A join that fails at any step says which, exits non-zero, keeps the
// script, and run again once the cause is gone finishes the join without
// registering the machine a second time.
func TestRerunAfterAFailureAtEachStepFinishesTheJoin(t *testing.T) {
	for _, tc := range []struct {
		name, step string
		env        []string
	}{
		{"downloads unreachable", "install script signature", []string{"STUB_OFFLINE=amazon-ecs-agent.s3.amazonaws.com"}},
		{"registration refused", "install script", []string{"STUB_REGISTER_FAIL=1"}},
		{"docker does not install", "install script", []string{"STUB_APT_FAIL=docker-ce"}},
		{"ECS agent does not install", "install script", []string{"STUB_APT_FAIL=amazon-ecs-init"}},
		{"ecs cannot be enabled", "install script", []string{"STUB_SYSTEMCTL_FAIL=enable:ecs"}},
		{"the SSM Agent does not start", "SSM Agent", []string{"STUB_SYSTEMCTL_FAIL=start:amazon-ssm-agent"}},
		{"ecs does not start", "ECS agent", []string{"STUB_SYSTEMCTL_FAIL=start:ecs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t)
			out, ok := m.cloudInit("sh", batch.CloudConfig("join"), tc.env...)
			if ok || !strings.Contains(out, `FAILED at step "`+tc.step+`"`) || !strings.Contains(out, "run it again") {
				t.Fatalf("want a failure at step %q, got ok=%v:\n%s\n%s", tc.step, ok, out, read(t, filepath.Join(m.root, LogFile)))
			}
			if _, err := os.Stat(filepath.Join(m.root, ScriptPath)); err != nil {
				t.Fatalf("the failed join deleted itself: nothing to run again")
			}
			out, ok = m.run("sh", ScriptPath)
			if !ok {
				t.Fatalf("the rerun failed:\n%s\n%s", out, read(t, filepath.Join(m.root, LogFile)))
			}
			m.cloudFinalDone()
			m.requireJoined("rerun")
		})
	}
}

// A machine that joined and is run again is left joined, registered once,
// and says as which node.
func TestRerunOnAJoinedMachineNamesIt(t *testing.T) {
	m := newMachine(t)
	if out, err := m.sh("apt-get install -y curl gnupg"); err != nil { // what the cloud-config's packages do
		t.Fatal(err, out)
	}
	write(t, filepath.Join(m.root, "join.sh"), batch.Script(), 0o700)
	for range 2 {
		if out, ok := m.run("bash", "join.sh"); !ok {
			t.Fatalf("%s\n%s", out, read(t, filepath.Join(m.root, LogFile)))
		}
	}
	m.requireJoined("twice")
	if log := read(t, filepath.Join(m.root, LogFile)); !strings.Contains(log, "already registered with SSM as mi-0123456789abcde01") {
		t.Errorf("the rerun does not name the node:\n%s", log)
	}
}

// read is the file at path, or "" when there is none.
func read(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(raw)
}
