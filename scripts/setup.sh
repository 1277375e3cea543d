#!/usr/bin/env bash
# Create .venv (if missing) and install innbench with its test extras, torch pinned by constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[test]"
