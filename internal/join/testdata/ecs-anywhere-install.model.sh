#!/bin/bash
# A model of the ECS Anywhere install script, for the join tests: what it
# does per flag, written from its source, not a copy of it.
#
# Source: https://github.com/aws/amazon-ecs-agent/blob/f72c56820a3230ab7cebc15fe9a0f25156f04d87/scripts/ecs-anywhere-install.sh
# (the file's last change, 2026-04-17, as served by
# https://amazon-ecs-agent.s3.amazonaws.com/ecs-anywhere-install-latest.sh;
# read at the repository's 8dfceca6cf380a83c3007349317566f2862f0673).
# Paths are under $ECS_JOIN_ROOT (the fake machine's /). Function names are
# the script's. Modelled for a Debian machine with apt (the test machine);
# the rpm branches are not.
set -e
R=${ECS_JOIN_ROOT:?}
fail() { echo ""; echo "Installation Failed"; exit 1; }

# Options: --region, --cluster, --activation-id, --activation-code,
# --ecs-version, --docker-install-source take a value (a value starting
# with -- fails: check-option-value); --skip-registration, --enable-gpu,
# --no-start are flags; anything else fails.
REGION= ACTIVATION_ID= ACTIVATION_CODE= ECS_CLUSTER= ECS_VERSION= DOCKER_SOURCE=
SKIP_REGISTRATION=false NO_START=false GPU_ENABLED=
while [ $# -gt 0 ]; do
  case "$1" in
  --region|--cluster|--activation-id|--activation-code|--ecs-version|--docker-install-source)
    [ "${2:0:2}" != "--" ] || { echo "Option $1 was passed an invalid value: $2"; fail; }
    case "$1" in
    --region) REGION=$2;; --cluster) ECS_CLUSTER=$2;; --activation-id) ACTIVATION_ID=$2;;
    --activation-code) ACTIVATION_CODE=$2;; --ecs-version) ECS_VERSION=$2;; --docker-install-source) DOCKER_SOURCE=$2;;
    esac
    shift 2;;
  --skip-registration) SKIP_REGISTRATION=true; shift;;
  --enable-gpu) GPU_ENABLED=true; shift;;
  --no-start) NO_START=true; shift;;
  *) echo "invalid option: [$1]"; fail;;
  esac
done

# Root, and systemd (the /run/systemd/system folder), or it fails.
[ "$(id -u)" -eq 0 ] || { echo "Please run as root."; fail; }
[ -d "$R/run/systemd/system" ] || { echo "The install script currently supports only systemd."; fail; }
SSM_SERVICE_NAME=amazon-ssm-agent
SSM_BIN_NAME=amazon-ssm-agent
[ -n "$REGION" ] || { echo "--region is required"; fail; }
# --skip-registration: the SSM Agent is neither installed nor registered,
# and its service must already be enabled (the message says "running").
if $SKIP_REGISTRATION; then
  echo "Skipping ssm registration."
  if ! systemctl is-enabled $SSM_SERVICE_NAME &>/dev/null; then
    echo "--skip-registration flag specified but the SSM agent service is not running."
    fail
  fi
elif [ -z "$ACTIVATION_ID" ] || [ -z "$ACTIVATION_CODE" ]; then
  echo "Both --activation-id and --activation-code are required unless --skip-registration is specified."
  fail
fi
ECS_CLUSTER=${ECS_CLUSTER:-default}
DOCKER_SOURCE=${DOCKER_SOURCE:-all}
ECS_VERSION=${ECS_VERSION:-latest}
case "$(uname -m)" in
x86_64) ARCH_ALT=amd64;; aarch64) ARCH_ALT=arm64;;
*) echo "Unsupported architecture"; fail;;
esac
S3_URL="https://s3.$REGION.amazonaws.com"
DEB_URL="$S3_URL/amazon-ecs-agent-$REGION/amazon-ecs-init-$ECS_VERSION.$ARCH_ALT.deb"
SSM_S3_BUCKET="amazon-ssm-$REGION"
. "$R/etc/os-release"

# apt: update, then curl and jq.
apt update -y
apt-get install -y curl jq

# get-ssm-managed-instance-id: the registration the agent keeps.
SSM_MANAGED_INSTANCE_ID=
REG="$R/var/lib/amazon/ssm/Vault/Store/RegistrationKey"
[ ! -f "$REG" ] || SSM_MANAGED_INSTANCE_ID=$(jq -r ".instanceID" "$REG")

curl-helper() { curl -o "$1" "$2" -fSs || { echo "Failed to download $2"; fail; }; }

# install-ssm-agent: skipped when the service is enabled; else the
# regional package and its .sig, verified with the SSM key the script
# fetches from GitHub, installed with dpkg. Then register-ssm-agent:
# unless already registered, stop the agent, register, enable, and start
# it only without --no-start.
install-ssm-agent() {
  if systemctl is-enabled $SSM_SERVICE_NAME &>/dev/null; then
    echo "SSM agent is already installed."
  else
    local dir; dir=$(mktemp -d)
    curl-helper "$dir/ssm-agent.deb" "$S3_URL/$SSM_S3_BUCKET/latest/debian_$ARCH_ALT/amazon-ssm-agent.deb"
    curl-helper "$dir/ssm-agent.deb.sig" "$S3_URL/$SSM_S3_BUCKET/latest/debian_$ARCH_ALT/amazon-ssm-agent.deb.sig"
    curl-helper "$dir/amazon-ssm-agent.gpg" "https://raw.githubusercontent.com/aws/amazon-ecs-agent/master/scripts/amazon-ssm-agent.gpg"
    gpg --import "$dir/amazon-ssm-agent.gpg"
    gpg --verify "$dir/ssm-agent.deb.sig" "$dir/ssm-agent.deb" || { echo "amazon-ssm-agent GPG verification failed."; fail; }
    dpkg -i "$dir/ssm-agent.deb"
    rm -rf "$dir"
  fi
  if [ -z "$SSM_MANAGED_INSTANCE_ID" ]; then
    systemctl stop "$SSM_SERVICE_NAME" &>/dev/null
    $SSM_BIN_NAME -register -code "$ACTIVATION_CODE" -id "$ACTIVATION_ID" -region "$REGION"
    systemctl enable "$SSM_SERVICE_NAME"
    if ! $NO_START; then
      systemctl start "$SSM_SERVICE_NAME"
    else
      echo "Skip starting ssm agent because --no-start is specified."
    fi
  else
    echo "SSM agent is already registered. Managed instance ID: $SSM_MANAGED_INSTANCE_ID"
  fi
}

# install-docker: skipped when docker is on the PATH; "all" tries Docker's
# repository (Debian: apt-key from download.docker.com, add-apt-repository),
# "distro" the distribution's docker.io, "none" nothing. Debian's docker
# package enables and starts docker whatever --no-start says.
install-docker() {
  if [ -x "$(command -v docker)" ]; then echo "docker is already installed, skipping installation"; return; fi
  case "$1" in
  all|docker)
    apt install -y apt-transport-https ca-certificates gnupg-agent software-properties-common
    curl -fsSL https://download.docker.com/linux/debian/gpg | sudo apt-key add -
    add-apt-repository "deb [arch=$ARCH_ALT] https://download.docker.com/linux/debian $(lsb_release -cs) stable"
    apt update -y
    apt install -y docker-ce docker-ce-cli containerd.io;;
  distro) apt install -y docker.io;;
  none) echo "Docker install source is none, not installing docker";;
  esac
}

# exec-setup: the CA bundle copied, and the SSM binaries for ECS Exec
# downloaded from the regional SSM bucket.
exec-setup() {
  curl "$S3_URL/$SSM_S3_BUCKET/3.3.4108.0/linux_$ARCH_ALT/amazon-ssm-agent-binaries.tar.gz" -o "$(mktemp)"
  mkdir -p "$R/var/lib/ecs/deps/execute-command/bin/3.3.4108.0" "$R/var/lib/ecs/deps/execute-command/certs"
}

# install-ecs-agent: skipped (nothing written, nothing enabled) when
# /usr/libexec/amazon-ecs-init exists; else the regional package and its
# .asc verified with the ECS key, installed, then ECS_CLUSTER appended to
# /etc/ecs/ecs.config, the region and ECS_EXTERNAL to /var/lib/ecs/ecs.config,
# GPU support only where nvidia-smi runs, ecs enabled, and started only
# without --no-start.
install-ecs-agent() {
  if [ -x "$R/usr/libexec/amazon-ecs-init" ]; then echo "ecs agent is already installed"; return; fi
  local dir; dir=$(mktemp -d)
  curl-helper "$dir/pkg.deb" "$DEB_URL"
  curl-helper "$dir/pkg.deb.asc" "$DEB_URL.asc"
  curl-helper "$dir/amazon-ecs-agent.gpg" "https://raw.githubusercontent.com/aws/amazon-ecs-agent/master/scripts/amazon-ecs-agent.gpg"
  gpg --import "$dir/amazon-ecs-agent.gpg"
  gpg --verify "$dir/pkg.deb.asc" "$dir/pkg.deb" || { echo "amazon-ecs-init GPG verification failed."; fail; }
  apt install -y "$dir/pkg.deb"
  rm -rf "$dir"
  echo "ECS_CLUSTER=$ECS_CLUSTER" >>"$R/etc/ecs/ecs.config"
  echo "AWS_DEFAULT_REGION=$REGION" >>"$R/var/lib/ecs/ecs.config"
  echo "ECS_EXTERNAL=true" >>"$R/var/lib/ecs/ecs.config"
  if [ -n "$GPU_ENABLED" ]; then
    nvidia-smi &>/dev/null || { echo "Failed to detect GPU with nvidia-smi command."; fail; }
    echo "ECS_ENABLE_GPU_SUPPORT=true" >>"$R/var/lib/ecs/ecs.config"
  fi
  systemctl enable ecs
  if ! $NO_START; then systemctl start ecs; else echo "Skip starting ecs agent because --no-start is specified."; fi
}

# wait-agent-start: without --no-start, polls the agent's introspection
# endpoint (localhost:51678) ten times, ten seconds apart, then fails.
wait-agent-start() {
  if $NO_START; then echo "--no-start is specified. Not verifying ecs agent startup."; return; fi
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    systemctl is-active ecs >/dev/null && return
  done
  echo "Timed out waiting for ECS Agent to start."; fail
}

if ! $SKIP_REGISTRATION; then install-ssm-agent; fi
install-docker "$DOCKER_SOURCE"
exec-setup
install-ecs-agent
wait-agent-start
