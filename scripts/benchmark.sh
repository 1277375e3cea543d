#!/usr/bin/env bash
# Set up (see setup.sh), run the quick benchmark grid and write the report (tables, figures, HTML).
# Extra arguments go to `innbench bench`, e.g. --preset default, --config my_grid.toml, --executor ray.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/innbench bench --db results/innbench.db "$@"
.venv/bin/innbench report --db results/innbench.db --out results/report
echo "open results/report/report.html"
