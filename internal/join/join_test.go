package join

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	activationcontract "github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
)

const (
	region  = "eu-west-1"
	cluster = "ecsAnywhereCluster"
	secret  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ActivationCode-AbCdEf"
	id      = "1a2b3c4d-0000-4000-8000-123456789abc"
	code    = "Kf0Oq6UR5vJT1P/+Dyh9" // codes may hold '/' and '+'
)

// stubs are the node's tools: aws, curl, gpg and sudo are scripts that log
// their calls; everything else the command needs is linked from the machine.
var stubs = map[string]string{
	"aws": `#!/bin/sh
echo "aws $*" >> "$STUB_LOG"
[ -n "${STUB_AWS_FAIL:-}" ] && { echo "An error occurred (AccessDeniedException) when calling the GetSecretValue operation" >&2; exit 254; }
printf '%s\n' "$STUB_SECRET"`,
	"curl": `#!/bin/sh
out=; url=
while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift;; --proto|--tlsv1.2|-fsSL) [ "$1" = --proto ] && shift;; *) url=$1;; esac; shift; done
echo "curl $url" >> "$STUB_LOG"
src="$STUB_FILES/$(basename "$url")"
[ -f "$src" ] || exit 22
if [ -n "$out" ]; then cp "$src" "$out"; else cat "$src"; fi`,
	"gpg": `#!/bin/sh
echo "gpg $*" >> "$STUB_LOG"
case "$*" in
*--import*) cat >/dev/null; [ -z "${STUB_KEY_FAIL:-}" ] || { echo "gpg: no valid OpenPGP data found." >&2; exit 2; }; exit 0;;
*--recv-keys*) [ -z "${STUB_KEY_FAIL:-}" ] || { echo "gpg: keyserver receive failed: No route to host" >&2; exit 2; }; exit 0;;
*--verify*)
  if [ "$STUB_SIG" = good ]; then
    echo "[GNUPG:] GOODSIG BCE9D9A42D51784F Amazon ECS <ecs-security@amazon.com>"
    echo "[GNUPG:] VALIDSIG D64BB6F9C3E4C9BDE3A7CF1850DECCC4710E61AF 2026-01-01 0 4 0 1 10 00 $STUB_FPR"
    exit 0
  fi
  echo "[GNUPG:] BADSIG BCE9D9A42D51784F Amazon ECS"; exit 1;;
esac`,
	"sudo": `#!/bin/sh
echo "sudo $*" >> "$STUB_LOG"
exec "$@"`,
}

// system are the real tools the command uses besides the stubs.
var system = []string{"sh", "bash", "sed", "grep", "awk", "tail", "tr", "mktemp", "rm", "mkdir", "cp", "cat", "basename", "id"}

type node struct {
	t        *testing.T
	bin, log string
	env      []string
}

// newNode makes a node whose tools are the stubs (minus those in missing)
// and whose downloads are a stub install script that records its flags.
func newNode(t *testing.T, missing ...string) *node {
	dir := t.TempDir()
	n := &node{t: t, bin: filepath.Join(dir, "bin"), log: filepath.Join(dir, "calls.log")}
	files := filepath.Join(dir, "files")
	for _, d := range []string{n.bin, files} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range stubs {
		if !contains(missing, name) {
			write(t, filepath.Join(n.bin, name), body, 0o755)
		}
	}
	for _, name := range system {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Skipf("%s not found: the join test needs it", name)
		}
		if err := os.Symlink(p, filepath.Join(n.bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(files, "ecs-anywhere-install-latest.sh"), "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$STUB_ARGS\"\n", 0o644)
	write(t, filepath.Join(files, "ecs-anywhere-install-latest.sh.asc"), "-----BEGIN PGP SIGNATURE-----\n", 0o644)
	write(t, filepath.Join(files, "amazon-ecs-agent.gpg"), "-----BEGIN PGP PUBLIC KEY BLOCK-----\n", 0o644)
	rec, err := json.Marshal(activationcontract.Current{ActivationID: id, ActivationCode: code, ExpirationDate: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	n.env = []string{"PATH=" + n.bin, "HOME=" + dir, "STUB_LOG=" + n.log, "STUB_FILES=" + files, "STUB_ARGS=" + filepath.Join(dir, "install-args"),
		"STUB_SECRET=" + string(rec), "STUB_SIG=good", "STUB_FPR=" + KeyFingerprint}
	return n
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func write(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body+"\n"), mode); err != nil {
		t.Fatal(err)
	}
}

// join runs the join command in shell with extra appended, as a user pastes
// it, and returns its output and whether it succeeded.
func (n *node) join(shell, extra string, env ...string) (string, bool) {
	cmd := exec.Command(filepath.Join(n.bin, shell), "-c", Command(region, cluster, secret)+extra)
	cmd.Env = append(append([]string{}, n.env...), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// installArgs are the flags the install script received, or nil if it never ran.
func (n *node) installArgs() []string {
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(n.bin), "install-args"))
	if err != nil {
		return nil
	}
	return strings.Fields(string(raw))
}

func (n *node) calls() string {
	raw, _ := os.ReadFile(n.log)
	return string(raw)
}

func TestJoinPassesTheRealFlagsAndTheUsersOptionalOnes(t *testing.T) {
	for _, shell := range []string{"bash", "sh"} {
		t.Run(shell, func(t *testing.T) {
			n := newNode(t)
			out, ok := n.join(shell, " --enable-gpu --docker-install-source none")
			if !ok {
				t.Fatalf("join failed:\n%s\ncalls:\n%s", out, n.calls())
			}
			want := []string{"--region", region, "--cluster", cluster, "--activation-id", id, "--activation-code", code, "--enable-gpu", "--docker-install-source", "none"}
			if got := n.installArgs(); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("install script got\n %v\nwant\n %v", got, want)
			}
			calls := n.calls()
			for _, w := range []string{"aws secretsmanager get-secret-value --region " + region + " --secret-id " + secret + " --query SecretString --output text",
				"curl " + InstallScriptURL, "curl " + InstallScriptURL + ".asc", "--verify"} {
				if !strings.Contains(calls, w) {
					t.Errorf("calls lack %q:\n%s", w, calls)
				}
			}
			if strings.Contains(out, code) {
				t.Errorf("the command printed the activation code:\n%s", out)
			}
		})
	}
}

func TestJoinRefuses(t *testing.T) {
	otherKey := "0000000000000000000000000000000000000000"
	for _, tc := range []struct {
		name    string
		missing []string
		extra   string
		env     []string
		want    string
		fetched bool // whether the install script was downloaded before refusing
	}{
		{"bad signature", nil, "", []string{"STUB_SIG=bad"}, "signature does not verify with the ECS Anywhere key " + KeyFingerprint + ": it was not run (gpg says: BADSIG )", true},
		{"signed by another key", nil, "", []string{"STUB_FPR=" + otherKey}, "(gpg says: GOODSIG VALIDSIG " + otherKey + " )", true},
		{"no key anywhere", nil, "", []string{"STUB_KEY_FAIL=1"}, "cannot fetch the ECS Anywhere signing key " + KeyFingerprint + " from " + KeyURL + " or " + Keyserver + " (gpg: no valid OpenPGP data found. gpg: keyserver receive failed: No route to host )", true},
		{"empty secret", nil, "", []string{"STUB_SECRET="}, "holds no activation: deploy the site's stack first", false},
		{"secret without a code", nil, "", []string{`STUB_SECRET={"activationId":"` + id + `","activationCode":""}`}, "holds no activation", false},
		{"bare code from an old version", nil, "", []string{"STUB_SECRET=" + code}, "holds no activation", false},
		{"secret unreadable", nil, "", []string{"STUB_AWS_FAIL=1"}, "cannot read secret " + secret + " in " + region + ": check the AWS credentials", false},
		{"gpg missing", []string{"gpg"}, "", nil, "gpg is not installed", false},
		{"aws missing", []string{"aws"}, "", nil, "aws is not installed", false},
		{"a flag the command sets", nil, " --activation-code x", nil, "--activation-code is set by this command", false},
	} {
		for _, shell := range []string{"bash", "sh"} {
			t.Run(tc.name+"/"+shell, func(t *testing.T) {
				n := newNode(t, tc.missing...)
				out, ok := n.join(shell, tc.extra, tc.env...)
				if ok {
					t.Fatalf("join succeeded, want refusal %q:\n%s", tc.want, out)
				}
				if !strings.Contains(out, tc.want) || !strings.Contains(out, "the node was not changed") {
					t.Errorf("message %q lacks %q", out, tc.want)
				}
				if args := n.installArgs(); args != nil {
					t.Errorf("the install script ran with %v", args)
				}
				if got := strings.Contains(n.calls(), "curl "+InstallScriptURL); got != tc.fetched {
					t.Errorf("install script downloaded: %v, want %v; calls:\n%s", got, tc.fetched, n.calls())
				}
			})
		}
	}
}

func TestCommandIsOneLineEndingInTheFunction(t *testing.T) {
	c := Command(region, cluster, secret)
	if strings.Contains(c, "\n") || !strings.HasSuffix(c, " "+Function) {
		t.Errorf("the command must be one line ending in %s so flags can be appended", Function)
	}
	if regexp.MustCompile(`@[A-Z]+@`).MatchString(c) {
		t.Errorf("a placeholder was left in the command: %s", c)
	}
}
