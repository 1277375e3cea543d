"""The end-to-end demo: train a cINN on inverse kinematics, score it against ground truth, draw a posterior."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .api import evaluate, train
from .atomic import write_json
from .reference import reference_posterior

__all__ = ["run_demo"]

SHOWCASE = np.array([[1.5, 0.0]])  # the paper's Figure 2 target


def run_demo(out="runs/demo", preset: str = "quick", num_observations: int = 100, device: str = "cpu") -> dict:
    """Train a conditional INN on inverse kinematics, score it against exact reference posteriors and draw
    the posterior of the paper's Figure 2 target, printing what it does (``innbench demo``).

    Args:
        out: the directory for the model, ``metrics.json`` and ``posterior_kinematics.png``.
        preset: the training preset (``quick``: minutes on a CPU; ``tiny``: seconds, for tests).
        num_observations: test observations to score on.
        device: ``cpu``, ``cuda`` or ``auto``.

    Returns:
        The output of :func:`innbench.api.evaluate`.

    Example:
        ```python
        from innbench.demo import run_demo
        result = run_demo("runs/demo")        # about five minutes on a laptop CPU
        result["summary"]["err_post_mean"]
        ```
    """
    out = Path(out)
    print(f"[1/3] training a conditional INN on inverse kinematics (preset {preset!r})")
    model = train("kinematics", "cinn", seed=0, preset=preset, out=out / "model", device=device)
    print(f"      {model.n_parameters()} parameters, {model.train_info['train_seconds']:.1f} s")
    print(f"[2/3] evaluating on {num_observations} test observations against exact reference posteriors")
    res = evaluate(model, num_observations=num_observations, progress=True)
    s = res["summary"]
    write_json(out / "metrics.json", res, "out")
    print(f"      Err_post  mean {s['err_post_mean']:.4f}  median {s['err_post_median']:.4f}  "
          f"(noise floor {s['noise_floor_mean']:.4f}; paper's cINN 0.015)")
    print(f"      Err_resim mean {s['err_resim_mean']:.4f}  (squared {s['err_resim_sq_mean']:.5f}; paper's cINN 0.008)")
    print(f"      inference {s['inference_ms']:.1f} ms for 4000 samples")
    print("[3/3] drawing the posterior for y* = (1.5, 0)")
    samples = model.sample(SHOWCASE, 4000)[0]
    ref, _ = reference_posterior(model.problem, SHOWCASE, 4000)
    y0 = SHOWCASE[0]
    fig, _ = model.problem.posterior_figure([("reference (exact)", {"y0": (y0, ref[0])}),
                                             ("conditional INN", {"y0": (y0, samples)})])
    path = out / "posterior_kinematics.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"      wrote {path} and {out / 'metrics.json'}")
    return res
