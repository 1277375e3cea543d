"""The throw's physics (Kruse et al. 2019, Sec. 3.2; docs/protocol.md): linear air drag, closed-form trajectory and
the exact impact time. Used by the problem, its figures and its explorer view."""

from __future__ import annotations

import numpy as np
from scipy.special import lambertw

__all__ = ["G", "K", "M", "impact_time", "trajectory"]

#: gravity, drag coefficient and mass
G, K, M = 9.81, 0.25, 0.2


def trajectory(x, t):
    """Position ``(T1(t), T2(t))`` of the throw ``x`` at times ``t`` (broadcast), closed form."""
    x = np.asarray(x, dtype=float)
    vx = x[..., 3] * np.cos(x[..., 2])
    vy = x[..., 3] * np.sin(x[..., 2])
    decay = np.exp(-K * t / M)
    t1 = x[..., 0] + vx * M / K * (1 - decay)
    t2 = x[..., 1] - M / K**2 * ((G * M + vy * K) * (decay - 1) + G * K * t)
    return t1, t2


def impact_time(x):
    r"""Exact descending root ``t*`` of ``T2(t) = 0`` through the Lambert W function; NaN if none.

    With ``tau = k/m``, ``A = (m/k^2)(g m + v_y k)`` and ``B = g m / k`` the height is
    ``T2(t) = x2 + A (1 - e^{-tau t}) - B t``. Its roots are ``t = a/B + W(z)/tau`` with ``a = x2 + A``
    and ``z = -(A tau / B) e^{-tau a / B}``; the principal branch gives the later (descending) root.
    No real root (``z < -1/e``: a start below ground that never rises above it) or a root in the past
    (``t* < 0``) means the throw never lands: NaN.

    Example:
        >>> import numpy as np
        >>> from innbench.problems.ballistics import impact_time
        >>> t = impact_time(np.array([[0.0, 1.5, np.pi / 4, 15.0], [0.0, -1.0, 0.2, 0.0]]))
        >>> bool(t[0] > 0), bool(np.isnan(t[1]))  # the second starts below ground, without speed
        (True, True)
    """
    x = np.asarray(x, dtype=float)
    vy = x[..., 3] * np.sin(x[..., 2])
    tau = K / M
    A = M / K**2 * (G * M + vy * K)
    B = G * M / K
    a = x[..., 1] + A
    with np.errstate(over="ignore", invalid="ignore"):
        z = -(A * tau / B) * np.exp(-tau * a / B)
        z = np.where(np.isfinite(z), z, -np.inf)
        w = lambertw(np.maximum(z, -1 / np.e), 0).real
        t = a / B + w / tau
    return np.where((z >= -1 / np.e - 1e-15) & (t >= 0) & np.isfinite(t), t, np.nan)
