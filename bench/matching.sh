#!/usr/bin/env bash
# Matching at brokerage scale (20,000 clients × 2,000 listings, embedded, offline scorer): time
# for one listing and one client, the nightly run full and incremental, and recall@10 / nDCG@10
# against planted clients. BENCH_CLIENTS / BENCH_LISTINGS / BENCH_QUALITY_SAMPLE scale it down.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p troupe -p troupe-bench
exec target/release/matching
