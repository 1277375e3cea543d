#!/usr/bin/env bash
# Set up (see setup.sh), lint the package with the rules in pyproject.toml, run the test suite;
# extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export INNBENCH_CACHE="${INNBENCH_CACHE:-$PWD/.cache/innbench}"
.venv/bin/ruff check src
.venv/bin/python -m pytest "$@"
