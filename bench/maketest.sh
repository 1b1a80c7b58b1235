#!/usr/bin/env bash
# Times `make test` as a user runs it (gofmt, vet, every test), RUNS times
# (default 3) after one warm-up run, and prints min/median/max.
#   COLD=1 bench/maketest.sh   one run as on a fresh machine: an empty Go
#                              build cache and an empty user cache folder
#                              (XDG_CACHE_HOME: the Lambda binary, jsii's
#                              package cache); the Go module cache and
#                              node_modules stay
# Needs the pinned tools: make tools.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
. bench/lib.sh
if [ -n "${COLD:-}" ]; then
  cache=$(mktemp -d)
  trap 'rm -rf "$out" "$cache"' EXIT
  echo "cold: GOCACHE=$cache/go XDG_CACHE_HOME=$cache/user"
  GOCACHE=$cache/go XDG_CACHE_HOME=$cache/user timed "$out/times" make test
  stats "make test (cold)" "$out/times"
  exit 0
fi
make test >/dev/null 2>&1 # warm-up: compiles what changed
for i in $(seq "$runs"); do
  timed "$out/times" make test
  printf 'run %d: %.1f s\n' "$i" "$(tail -1 "$out/times")"
done
stats "make test (warm)" "$out/times"
