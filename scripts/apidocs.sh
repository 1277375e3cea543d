#!/usr/bin/env bash
# Build the HTML API reference from the docstrings into docs/api/ (open docs/api/index.html) with pdoc.
#
#   bash scripts/apidocs.sh                  # every public module of innbench
#   bash scripts/apidocs.sh --no-show-source # extra arguments go to pdoc
#
# pdoc comes with the `docs` extra and is installed into .venv when missing (torch pinned by
# constraints.txt). Docstrings are Google style (Args:, Returns:, Example:), rendered with
# `--docformat google`; formulas (`.. math::`) with MathJax, loaded from a CDN when a page is viewed
# (offline they show as LaTeX source). The build fails on any warning pdoc gives (a docstring it cannot
# render) and then leaves an earlier docs/api/ in place. The examples in the docstrings are tested by
# tests/test_doctests.py; docs/api/ is a build output (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    bash scripts/setup.sh
fi
if ! .venv/bin/python -c "import pdoc" 2>/dev/null; then
    .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[docs]"
fi

# every public module: the package and its submodules, none whose name starts with an underscore
modules=$(.venv/bin/python -c '
import pkgutil, innbench
names = [m.name for m in pkgutil.walk_packages(innbench.__path__, "innbench.")
         if not any(part.startswith("_") for part in m.name.split("."))]
print(" ".join(["innbench"] + names))')
version=$(.venv/bin/python -c 'import innbench; print(innbench.__version__)')

build=$(mktemp -d)
chmod 755 "$build"
log=$(mktemp)
trap 'rm -rf "$build" "$log"' EXIT
# shellcheck disable=SC2086  # $modules is a list of module names
# pdoc sees the package's lazily imported names only once they are used: scripts/pdoc_main.py uses them first
if ! .venv/bin/python -W default scripts/pdoc_main.py --docformat google --math --footer-text "innbench $version" \
        -o "$build" "$@" $modules 2>"$log"; then
    cat "$log" >&2
    echo "apidocs: pdoc failed; docs/api/ is unchanged" >&2
    exit 1
fi
if grep -qi "warn" "$log"; then
    cat "$log" >&2
    echo "apidocs: pdoc reported warnings (above); docs/api/ is unchanged" >&2
    exit 1
fi
rm -rf docs/api
mv "$build" docs/api
echo "apidocs: wrote docs/api/ ($(find docs/api -name '*.html' | wc -l) pages): open docs/api/index.html"
