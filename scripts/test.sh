#!/usr/bin/env bash
# `make test`: start what is not running, lint, run the whole suite, and stop what this run
# started, also when something fails. Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
RUN="${UV:-uv} run --frozen"
export KOSHIQON_ENV=test  # unset means prod, which refuses the development key and password

before=$($RUN koshiqon infra status 2>/dev/null | grep -c 'running' || true)
cleanup() {
  if [ "$before" -lt 2 ]; then
    echo "== stopping the infrastructure this run started"
    $RUN koshiqon infra down || true
  fi
}
trap cleanup EXIT INT TERM

echo "== infrastructure"
$RUN koshiqon infra up || exit 1

status=0
echo "== lint"
make --no-print-directory lint UV="${UV:-uv}" || status=1

echo "== tests"
$RUN pytest tests -q -p no:cacheprovider
rc=$?
[ $rc -ne 0 ] && status=$rc

exit $status
