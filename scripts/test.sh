#!/usr/bin/env bash
# Set up (see setup.sh), lint the package, the tests and the benchmark scripts with the rules in
# pyproject.toml, and run the whole test suite on every core (pytest-xdist, one worker per core; set
# INNBENCH_TEST_WORKERS=1 to run in one process). Extra arguments go to pytest, e.g. -k cinn or --durations=20.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export INNBENCH_CACHE="${INNBENCH_CACHE:-$PWD/.cache/innbench}"
.venv/bin/ruff check src tests benchmarks
WORKERS="${INNBENCH_TEST_WORKERS:-$(nproc)}"
if [ "$WORKERS" -gt 1 ]; then
    # --dist loadfile: each test file runs on one worker, so its module-scoped fixtures (trained models,
    # benchmark runs) are built once
    .venv/bin/python -m pytest -n "$WORKERS" --dist loadfile "$@"
else
    .venv/bin/python -m pytest "$@"
fi
