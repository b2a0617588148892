#!/usr/bin/env bash
# Persona reads at brokerage scale: GET one, a filtered list and a search through the API at 64 concurrent
# connections, 100,000 personas in PostgreSQL (distributed) and 10,000 in SQLite (embedded), with
# the list query's plan and its p99 as a multiple of the query's own time. Needs PostgreSQL and
# Redis as the test script starts them. BENCH_PERSONAS_PG / BENCH_PERSONAS_SQLITE / BENCH_SECONDS
# / BENCH_CONCURRENCY scale it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p troupe -p troupe-bench
exec target/release/personas
