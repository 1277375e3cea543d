"""Process-level speed settings: they apply once, can be switched off, and change no result."""

import os
import subprocess
import sys

import pytest

CHECK = ("from innbench.runtime import tune_allocator; a = tune_allocator(); b = tune_allocator(); "
         "print(a, b)")


def _run(env_extra):
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, env=env,
                          check=True).stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt exists on Linux only")
def test_allocator_setting_applies_once_and_can_be_switched_off():
    assert _run({"INNBENCH_MALLOPT": "1"}) == ["True", "True"]
    assert _run({"INNBENCH_MALLOPT": "0"}) == ["False", "False"]


def test_allocator_setting_changes_no_samples():
    code = ("import numpy as np, sys; from innbench.models import build_model; "
            "from innbench.runtime import tune_allocator; "
            "m = build_model('cinn', 'kinematics', blocks=2, hidden=16); "
            "m.set_normalization(*m.problem.simulate(500, np.random.default_rng(0))); "
            "tune_allocator() if sys.argv[1] == '1' else None; "
            "s = m.sample(np.array([[1.5, 0.0]]), 2000, seed=3); sys.stdout.write(s.tobytes().hex())")
    outs = [subprocess.run([sys.executable, "-c", code, flag], capture_output=True, text=True, check=True).stdout
            for flag in ("0", "1")]
    assert len(outs[0]) > 1000 and outs[0] == outs[1]
