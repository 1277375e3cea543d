"""What every trained estimator offers, whether one model or several composed (issue 35).

:class:`Estimator` is the common base of :class:`innbench.models.Model` (one inference network inside its
parts) and :class:`innbench.models.ensemble.PosteriorEnsemble` (trained models mixed with weights). Code
that uses a trained estimator (the API, the CLI, the benchmark runner, the explorer) needs only this:

- ``problem``, ``config``, ``train_info``, ``device``, and the model's facts: ``name``, ``title``,
  ``facts``, ``conditional``, ``trainable``, ``amortized``, ``sample_in_chunks``;
- ``sample(y, n, seed)`` and, where ``has_density``, ``log_prob(x, y)``, both in the problem's units;
- ``save(path)`` (and :func:`innbench.models.load_model` to read it back), ``n_parameters()``, ``dim_z()``;
- for the trainers: ``trainable_members()``, the models to train (one model: itself), ``training_pairs(x, y)``,
  the simulations they are trained on (all), and ``record_training(summaries, seed)``, which keeps their
  training summaries as its own.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

__all__ = ["Estimator", "MODEL_FILES"]

#: the files of a model directory (``save`` replaces a directory holding only these)
MODEL_FILES = {"config.json", "weights.pt"}


class Estimator(nn.Module):
    """The base of every trained estimator: see the module's docstring for what it offers.

    Subclasses implement ``sample``, ``log_prob``, ``has_density``, ``n_parameters``, ``dim_z``,
    ``trainable_members`` and ``record_training``; :meth:`state` (what ``config.json`` holds) and :meth:`save`
    are shared.
    """

    train_info: dict

    def trainable_members(self) -> list:
        """The :class:`innbench.models.Model` instances a trainer fits, in order (member ``k`` with the
        training seed ``seed + k``)."""
        raise NotImplementedError

    def training_pairs(self, x, y) -> tuple:
        """The pairs, of the ``N`` simulations ``x (N, x_dim)``, ``y (N, y_dim)`` a trainer was given, that it fits
        :meth:`trainable_members` on: all of them (a sequential model keeps its first round's share and spends
        the rest per observation: :mod:`innbench.models.sequential`)."""
        return x, y

    def record_training(self, summaries: list[dict], seed: int) -> dict:
        """Keep the training summaries of :meth:`trainable_members` (in that order) as this estimator's
        ``train_info`` and return it."""
        raise NotImplementedError

    def state(self) -> dict:
        """What ``config.json`` of a saved estimator holds: names, versions, the config, facts and training
        summary."""
        from dataclasses import asdict

        from .. import __version__

        return {"model": self.name, "problem": self.problem.name, "problem_version": self.problem.version,
                "config": dict(self.config), "innbench_version": __version__, "n_parameters": self.n_parameters(),
                "facts": asdict(self.facts), "dim_z": self.dim_z(), "train_info": self.train_info}

    def save(self, path, name: str = "out") -> Path:
        """Write directory ``path`` with ``config.json`` and ``weights.pt``, replacing an earlier model
        there as a whole (:func:`innbench.atomic.replace_dir`): an interrupted save leaves the earlier
        model loadable. A directory holding other files is refused.

        Args:
            path: the model directory (created, with its parents, if missing).
            name: what error messages call ``path`` (e.g. the CLI's ``--out``).

        Returns:
            The directory's path.

        Example:
            >>> import tempfile
            >>> from innbench.models import build_model, load_model
            >>> path = build_model("mdn", "linear").save(tempfile.mkdtemp() + "/mdn")
            >>> sorted(p.name for p in path.iterdir())
            ['config.json', 'weights.pt']
            >>> load_model(path).config["components"]
            16
        """
        import torch

        from ..atomic import replace_dir

        weights = {k: v.detach().cpu() for k, v in self.state_dict().items()}
        config = json.dumps(self.state(), indent=2, default=float)

        def fill(d: Path) -> None:
            torch.save(weights, d / "weights.pt")
            (d / "config.json").write_text(config)

        return replace_dir(path, fill, name, owned=MODEL_FILES)
