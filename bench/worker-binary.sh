#!/usr/bin/env bash
# Measures what users run: the worker binary (go build ./worker) with the
# shipped defaults and its JSON logs written to a file, against the plainest
# sequential receive(10)+delete-batch loop of aws-sdk-go-v2, on one fauxqs
# peer, timed from process start to the last delete; min/median/max of three
# runs, at 0, 20 and 80 ms round trip (a proxy adds the delay to every call).
# 20,000 messages at 0 ms; 2,000 with a delay (the plain loop does 10
# messages per two round trips). Needs the pinned tools: make tools.
set -euo pipefail
cd "$(dirname "$0")/.."
for rtt in ${RTTS:-0 20 80}; do
  n=20000; [ "$rtt" = 0 ] || n=2000
  echo "== round trip ${rtt} ms, ${n} messages"
  BENCH_RTT_MS=$rtt BENCH_MESSAGES=${MESSAGES:-$n} BENCH_RUNS=${RUNS:-3} \
    go test ./worker -run '^$' -bench ShippedBinary -benchtime 1x -count 1 | grep -E 'run [0-9]|ShippedBinary'
done
