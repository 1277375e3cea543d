#!/usr/bin/env bash
# Create .venv (if missing) and install innbench with its test extras, torch pinned by constraints.txt.
# The report's browser test needs Chromium: installed from Debian's packages when missing (as root),
# otherwise the command to run is printed. Chromium is optional: when apt fails (no network, the dpkg lock
# held by another install) a warning shows apt's output and the set-up still succeeds (exit 0); the browser
# tests then report that Chromium is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# Install Debian's chromium with apt-get; on failure warn with apt's output and return 0 (it is optional).
install_browser() {
    local log
    log=$(mktemp)
    echo "installing Chromium (Debian package) for the report's browser test"
    if apt-get install -y -qq chromium >"$log" 2>&1 \
        || { apt-get update -qq >>"$log" 2>&1 && apt-get install -y -qq chromium >>"$log" 2>&1; }; then
        rm -f "$log"
        return 0
    fi
    {
        echo "warning: could not install Chromium (optional: only the browser tests need it); apt-get said:"
        tail -n 20 "$log" | sed 's/^/    /'
        echo "warning: the Python set-up succeeded; install the browser later with: apt-get install chromium"
    } >&2
    rm -f "$log"
    return 0
}

if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[test]"
# the browsers the tests look for (tests/test_report.py, tests/test_explore.py)
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
    && ! command -v google-chrome >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        install_browser
    else
        echo "note: the report's browser test needs Chromium: sudo apt-get install chromium" >&2
    fi
fi
