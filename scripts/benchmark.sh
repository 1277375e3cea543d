#!/usr/bin/env bash
# Set up (see setup.sh), run the quick benchmark grid and write the report (tables, figures, HTML).
# One cell per core (at most 8) at a time (--jobs). Extra arguments go to `innbench bench`, e.g. --preset default, --config my_grid.toml, --executor ray.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
JOBS=$(nproc); [ "$JOBS" -gt 8 ] && JOBS=8
.venv/bin/innbench bench --db results/innbench.db --jobs "$JOBS" "$@"
.venv/bin/innbench report --db results/innbench.db --out results/report
echo "open results/report/report.html"
