#!/usr/bin/env bash
# Matching against our own 200 judged client–listing pairs (bench/data/matching-quality):
# precision@10, recall@10, near-miss recall and condition violations, offline scorer with the
# hashing vectorizer and with all-MiniLM-L6-v2, and every pair where we disagree.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-embedding-model.sh models/all-MiniLM-L6-v2 >/dev/null
cargo build --release -q -p troupe --bin troupe -p troupe-bench --bin matching-quality
exec target/release/matching-quality
