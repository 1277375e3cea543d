"""Shared set-up of the test suite.

- Every run gets a fresh reference cache of its own (``INNBENCH_CACHE``), shared by the run's xdist workers
  and removed at the end, so results never depend on earlier runs and a local run costs what CI's clean
  checkout costs. ``INNBENCH_TEST_CACHE=DIR`` reuses ``DIR`` on purpose (kept afterwards).
- Under pytest-xdist (``scripts/test.sh`` runs one worker per core) each worker computes on one thread,
  so the workers do not oversubscribe the cores; ``INNBENCH_TEST_THREADS`` overrides the count.
"""

import os
import shutil
import sys
import tempfile

_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
_THREADS = int(os.environ.get("INNBENCH_TEST_THREADS", "1" if _WORKER else "2"))
# before numpy loads BLAS; set, not defaulted: an xdist worker inherits the controller's two threads, and the
# CLI's thread policy (runtime.resolve_threads) reads INNBENCH_THREADS and OMP_NUM_THREADS
for _var in ("INNBENCH_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = str(_THREADS)


def _run_cache() -> tuple[str, bool]:
    """This run's cache directory, and whether this process made it (and so removes it at the end)."""
    chosen = os.environ.get("INNBENCH_TEST_CACHE") or os.environ.get("_INNBENCH_RUN_CACHE")
    if chosen:
        return chosen, False
    made = tempfile.mkdtemp(prefix="innbench-tests-")
    os.environ["_INNBENCH_RUN_CACHE"] = made  # inherited by the xdist workers, started after this import
    return made, True


_CACHE, _OWN_CACHE = _run_cache()
os.environ["INNBENCH_CACHE"] = _CACHE

import numpy as np  # noqa: E402  (after the thread settings above)
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(_THREADS)


def pytest_unconfigure(config):
    if _OWN_CACHE and not hasattr(config, "workerinput"):
        shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INNBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def scratch_registries(monkeypatch):
    """Let a test register plugins without leaking them into other tests."""
    import innbench.models
    import innbench.problems

    monkeypatch.setattr(innbench.models.registry, "_REGISTRY", dict(innbench.models.registry._REGISTRY))
    monkeypatch.setattr(innbench.problems, "_REGISTRY", dict(innbench.problems._REGISTRY))
    yield
    for name in [m for m in sys.modules if m.startswith("innbench_plugin_")]:
        del sys.modules[name]


@pytest.fixture(autouse=True)
def _no_leaked_registrations():
    """A test that registers a model or problem without ``scratch_registries`` fails here (its names are
    removed again), instead of changing what later tests see: which tests come after depends on how xdist
    spreads the files over the workers."""
    import innbench.models
    import innbench.problems

    registries = {"models": innbench.models.registry, "problems": innbench.problems}
    before = {kind: set(mod._REGISTRY) for kind, mod in registries.items()}
    yield
    leaked = {}
    for kind, mod in registries.items():
        new = set(mod._REGISTRY) - before[kind]
        for name in new:
            del mod._REGISTRY[name]
        if new:
            leaked[kind] = sorted(new)
    if leaked:
        pytest.fail(f"the test left registrations behind: {leaked}; give it the scratch_registries fixture")


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    """A test that leaves torch's thread count changed fails here (the count is set back): two xdist workers
    that each compute on two threads of a two-core machine wait on each other, and the suite took 33-45
    minutes instead of 5 (session 34)."""
    yield
    leaked = torch.get_num_threads()
    if leaked != _THREADS:
        torch.set_num_threads(_THREADS)
        pytest.fail(f"the test left torch computing on {leaked} threads (the suite's count is {_THREADS})")
