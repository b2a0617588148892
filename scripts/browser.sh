#!/usr/bin/env bash
# The web workspace in real headless Chromium (tests/browser/workspace.mjs), against the binary
# the Rust tests built, in one deployment shape: `scripts/browser.sh embedded` (SQLite, one
# process) or `scripts/browser.sh distributed` (PostgreSQL + Redis, `troupe api` and a
# `troupe worker`). The model is tools/mock-llm over HTTP, slowed down so the live page can be
# watched. Screenshots and the seller report's PDF go to target/browser-artifacts/<shape>/.
set -euo pipefail
cd "$(dirname "$0")/.."

SHAPE=${1:-embedded}
# `cargo test` builds the service but not the mock's binary; this is a no-op when both are built.
cargo build --quiet -p troupe -p mock-llm
BIN=${TROUPE_BIN:-target/debug/troupe}
MOCK_BIN=${MOCK_LLM_BIN:-target/debug/mock-llm}
ARTIFACTS="$PWD/target/browser-artifacts/$SHAPE"
SCRATCH=$(mktemp -d)
PIDS=()
DATABASE=""
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$DATABASE" ]; then psql -q "postgres://postgres@127.0.0.1:5432/test" -c "DROP DATABASE IF EXISTS $DATABASE" >/dev/null 2>&1 || true; fi
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
MOCK_PORT=$(free_port)

"$MOCK_BIN" --bind "127.0.0.1:$MOCK_PORT" --latency-ms 150-400 >"$SCRATCH/mock.log" 2>&1 &
PIDS+=($!)
export TROUPE_LLM_BASE_URL="http://127.0.0.1:$MOCK_PORT/v1" TROUPE_LLM_MODEL=gpt-4o-mini TROUPE_LOG=warn
export TROUPE_MATCHING_CRON="0 0 0 1 1 * 2099"

if [ "$SHAPE" = distributed ]; then
  DATABASE="troupe_browser_$$"
  psql -q "postgres://postgres@127.0.0.1:5432/test" -c "CREATE DATABASE $DATABASE" >/dev/null
  export TROUPE_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DATABASE"
  export TROUPE_REDIS_URL=redis://127.0.0.1:6379 TROUPE_QUEUE_PREFIX="browser$$"
  TROUPE_ENCRYPTION_KEY=$("$BIN" encryption generate-key)
  export TROUPE_ENCRYPTION_KEY
  "$BIN" migrate >/dev/null
else
  export TROUPE_DATABASE_URL="sqlite://$SCRATCH/troupe.db"
fi

ADMIN_KEY=$("$BIN" keys create --brokerage "Acme Realty" --role brokerage_admin --user boss | tail -n 1)
ALICE_KEY=$("$BIN" keys create --brokerage "Acme Realty" --role agent --team West --user alice | tail -n 1)
"$BIN" keys create --brokerage "Acme Realty" --role agent --team East --user eve >/dev/null

if [ "$SHAPE" = distributed ]; then
  "$BIN" api --bind "127.0.0.1:$PORT" >"$SCRATCH/api.log" 2>&1 &
  PIDS+=($!)
  "$BIN" worker >"$SCRATCH/worker.log" 2>&1 &
  PIDS+=($!)
else
  "$BIN" serve --bind "127.0.0.1:$PORT" >"$SCRATCH/serve.log" 2>&1 &
  PIDS+=($!)
fi
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

rm -rf "$ARTIFACTS"
if ! (cd tests/browser && BASE="http://127.0.0.1:$PORT" ADMIN_KEY="$ADMIN_KEY" ALICE_KEY="$ALICE_KEY" \
      ARTIFACTS="$ARTIFACTS" node workspace.mjs); then
  echo "browser.sh ($SHAPE): failed; the service's logs:" >&2
  tail -n 40 "$SCRATCH"/*.log >&2
  exit 1
fi
echo "browser.sh ($SHAPE): screenshots in $ARTIFACTS"
