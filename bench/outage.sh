#!/usr/bin/env bash
# Measures what the built worker does when its queue is unreachable for
# OUTAGE (default 10m) while work keeps arriving, then comes back: failed
# receives during the outage, how long until it reaches the queue again,
# how long until the work sent meanwhile is done; it fails if the worker
# exits, loses or repeats a file, or takes more than a minute to resume.
# The worker runs with the shipped defaults against a real SQS peer
# (fauxqs) through a link the test cuts (worker/outage_test.go).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
WORKER_OUTAGE=${OUTAGE:-10m} go test ./worker -run TestBuiltWorkerRidesOutAnOutage -v -count=1 -timeout 60m 2>&1 | grep -E '^(=== RUN|--- |\s+outage_test.go|ok|FAIL|PASS)'
