#!/usr/bin/env bash
# Measures cells at fleet size with the shipped defaults: `cdk synth` of
# three cells (two accounts, two regions) with PER_CELL sites each
# (default 100), deployed directly, then the same three cells with
# PIPE_PER_CELL sites each (default 200) in pipeline mode with rings (a
# canary site, the next 50, the rest; waves of 24; the shared account's
# IAM roles quota raised to 1,300). Each is timed (the
# synth includes the app's own quota check, which fails it when a quota
# is crossed); then the templates' sizes, the pipeline's stages and its
# largest stage's actions. Needs the pinned tools: make tools.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH" CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
per=${PER_CELL:-100}
pipe_per=${PIPE_PER_CELL:-200}
cells='[{"name":"eu","account":"111111111111","region":"eu-west-1"},{"name":"us","account":"111111111111","region":"us-east-1"},{"name":"de","account":"222222222222","region":"eu-central-1","approve":true}]'
sites() { python3 -c 'import json,sys; n=int(sys.argv[1]); print(json.dumps([{"name":"%s-%03d"%(c,i),"cell":c} for c in ("eu","us","de") for i in range(n)]))' "$1"; }
topics() { echo $(( ($1 + 100) / 100 )); }
cdk synth --quiet -o "$out/warm" >/dev/null 2>&1 || true # compile and build the Lambda once

report() {
  python3 - "$1" <<'PY'
import json, os, sys
d = sys.argv[1]
sizes = []
for root, _, files in os.walk(d):
    for f in files:
        if f.endswith(".template.json"):
            sizes.append((os.path.getsize(os.path.join(root, f)), f))
sizes.sort()
if not sizes:
    sys.exit(0)
print(f"  {len(sizes)} templates; largest {sizes[-1][1]} {sizes[-1][0]:,} bytes (CloudFormation: 1,000,000)")
for size, f in sizes:
    if f.endswith("-Pipeline.template.json"):
        t = json.load(open(os.path.join(d, f)))
        p = [r for r in t["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"][0]
        stages = p["Properties"]["Stages"]
        most = max(stages, key=lambda s: len(s["Actions"]))
        gated = sum(1 for s in stages if "OnSuccess" in s)
        print(f"  pipeline: {size:,} bytes, {len(stages)} stages (CodePipeline: 50), {gated} gated by their cells' alarms, "
              f"largest stage {most['Name']} with {len(most['Actions'])} actions (50)")
PY
}

ctx_sites=$(sites "$per")
t0=$(date +%s%N)
status=ok
cdk synth --quiet -o "$out/direct" -c "cells=$cells" -c "sites=$ctx_sites" -c "entryTopics=$(topics "$per")" >"$out/log" 2>&1 || status="failed: $(grep -m1 -E '^(quota|synth failed|panic|config)' "$out/log" || tail -1 "$out/log")"
t1=$(date +%s%N)
echo "== 3 cells x $per sites, direct: cdk synth $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s, $status"
report "$out/direct"
rm -rf "$out/direct"

ctx_sites=$(sites "$pipe_per")
pipeline='{"codeCommitRepository":"stretched","waveSize":24,"rings":[{"name":"canary","sites":1},{"name":"early","sites":50},{"name":"rest"}]}'
t0=$(date +%s%N)
status=ok
# Cells eu and us share account 111111111111: 400 sites' three roles and
# two regions' nine are 1,218 IAM roles there, past IAM's default 1,000;
# that account has raised its quota, and says so (iamRolesQuota).
cdk synth --quiet -o "$out/pipe" -c account=111111111111 -c region=eu-west-1 -c iamRolesQuota=1300 -c "cells=$cells" -c "sites=$ctx_sites" -c "entryTopics=$(topics "$pipe_per")" -c "pipeline=$pipeline" >"$out/log" 2>&1 || status="failed: $(grep -m1 -E '^(quota|synth failed|panic|config)' "$out/log" || tail -1 "$out/log")"
t1=$(date +%s%N)
echo "== 3 cells x $pipe_per sites, pipeline with rings: cdk synth $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s, $status"
report "$out/pipe"
