#!/usr/bin/env bash
# Set up a virtualenv (if needed) and play the offline demo (no token, no network).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e .
exec .venv/bin/kimbot demo "$@"
