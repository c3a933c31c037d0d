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

# The dashboard's browser tests drive Debian's chromium (tests/monitoring/browser); as root,
# install it when it is missing. Quiet, and a failure is no failure: those tests then say
# they are skipped and why.
if [ "$(id -u)" -eq 0 ] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "== chromium (for the browser tests)"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
      >/tmp/koshiqon-chromium-install.log 2>&1; then
    echo "   not installed (see /tmp/koshiqon-chromium-install.log): the browser tests will be skipped"
  fi
fi

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
