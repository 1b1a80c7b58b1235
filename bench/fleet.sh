#!/usr/bin/env bash
# Measures the app at fleet size: for each site count in SITES (default
# "1 100 500"), `cdk synth` of the shipped cdk.json with that many sites
# (routed work, every other setting its default), timed, then what
# bench/fleetreport reads in the templates: each template's resources,
# outputs and bytes, the quotas crossed, and the fixed monthly cost. The
# cost per site is (cost at N − cost at 1) / (N − 1): what one more site
# adds, wherever it adds it. A synth that fails a quota still wrote its
# templates; the report measures them. Needs the pinned tools: make tools.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH" CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
sites_list=${SITES:-1 100 500}
go build -o "$out/report" ./bench/fleetreport
cdk synth --quiet -o "$out/warm" >/dev/null 2>&1 || true # compile and build the Lambda once
base=""
for n in $sites_list; do
  sites=$(awk -v n="$n" 'BEGIN { printf "["; for (i = 1; i <= n; i++) printf "%s{\"name\":\"site%d\"}", (i > 1 ? "," : ""), i; printf "]" }')
  dir="$out/sites-$n"
  t0=$(date +%s%N)
  status=ok
  topics=$(( (n + 100) / 100 )) # about one entry topic per 100 locations (entryTopics)
  # Three IAM roles a site: past IAM's default 1,000 roles per account the
  # account must have raised the quota, and says so (iamRolesQuota).
  roles=$(( 3 * n + 20 )); quota=1000
  if [ "$roles" -gt 1000 ]; then quota=$(( (roles + 99) / 100 * 100 )); echo "== $n sites: about $roles IAM roles, synthesized with -c iamRolesQuota=$quota (raised in Service Quotas)"; fi
  cdk synth --quiet -o "$dir" -c "sites=$sites" -c "entryTopics=$topics" -c "iamRolesQuota=$quota" >"$out/log" 2>&1 || status="failed: $(grep -m1 -E '^(quota|synth failed|panic)' "$out/log" || tail -1 "$out/log")"
  t1=$(date +%s%N)
  echo "== $n sites: cdk synth $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s, $status"
  "$out/report" -iam-roles-quota "$quota" "$dir"
  total=$("$out/report" -json -iam-roles-quota "$quota" "$dir" | python3 -c 'import json,sys; print(json.load(sys.stdin)["monthlyUsd"])')
  if [ -z "$base" ]; then base=$total; base_n=$n; else
    awk -v t="$total" -v b="$base" -v n="$n" -v m="$base_n" 'BEGIN { printf "one more site adds USD %.2f a month (fixed, before any node)\n", (t - b) / (n - m) }'
  fi
  rm -rf "$dir"
done
