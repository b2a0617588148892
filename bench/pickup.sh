#!/usr/bin/env bash
# Pick-up latency in both shapes (needs PostgreSQL and Redis, as scripts/test.sh sets them up).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p troupe-bench
exec target/release/pickup
