"""Published values of Kruse et al. (2019), Tables 1 and 2, for the report's comparison columns."""

from __future__ import annotations

__all__ = ["NPE_C2ST", "NPE_SOURCE", "PAPER", "paper_row"]

#: (problem, model) -> (Err_post, Err_resim, inference ms on a GTX 1080 Ti). The ballistics means were
#: computed "with clamped values" (cap not published).
PAPER: dict[tuple[str, str], tuple[float, float, float]] = {
    ("kinematics", "inn"): (0.025, 0.015, 10),
    ("kinematics", "inn_mmd"): (0.017, 0.086, 9),
    ("kinematics", "cinn"): (0.015, 0.008, 11),
    ("kinematics", "iaf"): (0.419, 0.222, 0),
    ("kinematics", "maf"): (0.074, 0.034, 0),
    ("kinematics", "iresnet"): (0.713, 0.311, 763),
    ("kinematics", "invauto"): (0.062, 0.022, 1),
    ("kinematics", "autoencoder"): (0.037, 0.016, 0),
    ("kinematics", "cvae"): (0.042, 0.019, 0),
    ("kinematics", "mdn"): (0.007, 0.012, 601),
    ("ballistics", "inn"): (0.047, 0.019, 21),
    ("ballistics", "inn_mmd"): (0.060, 3.668, 21),
    ("ballistics", "cinn"): (0.047, 0.437, 22),
    ("ballistics", "iaf"): (0.323, 3.457, 0),
    ("ballistics", "maf"): (0.213, 1.010, 0),
    ("ballistics", "iresnet"): (0.084, 0.091, 307),
    ("ballistics", "invauto"): (0.156, 0.315, 1),
    ("ballistics", "autoencoder"): (0.049, 0.052, 1),
    ("ballistics", "cvae"): (4.359, 0.812, 0),
    ("ballistics", "mdn"): (0.048, 0.184, 175),
}


def paper_row(problem: str, model: str) -> dict | None:
    """The paper's published numbers for ``model`` on ``problem`` (:data:`PAPER`), or None where it has none.

    Example:
        >>> from innbench.benchmark.paper import paper_row
        >>> paper_row("kinematics", "cinn")
        {'err_post': 0.015, 'err_resim': 0.008, 'inference_ms': 11}
        >>> paper_row("kinematics", "flow_matching") is None
        True
    """
    v = PAPER.get((problem, model))
    return None if v is None else {"err_post": v[0], "err_resim": v[1], "inference_ms": v[2]}


#: Published C2ST of neural posterior estimation (NPE, sbi's default flow) on sbibm's tasks at 10^3 / 10^4 / 10^5
#: simulations: Lueckmann et al. (2021), "Benchmarking simulation-based inference", as quoted in issue 14 (the
#: tasks without a quoted value get none). Their C2ST: sklearn MLPClassifier, 5 folds, 10,000 vs 10,000 samples.
NPE_C2ST: dict[str, dict[int, float]] = {
    "two_moons": {1000: 0.725, 10_000: 0.606, 100_000: 0.542},
    "gaussian_mixture": {1000: 0.731, 10_000: 0.661, 100_000: 0.555},
    "slcp": {1000: 0.975, 10_000: 0.901, 100_000: 0.831},
}
NPE_SOURCE = "NPE: Lueckmann et al. 2021 (sbibm), sbibm's own ten observations and C2ST"
