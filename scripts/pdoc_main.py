"""Run pdoc on innbench as ``python -m pdoc`` would (scripts/apidocs.sh passes its arguments on).

pdoc reads a module's ``__dict__``, where the problem API of the package (``innbench.get_problem``,
``innbench.Problem``, ...) appears only once used: innbench/__init__.py imports it on first use (module-level
``__getattr__``), so that ``innbench --help`` does not wait for numpy and scipy, and so that the package imports no
module of its own (no import cycle through it). The names are looked up first, then pdoc runs.
"""

import runpy
import sys


def resolve_lazy_names() -> None:
    """Look up every name of ``innbench.__all__``, which puts the lazily imported ones into the package's
    ``__dict__``."""
    import innbench

    for name in innbench.__all__:
        getattr(innbench, name)


if __name__ == "__main__":
    resolve_lazy_names()
    sys.argv[0] = "pdoc"
    runpy.run_module("pdoc", run_name="__main__", alter_sys=True)
