#!/usr/bin/env bash
# Measures the worker against the plainest batched SDK loop on one local SQS
# peer (fauxqs on 127.0.0.1): 2000 messages each, three runs. Prints msgs/s of
# both and their ratio (worker/plain). Needs the pinned tools: make tools.
set -euo pipefail
cd "$(dirname "$0")/.."
go test ./worker -run '^$' -bench Throughput -benchtime 1x -count "${COUNT:-3}"
