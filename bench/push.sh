#!/usr/bin/env bash
# Push delivery under load: 1,000 simulations, 200 WebSocket clients, 5 webhook endpoints (one
# failing half the time). Needs PostgreSQL and Redis, as scripts/test.sh sets them up.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p troupe -p troupe-bench
exec target/release/push
