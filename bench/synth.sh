#!/usr/bin/env bash
# Measures `make synth` (cdk synth --quiet of the shipped cdk.json: `go run .`,
# both stacks, cdk-nag) beside the smallest CDK for Go app (bench/floor: one
# stack, one queue) built from the same modules and run by the same Node and
# CDK CLI the same way (go run), warm caches, run after run in turn:
#   floor        the floor as any CDK for Go app runs it: aws-cdk-lib's
#                built-in CloudFormation validation on (its default);
#   floor-noval  the floor with CDK_VALIDATION=false, as this app runs itself
#                (stacks.SkipBuiltInValidation): what is left is the app's own
#                cost;
#   app          make synth.
# Prints each run, min/median/max and the ratios of the medians. RUNS
# (default 5) sets the rounds. Needs the pinned tools: make tools.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH" CDK_DISABLE_CLI_TELEMETRY=true
unset CDK_VALIDATION
runs=${RUNS:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
floor=(cdk synth --quiet --app "go run ./bench/floor" -o "$out/floor.out")
app=(cdk synth --quiet -o "$out/app.out")
. bench/lib.sh
# Warm up: compile both apps and build the Lambda binary once.
"${floor[@]}" >/dev/null 2>&1
"${app[@]}" >/dev/null 2>&1
for i in $(seq "$runs"); do
  timed "$out/floor" "${floor[@]}"
  timed "$out/floor-noval" env CDK_VALIDATION=false "${floor[@]}"
  timed "$out/app" "${app[@]}"
  printf 'run %d: floor %.2f s, floor-noval %.2f s, app %.2f s\n' "$i" "$(tail -1 "$out/floor")" "$(tail -1 "$out/floor-noval")" "$(tail -1 "$out/app")"
done
for name in floor floor-noval app; do
  stats "$name" "$out/$name"
done
awk -v a="$(median "$out/app")" -v f="$(median "$out/floor")" -v g="$(median "$out/floor-noval")" \
  'BEGIN { printf "app / floor: %.2f; app / floor-noval: %.2f (medians)\n", a / f, a / g }'
