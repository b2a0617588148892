#!/usr/bin/env bash
# A client book in from a CRM at brokerage scale, both shapes: 10,000 clients imported as HubSpot
# exports of 1,000 rows and imported again (rows/s against single POST /personas, eight at once,
# measured first in the same run); GET /personas/duplicates over the whole book against one page
# of the client list, with how many planted second records it found; a single create on the full
# book against the empty one. Needs PostgreSQL and Redis as the test script starts them.
# BENCH_CRM_CLIENTS / BENCH_CRM_FILE_ROWS scale it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p troupe -p troupe-bench
exec target/release/crm
