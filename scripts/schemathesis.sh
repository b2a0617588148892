#!/usr/bin/env bash
# Property-based API tests: schemathesis generates requests for every operation in
# /openapi.json and fails on any 5xx or any response that breaks the published schema.
# Runs the binary built by the Rust tests (embedded shape, offline model) on a scratch database
# with a few clients, a listing and a finished focus group, so lists and results have content.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${TROUPE_BIN:-target/debug/troupe}
SCRATCH=$(mktemp -d)
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$SCRATCH"' EXIT
export TROUPE_DATABASE_URL="sqlite://$SCRATCH/troupe.db" TROUPE_LOG=error
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
API="http://127.0.0.1:$PORT/api/v1"

KEY=$("$BIN" keys create --brokerage "Schemathesis Realty" --role brokerage_admin --user admin | tail -n 1)
"$BIN" serve --bind "127.0.0.1:$PORT" >"$SCRATCH/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

post() { curl -sf -H "Authorization: Bearer $KEY" -H 'content-type: application/json' "$API$1" -d "$2"; }
for name in "Ada Vale" "Ben Marsh" "Cy Ortega"; do
  post /personas "{\"name\": \"$name\", \"segment\": \"finance\", \"visibility\": \"brokerage\",
    \"preferences\": {\"features\": [\"wine cellar\"], \"budget\": {\"max\": 30000000}}}" >/dev/null
done
PROPERTY=$(post /properties '{"title": "Cellar House", "price": 24000000, "features": ["wine cellar"],
  "photos": ["https://example.com/1.jpg"], "location": {"city": "Aspen"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
SIMULATION=$(post /simulations/focus-group "{\"property_id\": \"$PROPERTY\", \"persona_segments\": [\"finance\"],
  \"questions\": [\"First impression?\", {\"text\": \"Which matters most?\", \"type\": \"single_choice\",
  \"options\": [\"The cellar\", \"The views\"]}], \"simulation_params\": {\"num_agents\": 3}}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 1 200); do
  curl -sf -H "Authorization: Bearer $KEY" "$API/simulations/$SIMULATION/status" | grep -q '"completed"' && break
  sleep 0.1
done

schemathesis run "http://127.0.0.1:$PORT/openapi.json" \
  --header "Authorization: Bearer $KEY" \
  --checks not_a_server_error,response_schema_conformance \
  --phases fuzzing --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" --seed 7 --workers 2 \
  --request-timeout 10 --suppress-health-check all
