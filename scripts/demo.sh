#!/usr/bin/env bash
# Set up (see setup.sh) and run the end-to-end demo; extra arguments go to `innbench demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/innbench demo "$@"
