// Package join writes the command that joins a node to a site. The command
// reads the site's current activation from its secret when it runs, so it
// never goes stale and the code is in no template or output; it verifies the
// ECS Anywhere install script's signature against the key AWS publishes
// before running it, and stops with a message saying what to do when a tool,
// the secret or the signature is missing. It has no dependencies, so the CDK
// app renders it with tokens and tests run it with stubs.
package join

import (
	"strings"

	activationcontract "github.com/ecs-anywhere-stretched/stretched/constructs/activation/contract"
	stackscontract "github.com/ecs-anywhere-stretched/stretched/stacks/contract"
)

// InstallScriptURL is the ECS Anywhere install script; its detached
// signature is at InstallScriptURL + ".asc".
const InstallScriptURL = "https://amazon-ecs-agent.s3.amazonaws.com/ecs-anywhere-install-latest.sh"

// KeyURL is where AWS publishes the ECS signing key in its agent repository
// (the install script imports the same file to check the agent packages).
// The key is trusted only for its fingerprint, checked after import.
const KeyURL = "https://raw.githubusercontent.com/aws/amazon-ecs-agent/master/scripts/amazon-ecs-agent.gpg"

// SSMKeyURL is where the install script fetches the SSM Agent's signing
// keys (its ssm-agent-signature-verify); the image stage verifies the SSM
// Agent package with the same keys. AWS rotates them, so no fingerprint is
// pinned: they are trusted as the install script trusts them, for the
// host's TLS certificate.
const SSMKeyURL = "https://raw.githubusercontent.com/aws/amazon-ecs-agent/master/scripts/amazon-ssm-agent.gpg"

// KeyFingerprint is the fingerprint of the ECS Anywhere signing key, as
// AWS's ECS Anywhere registration documentation gives it.
const KeyFingerprint = "F34C3DDAE72926B079BEAEC6BCE9D9A42D51784F"

// Keyserver is tried for the key when KeyURL cannot be read.
const Keyserver = "hkps://keyserver.ubuntu.com"

// Function is the shell function the command defines and calls: a user
// appends the install script's optional flags to the command, such as
// "--enable-gpu" or "--docker-install-source none".
const Function = "ecs_anywhere_join"

// script is POSIX sh; every statement ends with ';' so it can be one line.
// @REGION@, @CLUSTER@ and @SECRET@ are replaced by Command.
const script = `
ecs_anywhere_join() (
  set -eu;
  fail() { echo "ecs-anywhere-join: $*; the node was not changed" >&2; exit 1; };
  region='@REGION@'; cluster='@CLUSTER@'; secret='@SECRET@'; url='@URL@'; fpr=@FPR@;
  for a in "$@"; do case "$a" in
    --region*|--cluster*|--activation-id*|--activation-code*|--skip-registration)
      fail "$a is set by this command: append only the install script's optional flags, such as --enable-gpu";;
  esac; done;
  for t in curl gpg aws; do command -v $t >/dev/null 2>&1 || fail "$t is not installed: install curl, gnupg and the AWS CLI"; done;
  value=$(aws secretsmanager get-secret-value --region "$region" --secret-id "$secret" --query SecretString --output text) ||
    fail "cannot read secret $secret in $region: check the AWS credentials (aws sts get-caller-identity), that they have the site's join policy (output @POLICYKEY@) and the region";
  id=$(printf '%s' "$value" | sed -n 's/.*"@IDKEY@":"\([0-9a-fA-F-]\{36\}\)".*/\1/p');
  code=$(printf '%s' "$value" | sed -n 's/.*"@CODEKEY@":"\([^"\\]\{1,\}\)".*/\1/p');
  [ -n "$id" ] && [ -n "$code" ] || fail "secret $secret holds no activation: deploy the site's stack first";
@VERIFY@
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo;
  $sudo bash "$dir/i.sh" --region "$region" --cluster "$cluster" --activation-id "$id" --activation-code "$code" "$@";
);`

// verify downloads the install script and its signature into $dir and
// verifies it with the ECS Anywhere key (imported into a throw-away
// keyring), or fails saying why in gpg's own words. POSIX sh, every
// statement ending with ';'; it needs fail, $url and $fpr. The join command
// and the unattended join both run it.
const verify = `
  dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT;
  c() { curl --proto '=https' --tlsv1.2 -fsSL "$@"; };
  c -o "$dir/i.sh" "$url" && c -o "$dir/i.sh.asc" "$url.asc" || fail "cannot download $url and its signature";
  GNUPGHOME="$dir/g"; export GNUPGHOME; mkdir -m 700 "$GNUPGHOME";
  { c '@KEYURL@' | gpg --batch -q --import; } >"$dir/k.err" 2>&1 || gpg --batch -q --keyserver @KEYSERVER@ --recv-keys $fpr >>"$dir/k.err" 2>&1 ||
    fail "cannot fetch the ECS Anywhere signing key $fpr from @KEYURL@ or @KEYSERVER@ ($(tail -n 2 "$dir/k.err" | tr '\n' ' '))";
  s=$(gpg --batch --status-fd 1 --verify "$dir/i.sh.asc" "$dir/i.sh" 2>/dev/null || true);
  printf '%s' "$s" | grep -q '^\[GNUPG:\] GOODSIG ' && printf '%s' "$s" | grep -q "^\[GNUPG:\] VALIDSIG .*$fpr" ||
    fail "the install script's signature does not verify with the ECS Anywhere key $fpr: it was not run (gpg says: $(printf '%s\n' "$s" | awk '$1 == "[GNUPG:]" && $2 ~ /^(GOODSIG|VALIDSIG|BADSIG|ERRSIG|EXPSIG|EXPKEYSIG|REVKEYSIG|NO_PUBKEY|KEYEXPIRED|NODATA)$/ { printf "%s ", ($2 == "VALIDSIG" ? $2 " " $NF : $2) }'))";
`

// Command is the one-line join command for a site. Append the install
// script's optional flags to it; it refuses the four it sets itself.
func Command(region, cluster, secretArn string) string {
	var lines []string
	for _, l := range strings.Split(strings.Replace(script, "@VERIFY@", verify, 1), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	r := strings.NewReplacer(
		"@REGION@", region, "@CLUSTER@", cluster, "@SECRET@", secretArn,
		"@URL@", InstallScriptURL, "@KEYURL@", KeyURL, "@KEYSERVER@", Keyserver, "@FPR@", KeyFingerprint,
		"@IDKEY@", activationcontract.SecretActivationID, "@CODEKEY@", activationcontract.SecretActivationCode, "@POLICYKEY@", stackscontract.OutputJoinPolicy,
	)
	return r.Replace(strings.Join(lines, " ")) + " " + Function
}
