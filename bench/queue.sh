#!/usr/bin/env bash
# Troupe's farm beside a Celery worker on the same Redis and PostgreSQL (needs both, as
# scripts/test.sh sets them up). Installs the Celery reference into target/bench-venv with pip.
# BENCH_JOBS (default 3000) and BENCH_RATE (default 100 jobs/s) size the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/bench-venv
if [[ ! -x $venv/bin/celery ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/celery-requirements.txt
fi
cargo build --release -q -p troupe -p troupe-bench
BENCH_PYTHON="$PWD/$venv/bin/python" exec target/release/queue
