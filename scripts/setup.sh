#!/usr/bin/env bash
# Create .venv (if missing) and install innbench with its test extras, torch pinned by constraints.txt.
# The report's browser test needs Chromium: installed from Debian's packages when missing (as root),
# otherwise the command to run is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[test]"
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Chromium (Debian package) for the report's browser test"
        apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
    else
        echo "note: the report's browser test needs Chromium: sudo apt-get install chromium" >&2
    fi
fi
