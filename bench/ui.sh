#!/usr/bin/env bash
# The web workspace's pages at brokerage scale (10,000 clients, 2,000 listings, 1,000 finished
# focus groups; embedded, offline model): p50/p95 of 200 requests per page on one connection and
# each page's bytes, against /healthz and the API's JSON results measured in the same run.
# BENCH_UI_CLIENTS / BENCH_UI_LISTINGS / BENCH_UI_SIMULATIONS / BENCH_UI_REQUESTS scale it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p troupe -p troupe-bench
exec target/release/ui
