package contract

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ecs-anywhere-stretched/stretched/internal/join"
)

// Minimum agent versions; fleet node list flags nodes below them.
const (
	// MinSSMAgent reconnects quickly after a long outage; earlier agents
	// back off for up to hours (and the ECS agent's credentials come
	// through the SSM agent).
	MinSSMAgent = "3.3.3050.0"
	// MinECSAgent runs container restart policies, which keep a site's
	// worker up while the site cannot reach ECS.
	MinECSAgent = "1.86.0"
)

// SSMAgentProblem says what is wrong with an SSM Agent version ("" when
// nothing, or when the version is not known).
func SSMAgentProblem(version string) string {
	if version == "" || !Older(version, MinSSMAgent) {
		return ""
	}
	return fmt.Sprintf("SSM Agent %s is older than %s: it may take hours to reconnect after an outage (the site's AWS-UpdateSSMAgent association updates it)", version, MinSSMAgent)
}

// ECSAgentProblem says what is wrong with an ECS agent version ("" when
// nothing, or when the version is not known).
func ECSAgentProblem(version string) string {
	if version == "" || !Older(version, MinECSAgent) {
		return ""
	}
	return fmt.Sprintf("ECS agent %s is older than %s: no container restart policy (fleet node update-agents updates the ecs-init package and restarts ecs)", version, MinECSAgent)
}

// Older tells whether dotted version a is older than b ("3.2.0" < "3.3.3050.0").
func Older(a, b string) bool {
	pa, pb := strings.Split(strings.TrimPrefix(a, "v"), "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// UpdateScript updates a node's ECS agent the way ECS documents it for
// machines outside its AMIs (UpdateContainerAgent does not support external
// instances): the latest ecs-init package of the region's bucket, its
// signature verified with the ECS key, installed over the current one,
// then ecs restarted (running tasks keep running). Debian and RPM
// families, amd64 and arm64.
func UpdateScript(region string) string {
	return strings.NewReplacer("@REGION@", region, "@KEYURL@", join.KeyURL, "@FPR@", join.KeyFingerprint).Replace(`set -eu
arch=$(uname -m); case "$arch" in x86_64) deb=amd64; rpm=x86_64;; aarch64|arm64) deb=arm64; rpm=aarch64;; *) echo "unsupported architecture $arch" >&2; exit 1;; esac
if command -v dpkg >/dev/null 2>&1; then pkg=amazon-ecs-init-latest.$deb.deb; else pkg=amazon-ecs-init-latest.$rpm.rpm; fi
url=https://s3.@REGION@.amazonaws.com/amazon-ecs-agent-@REGION@/$pkg
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
curl --proto '=https' --tlsv1.2 -fsSL -o "$dir/$pkg" "$url"
curl --proto '=https' --tlsv1.2 -fsSL -o "$dir/$pkg.asc" "$url.asc"
export GNUPGHOME="$dir/g"; mkdir -m 700 "$GNUPGHOME"
curl --proto '=https' --tlsv1.2 -fsSL '@KEYURL@' | gpg --batch -q --import
gpg --batch --status-fd 1 --verify "$dir/$pkg.asc" "$dir/$pkg" 2>/dev/null | grep -q "VALIDSIG .*@FPR@" || { echo "the signature of $pkg does not verify with the ECS key @FPR@: not installed" >&2; exit 1; }
if command -v dpkg >/dev/null 2>&1; then dpkg -i "$dir/$pkg"; elif command -v dnf >/dev/null 2>&1; then dnf install -y "$dir/$pkg"; elif command -v zypper >/dev/null 2>&1; then zypper -n install --allow-unsigned-rpm "$dir/$pkg"; else yum localinstall -y "$dir/$pkg"; fi
systemctl restart ecs
echo "ecs-init updated from $url; ecs restarted"`)
}
