"""Toy problems of the lab's INN work: the 8-mode Gaussian mixture and the linear toy."""

from __future__ import annotations

import numpy as np

from ..base import ObservationError, Problem

__all__ = ["LABEL_MAPS", "MODE_CENTRES", "GaussianModes", "Linear"]

_S = 1 + np.sqrt(2.0)  # 2.4142...
#: The octagon's vertices, clockwise from (-2.4142, 1).
MODE_CENTRES = np.array(
    [[-_S, 1], [-1, _S], [1, _S], [_S, 1], [_S, -1], [1, -_S], [-1, -_S], [-_S, -1]], dtype=float
)
MODE_STD = 0.2
LABEL_MAPS = {
    "all": np.arange(8),
    "some": np.array([0, 0, 0, 0, 1, 1, 2, 3]),
    "none": np.zeros(8, dtype=int),
}


class GaussianModes(Problem):
    r"""2-D mixture of 8 isotropic Gaussians (std 0.2) on a regular octagon; ``y`` is a one-hot label.

    The forward process labels ``x`` with the label (under the chosen label map) of its nearest mode,
    so it is a function of ``x``. ``labels``: ``all`` (8 colours), ``some`` (``[0,0,0,0,1,1,2,3]``:
    4 colours) or ``none`` (one colour: ``y`` carries no information). The posterior for a label is
    the mixture of its modes, each truncated to its nearest-mode cell (a 5-sigma truncation).

    Registered three times: ``"gaussian_modes"`` (``labels="all"``), ``"gaussian_modes_some"`` and
    ``"gaussian_modes_none"``.

    Args:
        labels: the label map, ``"all"``, ``"some"`` or ``"none"``; it sets the number of labels (``y_dim``)
            and the problem's name.

    Example:
        >>> import numpy as np
        >>> from innbench.problems import GaussianModes
        >>> p = GaussianModes("some")
        >>> p.name, p.y_dim
        ('gaussian_modes_some', 4)
        >>> p.forward(np.array([[2.4, 1.0]]))  # nearest the octagon's vertex 3, which carries label 0
        array([[1., 0., 0., 0.]])
        >>> p.exact_posterior(np.eye(4)[:1], 100, np.random.default_rng(0))[0].shape
        (1, 100, 2)
    """

    x_names = ("x1", "x2")

    def showcase_observations(self):
        """Every label once."""
        return np.eye(self.y_dim)

    def posterior_figure(self, panels, observations=None):
        """Posterior samples for every label, one panel per model (the labels are the showcase observations)."""
        from .figures import gaussian_modes_figure

        def by_label(d):
            return {int(np.argmax(y)): s for y, s in d.values()}

        if not panels[0][1]:
            return None
        return (gaussian_modes_figure([(t, by_label(d)) for t, d in panels if d], MODE_CENTRES),
                "The 8-mode Gaussian mixture: posterior samples for each label (colour).")

    def __init__(self, labels: str = "all"):
        if labels not in LABEL_MAPS:
            raise ValueError(f"labels: expected one of {sorted(LABEL_MAPS)}, got {labels!r}")
        self.labels = labels
        self.label_map = LABEL_MAPS[labels]
        self.n_labels = int(self.label_map.max()) + 1
        self.observation_classes = self.n_labels
        self.name = "gaussian_modes" if labels == "all" else f"gaussian_modes_{labels}"
        self.y_names = tuple(f"label {i}" for i in range(self.n_labels))

    def nearest_mode(self, x):
        d = ((np.asarray(x)[..., None, :] - MODE_CENTRES) ** 2).sum(-1)
        return d.argmin(-1)

    def sample_prior(self, n, rng):
        modes = rng.integers(0, 8, n)
        return MODE_CENTRES[modes] + MODE_STD * rng.standard_normal((n, 2))

    def forward(self, x, rng=None):
        lab = self.label_map[self.nearest_mode(x)]
        return np.eye(self.n_labels)[lab]

    def check_observations(self, y):
        onehot = np.isin(y, (0.0, 1.0)).all(axis=1) & (y.sum(axis=1) == 1)
        if not onehot.all():
            row = int(np.flatnonzero(~onehot)[0])
            raise ObservationError(
                f"observations: expected one-hot labels over {self.n_labels} classes "
                f"(label map {self.labels!r}); row {row} is {y[row].tolist()}"
            )

    def exact_posterior(self, y, n, rng, **kwargs):
        """Closed form: a uniformly chosen mode of the label, Gaussian within its nearest-mode cell."""
        lab = np.asarray(y).argmax(axis=1)
        out = np.empty((len(y), n, 2))
        for i, label in enumerate(lab):
            modes = np.flatnonzero(self.label_map == label)
            filled = 0
            while filled < n:
                m = rng.choice(modes, 2 * n)
                cand = MODE_CENTRES[m] + MODE_STD * rng.standard_normal((2 * n, 2))
                cand = cand[self.nearest_mode(cand) == m][: n - filled]
                out[i, filled : filled + len(cand)] = cand
                filled += len(cand)
        return out, {"method": "exact-closed-form", "ess": np.full(len(y), float(n))}


class Linear(Problem):
    r"""``x1, x2 ~ N(0, 1)``, ``y = x1 + x2``.

    The posterior is Gaussian in closed form: ``x1 | y ~ N(y/2, 1/2)`` and ``x2 = y - x1``.
    Registered as ``"linear"``; the smallest problem, used in the examples and tests.

    Example:
        >>> import numpy as np
        >>> from innbench.problems import Linear
        >>> p = Linear()
        >>> p.forward(np.array([[1.0, 2.0]]))
        array([[3.]])
        >>> draws, info = p.exact_posterior(np.array([[1.0]]), 1000, np.random.default_rng(0))
        >>> draws.shape, info["method"], bool(np.allclose(draws.sum(-1), 1.0))  # every draw solves x1 + x2 = y
        ((1, 1000, 2), 'exact-closed-form', True)
    """

    name = "linear"
    x_names = ("x1", "x2")
    y_names = ("y",)

    def sample_prior(self, n, rng):
        return rng.standard_normal((n, 2))

    def forward(self, x, rng=None):
        return np.asarray(x, dtype=float).sum(-1, keepdims=True)

    def forward_torch(self, x):
        return x.sum(-1, keepdim=True)

    def exact_posterior(self, y, n, rng, **kwargs):
        y = np.asarray(y, dtype=float)[:, 0]
        x1 = y[:, None] / 2 + np.sqrt(0.5) * rng.standard_normal((len(y), n))
        return np.stack([x1, y[:, None] - x1], -1), {"method": "exact-closed-form", "ess": np.full(len(y), float(n))}
