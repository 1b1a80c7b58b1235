#!/usr/bin/env bash
# Runs the time-sensitive suites over and over and prints the failures per
# test: the worker, the features' handlers and every package under internal/
# and cmd/ (SQS peers, moto_server, races, child processes). The CDK suite (test/) synthesizes
# and has no timing in it; it is left out.
#
#   bench/flakes.sh [RUNS]        RUNS full runs of each suite (default 20)
#   LOAD=2 bench/flakes.sh        with LOAD busy-loop processes beside it
#                                 (default 2: a loaded 2-core CI machine)
#
# Each suite is compiled once and its binary run RUNS times from its own
# folder, as `go test` does. Logs are kept in the printed folder.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH" CI=true AWS_EC2_METADATA_DISABLED=true
runs=${1:-20}
load=${LOAD:-2}
out=$(mktemp -d /tmp/flakes.XXXXXX)
# SUITES narrows the packages, e.g. SUITES=./worker bench/flakes.sh
mapfile -t pkgs < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' ${SUITES:-./worker ./internal/... ./cmd/... $(go list ./constructs/... | grep '/handler$')})
for dir in "${pkgs[@]}"; do
  name=$(realpath --relative-to=. "$dir" | tr / -)
  go test -c -o "$out/$name.test" "$dir"
done
busy=()
cleanup() { for p in "${busy[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for _ in $(seq "$load"); do
  bash -c 'while :; do :; done' &
  busy+=($!)
done
echo "logs in $out; $runs runs of ${#pkgs[@]} suites with $load busy loops beside them"
start=$SECONDS
for run in $(seq "$runs"); do
  for dir in "${pkgs[@]}"; do
    name=$(realpath --relative-to=. "$dir" | tr / -)
    log="$out/$name.$run.log"
    if (cd "$dir" && "$out/$name.test" -test.count=1 -test.parallel=4 -test.v -test.timeout=20m) >"$log" 2>&1; then
      :
    elif ! grep -q -- '--- FAIL' "$log"; then
      # A panic or a timeout names no test: count it for the suite.
      echo "--- FAIL: $name (suite exited without a test failure: see $log)" >>"$log"
    fi
  done
  failed=$(cat "$out"/*."$run".log | grep -c -- '^\s*--- FAIL' || true)
  echo "run $run: $failed failed tests ($((SECONDS - start)) s so far)"
done
echo "failures per test over $runs runs (load $load):"
cat "$out"/*.log | grep -- '^\s*--- FAIL' | sed -E 's/^\s*--- FAIL: ([^ ]+).*/\1/' | sort | uniq -c | sort -rn || true
total=$(cat "$out"/*.log | grep -c -- '^\s*--- FAIL' || true)
echo "total: $total"
test "$total" -eq 0
