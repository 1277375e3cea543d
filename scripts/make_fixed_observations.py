"""Write the fixed observations of innbench's own structured problems to the package data.

``epidemic``: ten prior draws with seed 2020. ``gaussian_set``: ten prior draws with seed 2021 observed through
sets of 5, 5, 5, 10, 20, 40, 60, 100, 100 and 100 items (both ends of the size range, so "more data narrows
the posterior" is scored). Run once; the files are bundled so that the observations do not depend on numpy's
or scipy's sampling algorithms.
"""

import json
from pathlib import Path

import numpy as np

from innbench.problems import Epidemic, GaussianSet

SET_SIZES = [5, 5, 5, 10, 20, 40, 60, 100, 100, 100]


def _write(name, problem, x, y, source):
    folder = {"gaussian_set": "sets"}.get(name, name)
    out = Path(__file__).resolve().parents[1] / f"src/innbench/problems/{folder}/data/{name}_observations.json"
    rows = [[None if not np.isfinite(v) else (int(v) if float(v).is_integer() and name == "epidemic" else float(v))
             for v in row] for row in y]
    out.write_text(json.dumps({"source": source, "problem_version": problem.version, "true_parameters": x.tolist(),
                               "observations": rows}) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    epi = Epidemic()
    x, y = epi.simulate(10, np.random.default_rng(2020))
    _write("epidemic", epi, x, y, "innbench scripts/make_fixed_observations.py (prior draws, seed 2020)")
    gs = GaussianSet()
    rng = np.random.default_rng(2021)
    x = gs.sample_prior(10, rng)
    y = gs._draws(x, rng, SET_SIZES)
    _write("gaussian_set", gs, x, y, "innbench scripts/make_fixed_observations.py (prior draws, seed 2021, "
           f"set sizes {SET_SIZES})")
