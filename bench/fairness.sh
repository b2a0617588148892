#!/usr/bin/env bash
# Fairness between brokerages on the shared simulation queue, in both shapes (needs PostgreSQL
# and Redis, as scripts/test.sh sets them up). BENCH_FLOOD / BENCH_LATENCY_MS scale it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p troupe --bin troupe -p troupe-bench --bin fairness
exec target/release/fairness
