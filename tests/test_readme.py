"""The README's Python examples run as written (with the tiny budget so the suite stays fast)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_python_examples():
    assert len(_python_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_python_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _python_blocks()[index]
    code = code.replace('preset="quick"', 'preset="tiny", progress=False').replace("num_observations=100", "num_observations=3")
    code = code.replace('innbench.register_problem(problem)', 'innbench.register_problem(problem, overwrite=True)')
    exec(compile(code, f"README.md example {index}", "exec"), {})
