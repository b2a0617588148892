#!/usr/bin/env bash
# The persona engine's wall time against its critical path (rounds × the mock's latency), for
# every simulation kind, embedded and distributed with two workers. Needs PostgreSQL and Redis,
# as scripts/test.sh sets them up. BENCH_LATENCY_MS sets the mock's latency (default 400).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p troupe -p troupe-bench
exec target/release/engine
