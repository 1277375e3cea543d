"""Summary networks: learned embeddings of observations that are time series or sets, trained end to end
with a conditional model (the BayesFlow / sbi "embedding net")."""

from __future__ import annotations

import math

import torch
from torch import nn

#: Every built-in summary ends in a layer norm without learned scale: the model reads a condition of
#: fixed scale, as it reads a standardised vector. Without it, on a noisy line observed at 30 steps
#: (MDN, 2,000 simulations, 40 epochs; tests/test_structured.py's problem), the MLP summary's validation loss jumped
#: between epochs and ended at -0.35 (no summary: -1.81); with it, -1.68.
__all__ = ["SUMMARY_KINDS", "MLPSummary", "SeriesSummary", "SetSummary", "build_summary", "summary_input"]

#: the built-in summary networks by name ("auto" picks by the problem's observation kind)
SUMMARY_KINDS = ("auto", "none", "mlp", "series", "set")


def _mlp(n_in: int, n_out: int, hidden: int) -> nn.Sequential:
    """Two hidden GELU layers with PyTorch's default initialisation (unlike the coupling blocks' subnets,
    whose last layer starts at zero, a summary must pass a signal from the first step)."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                         nn.Linear(hidden, n_out))


def summary_input(y: torch.Tensor):
    """``(values, mask)`` of standardised structured observations ``y (m, L, C)``: padded steps or items
    (NaN) set to 0 and ``mask (m, L)`` true where a step or item is present.

    Example:
        >>> import torch
        >>> from innbench.models.summary import summary_input
        >>> values, mask = summary_input(torch.tensor([[[1.0], [2.0], [float("nan")]]]))
        >>> values[0, :, 0].tolist(), mask.tolist()
        ([1.0, 2.0, 0.0], [[True, True, False]])
    """
    mask = torch.isfinite(y).all(-1)
    return torch.where(mask[..., None], y, torch.zeros_like(y)), mask


class MLPSummary(nn.Module):
    """A feed-forward network on the flattened observation (padded entries 0, plus the mask).

    Args:
        length, channels: the observation's shape ``(L, C)`` (``(y_dim, 1)`` for a vector).
        out_dim: size of the summary.
        hidden: width of its two hidden layers.

    Example:
        >>> import torch
        >>> from innbench.models.summary import MLPSummary
        >>> MLPSummary(length=30, channels=1, out_dim=8)(torch.zeros(4, 30, 1)).shape
        torch.Size([4, 8])
    """

    def __init__(self, length: int, channels: int, out_dim: int, hidden: int = 64):
        super().__init__()
        self.out_dim = out_dim
        self.net = _mlp(length * channels + length, out_dim, hidden)
        self.norm = nn.LayerNorm(out_dim, elementwise_affine=False)

    def forward(self, y):
        v, mask = summary_input(y)
        return self.norm(self.net(torch.cat([v.flatten(1), mask.to(v.dtype)], -1)))


class SeriesSummary(nn.Module):
    """A time series ``(m, T, C)`` (trailing steps NaN where shorter than ``T``) to a summary ``(m, out_dim)``.

    Two 1-D convolutions (kernel 5, GELU) over time read local shape (the input carries the mask as one
    more channel; absent steps are zeros), a GRU reads their output in order, and a linear layer maps its
    state at each series' own last step, the mean of the convolutional features over the steps present
    and ``log(length / T)`` to the summary: the convolutional-recurrent summary network of BayesFlow's
    epidemic model (Radev et al. 2021). The GRU runs over the whole padded batch and its output is read at
    each series' last step, which equals running it on that series alone (it is causal), without the
    cost of packed sequences.

    Args:
        length, channels: the longest series ``T`` and its channels ``C``.
        out_dim: size of the summary.
        hidden: channels of the convolutions and size of the GRU state.
        stride: of each convolution; None: 2 for series of 32 steps or more (the GRU then reads ``T / 4``
            steps: on the 80-day epidemic, a training step of batch 256 took 410 ms with packed sequences
            at stride 1, 45 ms so; both timed beside a running grid), else 1.

    Example:
        >>> import torch
        >>> from innbench.models.summary import SeriesSummary
        >>> series = torch.randn(3, 80, 2)
        >>> series[0, 50:] = float("nan")  # a shorter series, padded at the end
        >>> SeriesSummary(length=80, channels=2, out_dim=10)(series).shape
        torch.Size([3, 10])
    """

    def __init__(self, length: int, channels: int, out_dim: int, hidden: int = 64, stride: int | None = None):
        super().__init__()
        self.out_dim, self.length = out_dim, length
        self.stride = stride if stride is not None else (2 if length >= 32 else 1)
        self.conv = nn.Sequential(nn.Conv1d(channels + 1, hidden, 5, stride=self.stride, padding=2), nn.GELU(),
                                  nn.Conv1d(hidden, hidden, 5, stride=self.stride, padding=2), nn.GELU())
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.head = nn.Linear(2 * hidden + 1, out_dim)
        self.norm = nn.LayerNorm(out_dim, elementwise_affine=False)

    def forward(self, y):
        v, mask = summary_input(y)
        m = mask.to(v.dtype)
        lengths = mask.sum(1).clamp(min=1)
        h = self.conv(torch.cat([v, m[..., None]], -1).transpose(1, 2)).transpose(1, 2)
        # steps of the (downsampled) features that read the series' own steps: ceil(length / stride^2)
        reach = -(-lengths // self.stride**2)
        present = (torch.arange(h.shape[1], device=h.device) < reach[:, None]).to(v.dtype)
        h = h * present[..., None]
        out, _ = self.gru(h)
        last = out[torch.arange(len(out), device=out.device), reach - 1]
        frac = torch.log(lengths.to(v.dtype) / self.length)[:, None]
        pooled = h.sum(1) / reach[:, None].to(v.dtype)
        return self.norm(self.head(torch.cat([last, pooled, frac], -1)))


def set_moments(v: torch.Tensor, mask: torch.Tensor):
    """``(mean (m, C), covariance (m, C, C), count (m, 1))`` of the items present in sets ``v (m, n_max, C)``
    (``mask (m, n_max)`` true where an item is present; see :func:`summary_input`)."""
    m = mask.to(v.dtype)[..., None]
    count = m.sum(1).clamp(min=1)
    mean = (v * m).sum(1) / count
    dev = (v - mean[:, None]) * m
    return mean, dev.transpose(1, 2) @ dev / count[..., None], count


class SetSummary(nn.Module):
    r"""An exchangeable set of items ``(m, n_max, C)`` (missing items NaN) to a summary ``(m, out_dim)``.

    A DeepSet (Zaheer et al. 2017): ``rho(mean_i phi(item_i), log n / log n_max, moments)``, with ``phi``
    and ``rho`` two-hidden-layer networks. The mean over the items present makes the summary invariant to
    their order and defined for any set size; the size itself is one more input, since a posterior narrows
    with ``n``. ``moments`` adds the items' mean and covariance (lower triangle; items standardised): for
    items from an exponential family with quadratic sufficient statistics, such as a Gaussian, these and
    ``n`` are all the posterior depends on, which a learned ``phi`` only approximates.

    The moment features are on by default (the ``summary_moments`` option of conditional models):
    docs/journal/recipes_in_code.md#setsummary.

    Args:
        length, channels: the largest set ``n_max`` and the size ``C`` of one item.
        out_dim: size of the summary.
        hidden: width of ``phi`` and ``rho``.
        moments: also pool the mean and covariance of the items.

    Example:
        >>> import torch
        >>> from innbench.models.summary import SetSummary
        >>> summary = SetSummary(length=100, channels=2, out_dim=10, moments=True)
        >>> items = torch.randn(1, 100, 2)
        >>> shuffled = items[:, torch.randperm(100)]
        >>> torch.allclose(summary(items), summary(shuffled), atol=1e-5)  # the order of the items carries nothing
        True
    """

    def __init__(self, length: int, channels: int, out_dim: int, hidden: int = 64, moments: bool = False):
        super().__init__()
        self.out_dim, self.length, self.moments = out_dim, length, bool(moments)
        self.phi = _mlp(channels, hidden, hidden)
        rows, cols = torch.tril_indices(channels, channels)
        self.register_buffer("_tril", torch.stack([rows, cols]), persistent=False)
        n_moments = channels + len(rows) if self.moments else 0
        self.rho = _mlp(hidden + 1 + n_moments, out_dim, hidden)
        self.norm = nn.LayerNorm(out_dim, elementwise_affine=False)

    def forward(self, y):
        v, mask = summary_input(y)
        m = mask.to(v.dtype)[..., None]
        count = m.sum(1).clamp(min=1)
        pooled = (self.phi(v) * m).sum(1) / count
        size = torch.log(count) / math.log(max(self.length, 2))
        parts = [pooled, size]
        if self.moments:
            mean, cov, _ = set_moments(v, mask)
            parts += [mean, cov[:, self._tril[0], self._tril[1]]]
        return self.norm(self.rho(torch.cat(parts, -1)))


def build_summary(problem, kind: str, out_dim: int | None, hidden: int, moments: bool = True):
    """The summary network ``kind`` (one of :data:`SUMMARY_KINDS`) for ``problem``'s observations, or None
    for none (the model reads the observation vector itself). ``out_dim`` None: ``max(8, 2 dim(x))``;
    ``moments``: the set summary's moment features (:class:`SetSummary`).

    Conditional models call it with their ``summary``, ``summary_dim``, ``summary_hidden`` and
    ``summary_moments`` options.

    Args:
        problem: the :class:`innbench.problems.Problem` whose observations it reads.
        kind: one of :data:`SUMMARY_KINDS` (``"auto"``: by the problem's observation kind).
        out_dim: size of the summary (None: ``max(8, 2 dim(x))``).
        hidden: width of the summary network.
        moments: the set summary's moment features.

    Example:
        >>> from innbench import get_problem
        >>> from innbench.models import build_model
        >>> from innbench.models.summary import build_summary
        >>> type(build_summary(get_problem("epidemic"), "auto", None, 64)).__name__
        'SeriesSummary'
        >>> build_summary(get_problem("kinematics"), "auto", None, 64) is None  # a vector is read as it is
        True
        >>> type(build_model("cinn", "gaussian_set").summary_net).__name__
        'SetSummary'
    """
    if kind not in SUMMARY_KINDS:
        raise ValueError(f"summary: expected one of {', '.join(SUMMARY_KINDS)} or a torch.nn.Module, got {kind!r}")
    obs = problem.observation_kind
    if kind == "auto":
        kind = {"vector": "none", "series": "series", "set": "set"}[obs]
    if kind == "none":
        if problem.variable_length:
            raise ValueError(f"summary: problem {problem.name!r} has observations of varying length; a model cannot "
                             "read them without a summary network (use 'auto', 'series', 'set' or 'mlp')")
        return None
    if kind in ("series", "set") and obs != kind:
        raise ValueError(f"summary: {kind!r} reads {kind} observations; problem {problem.name!r} observes a {obs}")
    length, channels = problem.observation_shape if obs != "vector" else (problem.y_dim, 1)
    out = int(out_dim) if out_dim is not None else max(8, 2 * problem.x_dim)
    if kind == "set":
        return SetSummary(length, channels, out, hidden, moments=moments)
    cls = {"mlp": MLPSummary, "series": SeriesSummary}[kind]
    return cls(length, channels, out, hidden)


def summary_for(problem, settings, custom=None):
    """The summary network of a conditional model's ``settings`` on ``problem`` (None: the model reads y
    itself): ``custom``, a ``torch.nn.Module`` of the user's (its ``out_dim`` found from one zero
    observation where it has none), or :func:`build_summary` of the ``summary``, ``summary_dim``,
    ``summary_hidden`` and ``summary_moments`` settings. A model saved with a custom summary needs an
    instance of it again.
    """
    if isinstance(custom, nn.Module):
        out = getattr(custom, "out_dim", None)
        if out is None:  # infer it from one zero observation in the problem's shape
            shape = problem.observation_shape or (problem.y_dim,)
            with torch.no_grad():
                out = custom(torch.zeros(2, *shape)).shape[-1]
        custom.out_dim = int(out)
        return custom
    kind = settings.summary
    if isinstance(kind, str) and kind.startswith("custom:"):
        raise ValueError(f"summary: this model was built with a custom summary network ({kind[7:]}); pass an "
                         "instance of it again (load_model(path, summary=...))")
    return build_summary(problem, kind, settings.summary_dim, settings.summary_hidden, moments=settings.summary_moments)
