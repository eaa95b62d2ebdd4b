#!/usr/bin/env bash
# Installs the third-party Seq clients that cli/tests/serve_clients.rs drives against
# `mtlog-audit serve`: npm's seq-logging and Datalust's winston transport (Node services) and
# PyPI's seqlog (Python services), at pinned versions, into DIR (default target/serve-clients).
# Idempotent; needs node, npm and python3 with venv.
set -euo pipefail
dir=${1:-target/serve-clients}
mkdir -p "$dir"
if [ ! -f "$dir/node_modules/@datalust/winston-seq/package.json" ]; then
  npm install --prefix "$dir" --no-audit --no-fund --silent \
    seq-logging@3.2.0 winston@3.19.0 @datalust/winston-seq@3.0.1 >/dev/null
fi
if ! "$dir/venv/bin/python" -c 'import seqlog' 2>/dev/null; then
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install --quiet --disable-pip-version-check seqlog==0.4.3
fi
