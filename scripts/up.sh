#!/usr/bin/env bash
# `make up`: every service that exists, api and worker in one process each, against the local
# infrastructure; Ctrl-C (or SIGTERM) stops them all.
set -uo pipefail
cd "$(dirname "$0")/.."
RUN="${UV:-uv} run --frozen"
export KOSHIQON_ENV="${KOSHIQON_ENV:-dev}"  # unset means prod, which refuses the development key

$RUN koshiqon infra up || exit 1
pids=()
stop() { kill -TERM "${pids[@]}" 2>/dev/null; wait; }
trap stop EXIT INT TERM
for service in registration quota proposals monitoring; do
  $RUN "koshiqon-$service" migrate || exit 1
done
$RUN koshiqon-monitoring load-reference || exit 1  # the public figures of data/, idempotent
for service in registration quota proposals monitoring; do
  $RUN "koshiqon-$service" all &
  pids+=($!)
done
echo "registration: http://127.0.0.1:8001/docs   quota:      http://127.0.0.1:8002/docs"
echo "proposals:    http://127.0.0.1:8003/docs   monitoring: http://127.0.0.1:8004/docs"
wait -n
