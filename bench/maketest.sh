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
timed() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >"$out/log" 2>&1 || { tail -50 "$out/log"; exit 1; }
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) / 1e9 }' | tee -a "$out/times"
}
if [ -n "${COLD:-}" ]; then
  cache=$(mktemp -d)
  trap 'rm -rf "$out" "$cache"' EXIT
  echo "cold: GOCACHE=$cache/go XDG_CACHE_HOME=$cache/user"
  GOCACHE=$cache/go XDG_CACHE_HOME=$cache/user timed make test
  exit 0
fi
make test >/dev/null 2>&1 # warm-up: compiles what changed
for i in $(seq "$runs"); do
  printf 'run %d: ' "$i"
  timed make test
done
sort -n "$out/times" | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "make test (warm): min %.1f s, median %.1f s, max %.1f s\n", v[1], m, v[NR]}'
