#!/usr/bin/env bash
# A profiling aid, not the users' figure: the worker in-process with tuned
# settings and logs discarded against the plainest batched SDK loop on fauxqs,
# 2000 messages each, three runs (add -cpuprofile cpu.out to profile). The
# shipped binary with its defaults is measured by bench/worker-binary.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
go test ./worker -run '^$' -bench Throughput -benchtime 1x -count "${COUNT:-3}"
