"""The first hour of a new user (issue 34): the README's and the docs' command lines parse with the CLI's own
parser (and their grids resolve), every option has a help text and shows its default, the listings are compact
and aligned, ``--help`` imports nothing heavy, and ``scripts/setup.sh`` survives a failing apt."""

import argparse
import itertools
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from innbench.cli import GRID_PRESET_NAMES, TRAINING_PRESET_NAMES, build_parser, main

ROOT = Path(__file__).resolve().parents[1]
#: the pages whose bash blocks are checked (docs/journal/ is history: its commands are those of their time)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _command_lines(text: str) -> list[str]:
    """The ``innbench ...`` lines of the bash blocks of a Markdown page, continuation lines joined."""
    out = []
    for block in re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            for prefix in (".venv/bin/innbench ", "python -m innbench "):
                if line.startswith(prefix):
                    line = "innbench " + line[len(prefix):]
            if line.startswith("innbench "):
                out.append(line)
    return out


def _variants(line: str) -> list[list[str]]:
    """The arguments of a command line (after ``innbench``, comments dropped): without its optional ``[...]``
    parts, and with all of them, once for every alternative of their ``a|b`` choices."""
    line = line.split(" #", 1)[0]
    optional = re.findall(r"\[([^\[\]]*)\]", line)
    out = [re.sub(r"\[[^\[\]]*\]", " ", line)]
    choices = max([len(t.split("|")) for part in optional for t in part.split()] + [1])
    for k in range(choices):
        def pick(m, k=k):
            return " ".join(t.split("|")[min(k, len(t.split("|")) - 1)] for t in m.group(1).split())
        out.append(re.sub(r"\[([^\[\]]*)\]", pick, line))
    return [shlex.split(v)[1:] for v in dict.fromkeys(out)]


def _lines_of_pages() -> list[tuple[str, str]]:
    return [(page.relative_to(ROOT).as_posix(), line) for page in PAGES for line in _command_lines(page.read_text())]


def test_command_lines_are_found():
    lines = [line for page, line in _lines_of_pages() if page == "README.md"]
    commands = {line.split()[1] for line in lines}
    assert {"problems", "models", "train", "sample", "reference", "evaluate", "bench", "report", "explore",
            "demo"} <= commands, commands
    assert _variants("innbench demo [--preset quick|default]  # a comment") == [
        ["demo"], ["demo", "--preset", "quick"], ["demo", "--preset", "default"]]


def test_readme_and_docs_command_lines_parse_and_their_grids_resolve(capsys, monkeypatch, tmp_path,
                                                                     scratch_registries):
    """Every ``innbench`` line of the README's and docs/*.md's bash blocks parses with the CLI's own parser,
    with and without its optional parts; ``bench`` lines also list their grid (``--list``: imports and names
    resolved, nothing run), and the listing commands run. Nothing trains; the grids' plugins are registered in
    scratch registries, so they do not leak into the tests that come after."""
    import torch

    monkeypatch.chdir(ROOT)  # the pages' paths (examples/leaderboard.toml) are relative to the repository
    parser = build_parser()
    failures, listed = [], 0
    threads, sigterm = torch.get_num_threads(), signal.getsignal(signal.SIGTERM)
    try:
        for page, line in _lines_of_pages():
            for argv in _variants(line):
                try:
                    parser.parse_args(argv)
                except SystemExit:
                    failures.append(f"{page}: {line!r} as {argv}: {capsys.readouterr().err.strip()}")
                    continue
                if argv[0] == "bench":
                    run = argv + ["--list"]
                elif argv[0] in ("problems", "models"):
                    run = argv
                else:
                    continue
                if main(run) != 0:
                    failures.append(f"{page}: {line!r}: innbench {' '.join(run)}: {capsys.readouterr().err.strip()}")
                listed += 1
                capsys.readouterr()
    finally:
        torch.set_num_threads(threads)
        signal.signal(signal.SIGTERM, sigterm)
    assert not failures, "\n".join(failures)
    assert listed >= 5


def _subparsers(parser=None) -> dict[str, argparse.ArgumentParser]:
    parser = parser or build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_has_help_and_shows_its_default():
    missing, no_default = [], []
    for name, sub in _subparsers().items():
        sub.format_help()  # every help text formats (a stray % would raise here)
        formatter = sub._get_formatter()
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            flag = f"innbench {name} {'/'.join(action.option_strings) or action.dest}"
            if not (action.help or "").strip():
                missing.append(flag)
            shown = formatter._get_help_string(action)
            if action.default not in (None, False, [], argparse.SUPPRESS) and "default" not in shown:
                no_default.append(flag)
    assert not missing, f"options without help: {missing}"
    assert not no_default, f"options whose default --help does not show: {no_default}"
    train = _subparsers()["train"].format_help()
    assert "--seed SEED" in train and "(default: 0)" in train


def test_help_names_every_preset():
    from innbench.benchmark.config import GRID_PRESETS
    from innbench.training import PRESETS

    assert set(GRID_PRESET_NAMES) == set(GRID_PRESETS)
    assert set(TRAINING_PRESET_NAMES) == set(PRESETS)
    subs = _subparsers()
    bench = next(a for a in subs["bench"]._actions if a.dest == "preset").help
    assert all(name in bench for name in GRID_PRESETS), bench
    for command in ("train", "demo"):
        text = next(a for a in subs[command]._actions if a.dest == "preset").help
        assert all(name in text for name in PRESETS), text


def test_problem_listing_is_compact(capsys):
    assert main(["problems"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 200  # was 2261 characters: all 200 names of gaussian_set
    epidemic = next(line for line in lines if line.startswith("epidemic "))
    assert "cases_day1, deaths_day1, cases_day2, ..., deaths_day80 (160 names)" in epidemic
    assert "x_dim=5 y_dim=160" in epidemic
    starts = {tuple(m.start() for m in re.finditer(r"\S+(?: \S+)*", line))[:3] for line in lines}
    assert len(starts) == 1, starts  # name, dimensions and reference kind in aligned columns


def _cells(line):
    return [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", line)]


@pytest.mark.parametrize("argv", [["models"], ["models", "--problem", "ballistics"]])
def test_model_table_columns_are_aligned(argv, capsys):
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    table = lines if len(argv) > 1 else lines[:-1]  # without --problem: a note follows the table
    header = _cells(table[0])
    assert [c[2] for c in header][:7] == ["name", "model", "loss", "ML", "y-sup", "inverse", "density"]
    for line in table[1:]:
        cells = _cells(line)
        assert len(cells) >= len(header), line
        for (start, end, text), (h_start, h_end, h_text) in zip(cells, header, strict=False):
            if h_text == "params":  # numbers aligned right
                assert end == h_end, (line, text)
            else:
                assert start == h_start, (line, text, h_text)
    names = [_cells(line)[0][2] for line in table[1:]]
    assert "latent_mixture_inn" in names and "mcmc" in names


HEAVY = ("torch", "scipy", "matplotlib", "sklearn", "numpy", "innbench.models", "innbench.problems")


@pytest.mark.parametrize("argv, allowed", [
    (["--help"], ()),
    (["train", "--help"], ()),
    (["bench", "--help"], ()),
    (["problems"], ("numpy", "scipy", "innbench.problems")),
])
def test_help_and_listings_import_nothing_heavy(argv, allowed):
    """``innbench --help`` took 2.7 s (torch, scipy, every problem) and answered in 0.05 s after issue 34;
    ``innbench problems`` needs the problems (numpy, scipy) but not torch."""
    code = ("import sys\nfrom innbench.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    res = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    loaded = set(res.stderr.strip().splitlines()[-1].split()) if res.stderr.strip() else set()
    assert loaded <= set(allowed), f"innbench {' '.join(argv)} imported {sorted(loaded - set(allowed))}"


def test_import_innbench_is_lazy_but_complete():
    code = ("import sys, innbench\nassert 'innbench.problems' not in sys.modules\n"
            "assert innbench.get_problem('linear').x_dim == 2 and 'linear' in innbench.list_problems()\n"
            "from innbench import *\nassert issubclass(ObservationError, ValueError) and Problem and SimulatorProblem\n"
            "assert innbench.problems.register_problem is register_problem\n"
            "assert not hasattr(innbench, 'no_such_name')\nprint('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == "ok", res.stderr


def test_the_api_reference_still_sees_the_lazy_names():
    """pdoc (scripts/apidocs.sh, which fails on any warning) reads a module's __dict__, not its __getattr__: the
    script's runner (scripts/pdoc_main.py) uses the lazy names first, and then pdoc sees them without a warning."""
    pytest.importorskip("pdoc")
    code = (f"import sys; sys.path.insert(0, {str(ROOT / 'scripts')!r})\nimport pdoc_main\n"
            "pdoc_main.resolve_lazy_names()\n"
            "import warnings, pdoc.doc, innbench\nwith warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n    members = pdoc.doc.Module(innbench).members\n"
            "assert not [str(x.message) for x in w], [str(x.message) for x in w]\n"
            "assert {'get_problem', 'Problem', 'register_problem'} <= set(members)\nprint('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == "ok", res.stderr


def _setup_sandbox(tmp_path, apt_script: str, pip_ok: bool = True) -> tuple[Path, dict]:
    """A copy of scripts/setup.sh in an empty repository whose .venv/bin/python is a stand-in, and a PATH of
    the few tools the script uses plus a stand-in apt-get, with no browser on it."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup.sh", repo / "scripts" / "setup.sh")
    python = repo / ".venv" / "bin" / "python"
    python.write_text("#!/bin/sh\n" + ("echo pip-ran\n" if pip_ok else "echo pip-failed >&2; exit 1\n"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "id", "mktemp", "tail", "sed", "rm"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    (bin_dir / "apt-get").write_text(apt_script)
    for f in (python, bin_dir / "apt-get"):
        f.chmod(0o755)
    return repo, {**os.environ, "PATH": str(bin_dir)}


@pytest.mark.skipif(not shutil.which("bash") or os.geteuid() != 0,
                    reason="setup.sh installs the browser only as root")
@pytest.mark.parametrize("apt_ok, pip_ok", list(itertools.product([False, True], [True, False])))
def test_setup_goes_on_when_the_optional_browser_cannot_be_installed(tmp_path, apt_ok, pip_ok):
    lock = "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)"
    apt = "#!/bin/sh\necho \"apt-get $*\"\n" if apt_ok else f"#!/bin/sh\necho '{lock}' >&2\nexit 100\n"
    repo, env = _setup_sandbox(tmp_path, apt, pip_ok)
    res = subprocess.run(["bash", str(repo / "scripts" / "setup.sh")], capture_output=True, text=True, env=env,
                         timeout=60)
    if not pip_ok:  # the Python set-up is not optional
        assert res.returncode != 0 and "pip-failed" in res.stderr
        return
    assert res.returncode == 0, res.stderr
    assert "pip-ran" in res.stdout
    if apt_ok:
        assert "warning" not in res.stderr
    else:  # apt's own words, not hidden
        assert "warning: could not install Chromium" in res.stderr and lock in res.stderr
