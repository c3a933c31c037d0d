#!/usr/bin/env bash
# `make up`: the whole system, detached, with demo data (`koshiqon stack up`, in
# libs/devtools/src/koshiqon/devtools/stack/): infra, topics, migrations, reference figures,
# api and worker of each service under a supervisor, the demo data set; it returns once all
# is ready. SEED, DEMO_SIZE and DEMO=no choose the demo data; `make down` stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
export KOSHIQON_ENV="${KOSHIQON_ENV:-dev}"  # unset means prod, which refuses the development key
args=()
[[ -n "${SEED:-}" ]] && args+=(--seed "$SEED")
[[ -n "${DEMO_SIZE:-}" ]] && args+=(--demo-size "$DEMO_SIZE")
[[ "${DEMO:-yes}" == "no" ]] && args+=(--no-demo)
exec ${UV:-uv} run --frozen koshiqon stack up "${args[@]}"
