"""Process-level speed settings: they apply once, can be switched off, and change no result."""

import os
import subprocess
import sys

import numpy as np
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


# -- the thread policy (issue 34) ----------------------------------------------------------------------------

@pytest.fixture
def no_thread_variables(monkeypatch):
    for var in ("INNBENCH_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_threads_default_to_one_unless_the_caller_or_the_environment_says(no_thread_variables):
    from innbench.runtime import resolve_threads

    assert resolve_threads() == 1 and resolve_threads(3) == 3
    no_thread_variables.setenv("OMP_NUM_THREADS", "4")
    assert resolve_threads() == 4
    no_thread_variables.setenv("INNBENCH_THREADS", "2")
    assert resolve_threads() == 2 and resolve_threads(1) == 1
    no_thread_variables.setenv("INNBENCH_THREADS", "two")
    with pytest.raises(ValueError, match="INNBENCH_THREADS: expected a positive number of threads, got 'two'"):
        resolve_threads()
    with pytest.raises(ValueError, match="threads"):
        resolve_threads(0)


def test_every_computing_command_runs_with_the_policys_threads(no_thread_variables, tmp_path, capsys):
    """train, sample, reference, evaluate and demo take --threads; without it they use one thread (torch's
    default, one per core, collapsed on a busy machine: docs/journal/threads.md)."""
    import torch

    from innbench.cli import build_parser, main

    parser = build_parser()
    for command in ("train", "sample", "reference", "evaluate", "demo"):
        assert "--threads" in parser._subparsers._group_actions[0].choices[command].format_help()
    before, seen = torch.get_num_threads(), []
    model = tmp_path / "m"
    try:
        torch.set_num_threads(2)
        assert main(["train", "--problem", "linear", "--model", "mdn", "--preset", "tiny", "--batches", "5",
                     "--out", str(model), "--quiet"]) == 0
        seen.append(torch.get_num_threads())
        assert main(["sample", "--model-path", str(model), "--observations", "0.5", "--n", "10",
                     "--out", str(tmp_path / "s.npy"), "--threads", "2"]) == 0
        seen.append(torch.get_num_threads())
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 2]
    assert main(["sample", "--model-path", str(model), "--observations", "0.5", "--out", str(tmp_path / "t.npy"),
                 "--threads", "0"]) == 2
    assert "--threads: expected a positive integer" in capsys.readouterr().err


def test_the_api_takes_threads_and_restores_the_process_count(no_thread_variables):
    import torch

    from innbench import api
    from innbench.models import build_model

    before = torch.get_num_threads()
    used = []
    model = build_model("mdn", "linear", hidden=16)
    real = model.sample

    def sample(*args, **kwargs):
        used.append(torch.get_num_threads())
        return real(*args, **kwargs)

    model.sample = sample
    api.sample(model, [[0.5]], n=5, threads=2)
    api.sample(model, [[0.5]], n=5)
    assert used == [2, 1] and torch.get_num_threads() == before
    x, y = api.get_problem("linear").simulate(50, np.random.default_rng(0))
    with pytest.raises(ValueError, match="simulations: give either simulations"):
        api.train("linear", "mdn", data=(x, y), simulations=50, threads=1)
