#!/usr/bin/env bash
# Set up a virtualenv (if needed) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[dev]"
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
