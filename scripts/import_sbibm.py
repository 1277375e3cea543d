"""Extract sbibm's ten fixed observations per task (and their true parameters) into innbench's package data.

Usage::

    pip download --no-deps sbibm==1.1.0 -d /tmp/sbibm      # the wheel from PyPI (MIT licence)
    python scripts/import_sbibm.py /tmp/sbibm/sbibm-1.1.0-py2.py3-none-any.whl

Writes ``src/innbench/problems/sbi/data/sbibm_observations.json``: for each of ``two_moons``,
``gaussian_linear``, ``gaussian_mixture``, ``slcp``, ``bernoulli_glm``, ``sir`` and ``lotka_volterra`` the
observation seeds, the
observations and the true parameters exactly as sbibm stores them (float32 values printed as decimals),
with the source and licence. It also checks that innbench's Bernoulli-GLM design matrix (rebuilt from
``RandomState(42)``, as sbibm's ``_setup`` does) equals the one in the wheel. Nothing is downloaded at run
time: the JSON is committed. For the ODE tasks it also writes the means and standard deviations of sbibm's
reference samples per observation to ``tests/data/sbibm_reference_moments.json`` (a test's expected
values). ``benchmarks/sbibm_references.py`` compares innbench's reference posteriors with the reference samples
in the same wheel.
"""

from __future__ import annotations

import bz2
import csv
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

TASKS = ("two_moons", "gaussian_linear", "gaussian_mixture", "slcp", "bernoulli_glm", "sir", "lotka_volterra")
OUT = Path(__file__).resolve().parents[1] / "src" / "innbench" / "problems" / "sbi" / "data" / "sbibm_observations.json"
#: tasks whose reference is MCMC: the means and standard deviations of sbibm's reference samples go to the tests'
#: data, so that tests/test_ode_tasks.py checks a short run of innbench's reference against them offline
MOMENT_TASKS = ("sir", "lotka_volterra")
MOMENTS = Path(__file__).resolve().parents[1] / "tests" / "data" / "sbibm_reference_moments.json"


def _rows(z: zipfile.ZipFile, name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(z.read(name).decode())))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    wheel = Path(argv[0])
    out = {"source": f"sbibm {wheel.name} (https://github.com/sbi-benchmark/sbibm), MIT licence, "
                     "Copyright 2020 Jan-Matthis Lueckmann, Jan Boelts, David S. Greenberg, Pedro J. Goncalves, "
                     "Jakob H. Macke",
           "tasks": {}}
    moments = {"source": out["source"] + "; means and standard deviations of reference_posterior_samples.csv.bz2",
               "tasks": {}}
    with zipfile.ZipFile(wheel) as z:
        for task in TASKS:
            entry = {"seeds": [], "observations": [], "true_parameters": []}
            for k in range(1, 11):
                base = f"sbibm/tasks/{task}/files/num_observation_{k}/"
                entry["seeds"].append(int(_rows(z, base + "observation_seed.csv")[1][0]))
                entry["observations"].append([float(v) for v in _rows(z, base + "observation.csv")[1]])
                entry["true_parameters"].append([float(v) for v in _rows(z, base + "true_parameters.csv")[1]])
            out["tasks"][task] = entry
        for task in MOMENT_TASKS:
            rows = []
            for k in range(1, 11):
                name = f"sbibm/tasks/{task}/files/num_observation_{k}/reference_posterior_samples.csv.bz2"
                draws = np.asarray(list(csv.reader(io.StringIO(bz2.decompress(z.read(name)).decode())))[1:], float)
                rows.append({"mean": draws.mean(0).tolist(), "sd": draws.std(0).tolist(), "n": len(draws)})
            moments["tasks"][task] = rows
        import torch

        theirs = torch.load(io.BytesIO(z.read("sbibm/tasks/bernoulli_glm/files/design_matrix.pt"))).numpy()
    from innbench.problems.sbi import BernoulliGLM

    ours = BernoulliGLM.design_matrix()
    if not np.array_equal(ours.astype(np.float32), theirs):
        print(f"design matrix differs from sbibm's: max |diff| {np.abs(ours - theirs).max():.3g}", file=sys.stderr)
        return 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    MOMENTS.write_text(json.dumps(moments, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes); Bernoulli-GLM design matrix identical to sbibm's")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
