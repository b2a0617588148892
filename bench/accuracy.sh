#!/usr/bin/env bash
# The accuracy report over 10,000 predictions and 50,000 outcomes, embedded and distributed,
# against one page of the outcome list measured in the same run; also the time to record a
# batch of 1,000 outcomes. Needs PostgreSQL and Redis as the test script starts them.
# BENCH_CLIENTS / BENCH_LISTINGS / BENCH_OUTCOMES_PER_PREDICTION scale it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p troupe -p troupe-bench
exec target/release/accuracy
