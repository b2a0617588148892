#!/usr/bin/env bash
# The LLM gateway at the provider's limit, embedded and distributed (1 and 4 workers), and with
# the provider's real limits 30% below the configured ones. Needs PostgreSQL and Redis, as
# scripts/test.sh sets them up. BENCH_SECONDS sets each scenario's length (default 120).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p troupe -p troupe-bench
exec target/release/gateway
