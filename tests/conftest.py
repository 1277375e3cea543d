import os
import sys

import numpy as np
import pytest
import torch

# every test run uses a private cache so results never depend on earlier runs
os.environ.setdefault("INNBENCH_CACHE", os.path.join(os.path.dirname(__file__), "..", ".cache", "innbench-tests"))
torch.set_num_threads(int(os.environ.get("INNBENCH_TEST_THREADS", "2")))


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

    monkeypatch.setattr(innbench.models, "_REGISTRY", dict(innbench.models._REGISTRY))
    monkeypatch.setattr(innbench.problems, "_REGISTRY", dict(innbench.problems._REGISTRY))
    yield
    for name in [m for m in sys.modules if m.startswith("innbench_plugin_")]:
        del sys.modules[name]
