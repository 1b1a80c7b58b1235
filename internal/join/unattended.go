package join

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Stages of an unattended join.
const (
	// StageFull installs and registers on first boot (the default).
	StageFull = "full"
	// StageImage installs the agents without registering or starting them,
	// for a golden image; it carries no activation.
	StageImage = "image"
	// StageBoot registers a machine made from such an image at its first
	// boot, and starts the ECS agent.
	StageBoot = "boot"
)

// LogFile is where an unattended join writes what it did.
const LogFile = "/var/log/ecs-anywhere-join.log"

// ScriptPath is where the cloud-init user data writes the join script; it
// deletes itself once the node has joined (it holds the activation).
const ScriptPath = "/usr/local/sbin/ecs-anywhere-join"

// ProxyNoProxy are the addresses a node must reach without the proxy: the
// instance metadata and the ECS agent's task metadata and credentials
// endpoints, and Docker's socket (AWS's proxy guide for external
// instances; Docker's NO_PROXY must hold 169.254.170.2 or the awslogs
// driver fails).
var ProxyNoProxy = []string{"169.254.169.254", "169.254.170.2", "/var/run/docker.sock"}

// Unattended is a join with nobody at the machine: cloud-init user data
// (CloudConfig) or a script (Script) that runs once, as root.
type Unattended struct {
	// Region and Cluster of the site.
	Region, Cluster string
	// ActivationID and ActivationCode of the batch's dedicated activation;
	// empty for StageImage.
	ActivationID, ActivationCode string
	// Stage is StageFull, StageImage or StageBoot. Default: StageFull.
	Stage string
	// Proxy is the HTTP(S) proxy the node reaches AWS through
	// (http://host:port); empty for none.
	Proxy string
	// NoProxy are more addresses to reach directly, beside ProxyNoProxy.
	NoProxy []string
	// GPU installs the agent with GPU support (--enable-gpu).
	GPU bool
	// ECSVersion pins the ECS agent's version (--ecs-version); empty for the latest.
	ECSVersion string
	// Site names the site in the log and the user data's comment.
	Site string
}

var (
	activationID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// shellSafe is what may stand inside single quotes in the script.
	shellSafe  = regexp.MustCompile(`^[A-Za-z0-9._:/@%+=,~-]*$`)
	ecsVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
)

// Validate returns every problem of u, joined.
func (u Unattended) Validate() error { return u.validate(true) }

// ValidateSettings checks all but the activation (which a batch makes
// after the settings are known to be good).
func (u Unattended) ValidateSettings() error { return u.validate(false) }

func (u Unattended) validate(activation bool) error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("join: "+format, a...)) }
	stage := u.stage()
	if stage != StageFull && stage != StageImage && stage != StageBoot {
		add("stage is %q: must be %q, %q or %q", u.Stage, StageFull, StageImage, StageBoot)
	}
	if !shellSafe.MatchString(u.Region) || u.Region == "" {
		add("region is %q: give the site's region, such as eu-west-1", u.Region)
	}
	if stage != StageImage {
		if !shellSafe.MatchString(u.Cluster) || u.Cluster == "" {
			add("cluster is %q: give the site's cluster name (letters, digits, - and _)", u.Cluster)
		}
		if activation && !activationID.MatchString(u.ActivationID) {
			add("activation id is %q: must be an SSM activation id (a UUID)", u.ActivationID)
		}
		if activation && (!shellSafe.MatchString(u.ActivationCode) || u.ActivationCode == "") {
			add("the activation code is empty or holds characters SSM never issues")
		}
	} else if u.ActivationID != "" || u.ActivationCode != "" {
		add("an image carries no activation: its clones register at first boot (stage %q)", StageBoot)
	}
	if u.Proxy != "" {
		p, err := url.Parse(u.Proxy)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || !shellSafe.MatchString(u.Proxy) {
			add("proxy is %q: give it as http://host:port", u.Proxy)
		}
	}
	for _, n := range u.NoProxy {
		if n == "" || !shellSafe.MatchString(n) {
			add("no-proxy entry %q: give host names, addresses or CIDR blocks", n)
		}
	}
	if len(u.NoProxy) > 0 && u.Proxy == "" {
		add("no-proxy entries without a proxy: give the proxy too (--proxy http://host:port)")
	}
	if u.ECSVersion != "" && !ecsVersion.MatchString(u.ECSVersion) {
		add("ECS agent version is %q: give one like 1.89.1", u.ECSVersion)
	}
	if (u.GPU || u.ECSVersion != "") && stage == StageBoot {
		add("GPU support and the agent version are chosen when the image is made (stage %q), not at first boot", StageImage)
	}
	if !shellSafe.MatchString(u.Site) {
		add("site is %q: letters, digits and -", u.Site)
	}
	return errors.Join(errs...)
}

func (u Unattended) stage() string {
	if u.Stage == "" {
		return StageFull
	}
	return u.Stage
}

// unattended is the join script (POSIX sh). It logs to LogFile, names
// each step there, and on failure says which step failed and how to run
// it again; every step can be run again: what is done is checked, not
// redone (a registered machine is not registered twice), and what is
// missing is finished. The proxy settings come first, the registration
// after the agents are installed.
const unattended = `#!/bin/sh
# ECS Anywhere join of site @SITE@ (@STAGE@), written by fleet node userdata.
set -u
# Only root reads what the join writes: its log, the proxy settings.
umask 077
# ECS_JOIN_ROOT prefixes every path the script writes (a chroot, a test).
root=${ECS_JOIN_ROOT:-}
log=$root@LOG@
mkdir -p "$(dirname "$log")"
main() (
  set -eu
  fail() { echo "ecs-anywhere-join: $*" >&2; exit 1; }
  step() { echo "== step: $*"; }
  region='@REGION@'; cluster='@CLUSTER@'; stage='@STAGE@'
  url='@URL@'; fpr=@FPR@
  [ "$(id -u)" = 0 ] || fail "run it as root (cloud-init does; by hand: sudo sh $0)"
  echo "ecs-anywhere-join: site @SITE@, cluster $cluster, region $region, stage $stage, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  # The SSM Agent keeps its registration here (the install script reads it too).
  reg="$root/var/lib/amazon/ssm/Vault/Store/RegistrationKey"
  registered() { sed -n 's/.*"instanceID" *: *"\(mi-[0-9a-f]*\)".*/\1/p' "$reg" 2>/dev/null | head -n 1; }
  mi=$(registered)
  [ -z "$mi" ] || echo "already registered with SSM as $mi: finishing what is missing"
  step "data folder"
  install -d -o 1000 -g 1000 "$root/data"
  echo "/data is ready for the worker (uid 1000)"
@PROXY@
  if [ "$stage" != boot ]; then
    step "tools"
    for t in curl gpg; do command -v $t >/dev/null 2>&1 || fail "$t is not installed: install curl and gnupg (the image's package manager; the cloud-config's packages do)"; done
    step "install script signature"
@VERIFY@
    echo "install script signature verified ($fpr)"
@INSTALL@
  fi
@REGISTER@
)
main "$@" >>"$log" 2>&1
status=$?
if [ $status -eq 0 ]; then
  echo "ecs-anywhere-join: done (log: $log)"
  [ "$0" = "$root@SCRIPT@" ] && [ '@STAGE@' != image ] && rm -f "$0"
else
  at=$(sed -n 's/^== step: //p' "$log" | tail -n 1)
  echo "ecs-anywhere-join: FAILED at step \"$at\" with status $status; run it again once fixed (sudo sh $0): what is done stays done. The last lines of $log:" >&2
  tail -n 20 "$log" >&2
fi
exit $status
`

// proxySetup writes the proxy settings for the ECS agent, Docker and the
// SSM agent before anything is installed or registered, and exports them
// for the install script's downloads.
const proxySetup = `  proxy='@PROXYURL@'; noproxy='@NOPROXY@'
  install -d "$root/etc/ecs" "$root/etc/systemd/system/ecs.service.d" "$root/etc/systemd/system/docker.service.d" "$root/etc/systemd/system/amazon-ssm-agent.service.d"
  { grep -Ev '^(HTTP_PROXY|NO_PROXY)=' "$root/etc/ecs/ecs.config" 2>/dev/null || true; echo "HTTP_PROXY=$proxy"; echo "NO_PROXY=$noproxy"; } >"$root/etc/ecs/ecs.config.new"
  mv "$root/etc/ecs/ecs.config.new" "$root/etc/ecs/ecs.config"
  for unit in ecs docker amazon-ssm-agent; do
    printf '[Service]\nEnvironment="HTTP_PROXY=%s" "HTTPS_PROXY=%s" "NO_PROXY=%s" "http_proxy=%s" "https_proxy=%s" "no_proxy=%s"\n' \
      "$proxy" "$proxy" "$noproxy" "$proxy" "$proxy" "$noproxy" >"$root/etc/systemd/system/$unit.service.d/http-proxy.conf"
  done
  ! command -v systemctl >/dev/null 2>&1 || systemctl daemon-reload
  HTTP_PROXY=$proxy HTTPS_PROXY=$proxy NO_PROXY=$noproxy http_proxy=$proxy https_proxy=$proxy no_proxy=$noproxy
  export HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy
  echo "proxy $proxy set for the ECS agent, Docker and the SSM agent (direct: $noproxy)"`

// ssmAgentInstall installs the SSM Agent from its regional package, as
// the install script does (its install-ssm-agent), verified with the SSM
// Agent's keys as the install script fetches them; an agent already
// enabled is kept. POSIX sh, in the image stage, with $dir and fail.
const ssmAgentInstall = `    if systemctl is-enabled amazon-ssm-agent >/dev/null 2>&1; then
      echo "SSM Agent already installed"
    else
      case "$(uname -m)" in x86_64) arch=amd64;; aarch64) arch=arm64;; *) fail "unsupported architecture $(uname -m)";; esac
      if command -v apt-get >/dev/null 2>&1; then pkg=debian_$arch/amazon-ssm-agent.deb; else pkg=linux_$arch/amazon-ssm-agent.rpm; fi
      ssm="https://s3.$region.amazonaws.com/amazon-ssm-$region/latest/$pkg"
      c -o "$dir/ssm.pkg" "$ssm" && c -o "$dir/ssm.pkg.sig" "$ssm.sig" && c -o "$dir/ssm.gpg" '@SSMKEYURL@' || fail "cannot download the SSM Agent from $ssm"
      gpg --batch -q --import "$dir/ssm.gpg" || fail "cannot read the SSM Agent's keys from @SSMKEYURL@"
      gpg --batch -q --verify "$dir/ssm.pkg.sig" "$dir/ssm.pkg" || fail "the SSM Agent package's signature does not verify: it was not installed"
      if command -v apt-get >/dev/null 2>&1; then dpkg -i "$dir/ssm.pkg" || fail "dpkg could not install the SSM Agent"
      else
        pm=$(command -v dnf || command -v yum || true)
        [ -n "$pm" ] || fail "no apt-get, dnf or yum here: install the SSM Agent into the image yourself, then run this again"
        mv "$dir/ssm.pkg" "$dir/amazon-ssm-agent.rpm"; "$pm" install -y "$dir/amazon-ssm-agent.rpm" || fail "$pm could not install the SSM Agent"
      fi
      systemctl enable amazon-ssm-agent || fail "cannot enable amazon-ssm-agent"
      echo "SSM Agent installed from $ssm"
    fi`

// bootRegister registers a machine made from an image (StageBoot), unless
// it already is: a registration uses one of the activation's machines.
const bootRegister = `  step "SSM registration"
  command -v amazon-ssm-agent >/dev/null 2>&1 || fail "amazon-ssm-agent is not installed: make the image with fleet node userdata --stage image first"
  if [ -z "$mi" ]; then
    systemctl stop amazon-ssm-agent || fail "cannot stop amazon-ssm-agent before registering"
    amazon-ssm-agent -register -y -id '@ID@' -code '@CODE@' -region "$region" >/dev/null || fail "SSM registration failed: the activation may be used up or expired (make a new batch: fleet node userdata)"
    mi=$(registered)
    [ -n "$mi" ] || fail "amazon-ssm-agent -register left no registration in $reg"
    echo "registered with SSM as $mi"
  fi
`

// finish makes a registered machine a node, whatever ran before: the SSM
// Agent enabled and started (the install script's --no-start leaves it
// stopped, and the ECS agent gets its credentials through it), registered,
// the cluster set once in ecs.config, and ecs enabled and started without
// blocking (cloud-init's runcmd runs inside cloud-final).
const finish = `  step "SSM Agent"
  systemctl enable amazon-ssm-agent || fail "cannot enable amazon-ssm-agent"
  systemctl start amazon-ssm-agent || fail "cannot start amazon-ssm-agent (journalctl -u amazon-ssm-agent)"
  mi=$(registered)
  [ -n "$mi" ] || fail "the SSM Agent holds no registration ($reg): the activation may be used up or expired (make a new batch: fleet node userdata)"
  echo "SSM Agent running, registered as $mi"
  step "ECS agent"
  [ -x "$root/usr/libexec/amazon-ecs-init" ] || fail "the ECS agent (amazon-ecs-init) is not installed: run the full stage, or make the image again"
  install -d "$root/etc/ecs"
  cfg="$root/etc/ecs/ecs.config"; changed=
  { grep -v '^ECS_CLUSTER=' "$cfg" 2>/dev/null || true; echo "ECS_CLUSTER=$cluster"; } >"$cfg.new"
  if [ -f "$cfg" ] && [ "$(cat "$cfg.new")" = "$(cat "$cfg")" ]; then rm -f "$cfg.new"; else mv "$cfg.new" "$cfg"; changed=1; fi
  # What the install script writes after installing the agent, in case it
  # stopped in between (a rerun finds the agent installed and skips it).
  install -d "$root/var/lib/ecs"
  for kv in AWS_DEFAULT_REGION=$region ECS_EXTERNAL=true@GPUSETTING@; do
    grep -qx "$kv" "$root/var/lib/ecs/ecs.config" 2>/dev/null || { echo "$kv" >>"$root/var/lib/ecs/ecs.config"; changed=1; }
  done
  systemctl enable ecs || fail "cannot enable the ecs service"
  # A running agent reads ecs.config only when it starts.
  if [ -n "$changed" ] && systemctl is-active ecs >/dev/null 2>&1; then
    systemctl restart --no-block ecs || fail "cannot restart the ecs service (journalctl -u ecs)"
  else
    systemctl start --no-block ecs || fail "cannot start the ecs service (journalctl -u ecs)"
  fi
  echo "ECS agent starting: node $mi joins cluster $cluster"`

// Script is the join script for u; call Validate first.
func (u Unattended) Script() string {
	stage := u.stage()
	proxy := ""
	if u.Proxy != "" {
		proxy = strings.NewReplacer("@PROXYURL@", u.Proxy, "@NOPROXY@", strings.Join(append(append([]string{}, ProxyNoProxy...), u.NoProxy...), ",")).Replace(proxySetup)
	}
	flags := ""
	if u.GPU {
		flags += " --enable-gpu"
	}
	if u.ECSVersion != "" {
		flags += " --ecs-version " + u.ECSVersion
	}
	var install, register string
	switch stage {
	case StageImage:
		// No activation: the clones register at first boot. The install
		// script's --skip-registration installs no SSM Agent and fails
		// unless its service is enabled: the image installs it first.
		install = `    step "SSM Agent (installed, not registered)"
    [ -z "$mi" ] || fail "this machine is registered with SSM as $mi: an image must not be (every clone would be the same node); make the image from a machine that never joined"
` + ssmAgentInstall + `
    step "install script"
    bash "$dir/i.sh" --region "$region" --skip-registration --no-start` + flags + ` || fail "the install script failed (its output is above)"
    # A clone must not start the ECS agent before its first boot has set
    # the cluster: the install script enabled it with ECS_CLUSTER=default.
    systemctl disable ecs || fail "cannot disable the ecs service in the image"
    systemctl stop ecs || fail "cannot stop the ecs service"
    systemctl stop amazon-ssm-agent || fail "cannot stop amazon-ssm-agent"
    { grep -v '^ECS_CLUSTER=' "$root/etc/ecs/ecs.config" 2>/dev/null || true; } >"$root/etc/ecs/ecs.config.new"
    mv "$root/etc/ecs/ecs.config.new" "$root/etc/ecs/ecs.config"
    echo "agents installed, not registered, stopped, no cluster set: make the image; each machine made from it joins at first boot (fleet node userdata --stage boot)"`
	default:
		// --no-start: nothing is started from inside cloud-init's
		// runcmd but below, without blocking on units ordered after it.
		install = `    step "install script"
    bash "$dir/i.sh" --region "$region" --cluster "$cluster" --activation-id '@ID@' --activation-code '@CODE@' --no-start` + flags + ` || fail "the install script failed (its output is above)"
    echo "agents installed"`
	}
	if stage != StageImage {
		register = finish
		if stage == StageBoot {
			register = bootRegister + finish
		}
	}
	gpu := ""
	if u.GPU {
		gpu = " ECS_ENABLE_GPU_SUPPORT=true"
	}
	r := strings.NewReplacer(
		"@PROXY@", proxy, "@INSTALL@", install, "@REGISTER@", register, "@GPUSETTING@", gpu,
	)
	script := r.Replace(strings.Replace(unattended, "@VERIFY@", verify, 1))
	if u.Proxy != "" {
		head, rest, _ := strings.Cut(script, "\nset -u\n")
		script = head + "\n# " + strings.ReplaceAll(EndpointsComment(u.Region), "\n", "\n# ") + "\nset -u\n" + rest
	}
	return strings.NewReplacer(
		"@SITE@", u.Site, "@STAGE@", stage, "@LOG@", LogFile, "@SCRIPT@", ScriptPath,
		"@REGION@", u.Region, "@CLUSTER@", u.Cluster, "@ID@", u.ActivationID, "@CODE@", u.ActivationCode,
		"@URL@", InstallScriptURL, "@KEYURL@", KeyURL, "@KEYSERVER@", Keyserver, "@FPR@", KeyFingerprint, "@SSMKEYURL@", SSMKeyURL,
	).Replace(script)
}

// Packages are what the join script needs that a minimal image may lack:
// curl and gpg (the same package names with apt, dnf and yum).
var Packages = []string{"curl", "gnupg"}

// CloudConfig is u as cloud-init user data: the script written to
// ScriptPath (root only) and run once on first boot.
func (u Unattended) CloudConfig(comment string) string {
	var b strings.Builder
	b.WriteString("#cloud-config\n")
	if u.Proxy != "" {
		comment += "\n" + EndpointsComment(u.Region)
	}
	for _, line := range strings.Split(strings.TrimSpace(comment), "\n") {
		b.WriteString("# " + line + "\n")
	}
	// The script needs curl and gpg before anything else; cloud-init's
	// packages module installs them (and refreshes the package lists) before
	// runcmd, with the distribution's package manager.
	if u.Proxy != "" {
		// cloud-init's apt module: its packages come through the proxy too.
		b.WriteString("apt:\n  http_proxy: " + u.Proxy + "\n  https_proxy: " + u.Proxy + "\n")
	}
	b.WriteString("packages:\n")
	for _, p := range Packages {
		b.WriteString("  - " + p + "\n")
	}
	b.WriteString("write_files:\n  - path: " + ScriptPath + "\n    owner: root:root\n    permissions: '0700'\n    content: |\n")
	for _, line := range strings.Split(strings.TrimSuffix(u.Script(), "\n"), "\n") {
		if line == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString("      " + line + "\n")
	}
	b.WriteString("runcmd:\n  - [" + ScriptPath + "]\n")
	return b.String()
}
