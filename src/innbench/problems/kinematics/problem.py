"""Inverse kinematics of a 4-DOF arm on a vertical rail (Kruse et al. 2019, Sec. 3.1; docs/protocol.md)."""

from __future__ import annotations

import numpy as np

from ..base import ObservationError, Problem, first_showcase, importance_resample, refuse_rows

__all__ = ["Kinematics"]

PRIOR_STD = np.array([0.25, 0.5, 0.5, 0.5])
LENGTHS = (0.5, 0.5, 1.0)
REACH = sum(LENGTHS)
#: the arm adds at most REACH to the rail height x1 ~ N(0, 0.25^2): a vertical coordinate farther than
#: this needs x1 more than sqrt(120) prior standard deviations out (log density below -60, the weight the
#: exact sampler treats as none), so it has no solution in the prior's support
VERTICAL_LIMIT = REACH + PRIOR_STD[0] * np.sqrt(120.0)


def _norm_logpdf(v, std):
    return -0.5 * (v / std) ** 2 - np.log(std * np.sqrt(2 * np.pi))


class Kinematics(Problem):
    r"""Arm with base at ``(0, x1)`` and segments of length 0.5, 0.5, 1.0.

    Joint angles are **cumulative** (the authors' code, not the paper's printed formula): the segments
    point at absolute angles ``x2``, ``x2 + x3``, ``x2 + x3 + x4``. The observation is the end point
    ``y = (horizontal, vertical)``. Prior: independent ``N(0, sigma^2)`` with
    ``sigma = (0.25, 0.5, 0.5, 0.5)``. Observations are reachable when ``|horizontal| <= 2``.

    The **reference** posterior is exact (:meth:`exact_posterior`: importance resampling along the
    two-dimensional solution set of each end point). Registered as ``"kinematics"``.

    Example:
        >>> import numpy as np
        >>> from innbench.problems import Kinematics
        >>> arm = Kinematics()
        >>> arm.forward(np.zeros((1, 4)))  # rail at 0, every segment horizontal: the end point at full reach
        array([[2., 0.]])
        >>> x, y = arm.simulate(5, np.random.default_rng(0))
        >>> x.shape, y.shape
        ((5, 4), (5, 2))
    """

    name = "kinematics"
    x_names = ("x1 (rail height)", "x2 (angle 1)", "x3 (angle 2)", "x4 (angle 3)")
    y_names = ("horizontal", "vertical")
    lengths = LENGTHS

    def showcase_observations(self):
        """The paper's Figure 2 target, (1.5, 0)."""
        return np.array([[1.5, 0.0]])

    def posterior_figure(self, panels, observations=None):
        """Figure 2 of the paper for the first showcase target: arms, the most likely arm, the contour."""
        from .figures import kinematics_posterior_figure

        first, y_star = first_showcase(panels)
        if y_star is None:
            return None
        fig = kinematics_posterior_figure(first, y_star, problem=self)
        return fig, (f"Figure 2: posteriors for y* = {y_star.tolist()}: arm configurations, the most likely arm "
                     "(mean shift) in bold, the 97 % contour of the end-point density.")

    def draw_prior(self, fig, spec, samples, color):
        """Figure 1 of the paper: prior arms on the rail and the 97 % contour of their end points."""
        from .figures import draw_kinematics_prior

        draw_kinematics_prior(fig, spec, self, samples, color)

    view_kind = "kinematics"

    def view_drawing(self, x, y_star):
        """Arms, the most likely arm and the end points' contour (:func:`~innbench.problems.kinematics.view.
        kinematics_drawing`)."""
        from .view import kinematics_drawing

        return kinematics_drawing(self, x)

    def view_info(self):
        """The canvas: the arm's whole reach around the rail."""
        from .view import kinematics_canvas

        return {"limits": kinematics_canvas(self)}

    def sample_prior(self, n, rng):
        return rng.standard_normal((n, 4)) * PRIOR_STD

    def log_prior(self, x):
        return _norm_logpdf(x, PRIOR_STD).sum(axis=-1)

    def joints(self, x):
        """Positions of base, the three joints and the end point, shape ``(n, 4, 2)`` -> ``(..., 4, 2)``."""
        x = np.asarray(x, dtype=float)
        a1 = x[..., 1]
        a2 = a1 + x[..., 2]
        a3 = a2 + x[..., 3]
        pts = [np.stack([np.zeros_like(a1), x[..., 0]], -1)]
        for length, a in zip(LENGTHS, (a1, a2, a3), strict=True):
            prev = pts[-1]
            pts.append(prev + length * np.stack([np.cos(a), np.sin(a)], -1))
        return np.stack(pts, -2)

    @staticmethod
    def _end_point(x, xp):
        """End point for arrays of module ``xp`` (numpy or torch), so both forward processes share one formula."""
        a1 = x[..., 1]
        a2 = a1 + x[..., 2]
        a3 = a2 + x[..., 3]
        l1, l2, l3 = LENGTHS
        h = l1 * xp.cos(a1) + l2 * xp.cos(a2) + l3 * xp.cos(a3)
        v = x[..., 0] + l1 * xp.sin(a1) + l2 * xp.sin(a2) + l3 * xp.sin(a3)
        return xp.stack([h, v], -1)

    def forward(self, x, rng=None):
        return self._end_point(np.asarray(x, dtype=float), np)

    def forward_torch(self, x):
        import torch

        return self._end_point(x, torch)

    n_condition_features = 1

    def condition_features(self, y):
        """``log(2 - |horizontal| + 1e-3)``: the distance to the edge of the arm's reach, on a log scale.

        Near the edge the posterior's width shrinks like ``sqrt(2 - |horizontal|)``; a log feature makes
        that singular dependence linear for the conditioning networks.
        """
        import torch

        return torch.log(REACH - y[:, :1].abs() + 1e-3)

    def transform_observations(self, y):
        """``(atanh(horizontal / 2.001), vertical)``: stretches the edges of the reach (for the INN)."""
        import torch

        return torch.cat([torch.atanh(y[:, :1] / (REACH + 1e-3)), y[:, 1:]], -1)

    def check_observations(self, y):
        refuse_rows(np.abs(y[:, 0]) > REACH, y,
                    f"horizontal coordinate must lie in [-{REACH}, {REACH}] (the arm's reach)", column=0)
        refuse_rows(np.abs(y[:, 1]) > VERTICAL_LIMIT, y,
                    f"vertical coordinate must lie in [-{VERTICAL_LIMIT:.2f}, {VERTICAL_LIMIT:.2f}] (the reach "
                    "above a rail height the prior allows)", column=1)

    def exact_posterior(self, y, n, rng, min_ess=10_000, batch=200_000, max_proposals=20_000_000):
        r"""Importance resampling along the solution set.

        Proposal: ``(x2, x3)`` from the prior. The last segment's absolute angle solves the horizontal
        equation, ``theta3 = +-arccos(r) + 2 pi k`` (k in {-1, 0, 1}), then ``x4 = theta3 - x2 - x3`` and
        ``x1`` follows from the vertical one. The weight is ``p(x1) p(x4) / |det d y / d(x1, x4)|
        = p(x1) p(x4) / (l3 |sin theta3|)``. Proposals are added until the effective sample size
        reaches ``min_ess`` (or ``max_proposals`` is spent; the ESS reached is reported either way).
        """
        y = np.asarray(y, dtype=float)
        out = np.empty((len(y), n, 4))
        ess = np.empty(len(y))
        used = np.empty(len(y), dtype=np.int64)
        l1, l2, l3 = LENGTHS
        for i, (h, v) in enumerate(y):
            xs, lws = [], []
            total, cur_ess = 0, 0.0
            while total < max_proposals:
                p = rng.standard_normal((batch, 2)) * PRIOR_STD[1:3]
                total += batch
                a1, a2 = p[:, 0], p[:, 0] + p[:, 1]
                r = (h - l1 * np.cos(a1) - l2 * np.cos(a2)) / l3
                ok = np.abs(r) < 1.0
                if ok.any():
                    p, a1, a2, r = p[ok], a1[ok], a2[ok], r[ok]
                    base = np.arccos(r)
                    x_fixed = l1 * np.sin(a1) + l2 * np.sin(a2)
                    for sign in (1.0, -1.0):
                        # x1 and the Jacobian are the same for the three windings k (sin is 2 pi periodic),
                        # only x4 changes; the k = +-1 windings almost never carry weight
                        a3 = sign * base
                        sin3 = np.sin(a3)
                        x1 = v - (x_fixed + l3 * sin3)
                        lw_common = _norm_logpdf(x1, PRIOR_STD[0]) - np.log(l3 * np.abs(sin3))
                        for k in (-1, 0, 1):
                            x4 = a3 + 2 * np.pi * k - a2
                            lw = lw_common + _norm_logpdf(x4, PRIOR_STD[3])
                            keep = lw > -60  # negligible weights (e.g. the k = +-1 branches)
                            if keep.any():
                                xs.append(np.stack([x1[keep], p[keep, 0], p[keep, 1], x4[keep]], -1))
                                lws.append(lw[keep])
                if lws:
                    lw_all = np.concatenate(lws)
                    w = np.exp(lw_all - lw_all.max())
                    cur_ess = w.sum() ** 2 / np.sum(w**2)
                    if cur_ess >= min_ess:
                        break
            if not lws:
                raise ObservationError(f"observations: row {i} ({h:.4g}, {v:.4g}) has no solution in the "
                                       "prior's support")
            out[i], ess[i] = importance_resample(np.concatenate(xs), np.concatenate(lws), n, rng)
            used[i] = total
        return out, {"method": "exact-importance", "ess": ess, "proposals": used, "min_ess": min_ess}
