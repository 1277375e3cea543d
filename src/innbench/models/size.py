"""Refuse a model that cannot fit in memory before its weights are allocated.

Every size-like option (``hidden``, ``layers``, ``blocks``, ``transforms``, ``components``, ``bins``,
``members``, ``summary_hidden``, a grid's ``params`` target, a ``config.json`` edited by hand) ends in tensors
made by torch's factory functions while the model is built. :func:`size_guard` watches those calls: each
one's size is worked out first on the ``meta`` device (no memory), and the call is refused with a
:class:`ModelSizeError` once the model's tensors, times :data:`TRAINING_COPIES`, would pass 80 % of the
available memory. An ensemble multiplies its first member's size by ``members`` before building the others.
"""

from __future__ import annotations

import contextlib

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["ModelSizeError", "TRAINING_COPIES", "check_members", "size_guard", "size_options", "tensor_bytes"]

#: copies of the weights training holds at once: weights, gradients and Adam's two moment estimates
TRAINING_COPIES = 4

_FACTORIES = {torch.empty, torch.zeros, torch.ones, torch.full, torch.rand, torch.randn, torch.randint,
              torch.eye, torch.arange, torch.linspace, torch.empty_strided}


class ModelSizeError(ValueError):
    """A model whose weights (with training's gradients and optimizer state) cannot fit in memory.

    Example:
        >>> from innbench.models import build_model
        >>> from innbench.models.size import ModelSizeError
        >>> try:
        ...     build_model("mdn", "linear", components=10**9)
        ... except ModelSizeError as err:
        ...     print(str(err).split(":")[0])
        components=1000000000
    """


class _Watch(TorchFunctionMode):
    """Adds up the bytes of the tensors torch's factory functions make, refusing the one that passes ``limit``."""

    def __init__(self, limit: float):
        super().__init__()
        self.limit, self.bytes = limit, 0.0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _FACTORIES:
            try:
                probe = func(*args, **{**kwargs, "device": "meta"})
            except Exception:  # not a size we can tell: let the call itself answer
                probe = None
            if probe is not None:
                self.bytes += probe.numel() * probe.element_size()
                if self.bytes * TRAINING_COPIES > self.limit:
                    raise _TooLarge(self.bytes)
        return func(*args, **kwargs)


class _TooLarge(Exception):
    def __init__(self, n_bytes: float):
        super().__init__(n_bytes)
        self.n_bytes = n_bytes


_active: list[_Watch] = []


def tensor_bytes(module: torch.nn.Module) -> int:
    """Bytes of a module's parameters and buffers.

    Example:
        >>> from torch import nn
        >>> from innbench.models.size import tensor_bytes
        >>> tensor_bytes(nn.Linear(10, 20))  # (10 * 20 + 20) float32 values
        880
    """
    return sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))


def _message(model: str, problem: str, changed: dict, need: float, avail: float) -> str:
    named = ", ".join(f"{k}={v}" for k, v in changed.items())
    return (f"{named + ': ' if named else ''}model {model!r} for problem {problem!r} needs at least "
            f"{need / 1e9:.1f} GB for its weights, gradients and optimizer state, more than 80 % of the "
            f"{avail / 1e9:.1f} GB of memory available: choose smaller sizes")


def size_options(config: dict, defaults: dict) -> dict:
    """The integer options of ``config`` that differ from ``defaults`` (what a size refusal names)."""
    return {k: v for k, v in config.items()
            if isinstance(v, int) and not isinstance(v, bool) and k != "seed" and v != defaults.get(k)}


@contextlib.contextmanager
def size_guard(model: str, problem: str, changed: dict):
    """Build a model inside this block: a tensor that would make it too large for memory raises
    :class:`ModelSizeError` (naming the options in ``changed``) before it is allocated. Nested blocks (an
    ensemble's members) add up into the outermost one. Yields the watch (its ``bytes`` so far).

    Arguments:
        model: the model's name, for the message.
        problem: the problem's name, for the message.
        changed: the size options to name (:func:`size_options`).

    Example:
        >>> from torch import nn
        >>> from innbench.models.size import ModelSizeError, size_guard
        >>> with size_guard("mine", "linear", {}) as watch:
        ...     layer = nn.Linear(10, 20)
        >>> watch.bytes
        880.0
        >>> try:
        ...     with size_guard("mine", "linear", {"hidden": 10**6}):
        ...         nn.Linear(10**6, 10**6)
        ... except ModelSizeError as err:
        ...     print(str(err).split(":")[0])
        hidden=1000000
    """
    from ..runtime import available_memory

    if _active:  # a member of an ensemble: the ensemble's block counts it
        yield _active[-1]
        return
    avail = available_memory()
    watch = _Watch(0.8 * avail if avail else float("inf"))
    _active.append(watch)
    try:
        with watch:
            yield watch
    except _TooLarge as exc:
        raise ModelSizeError(_message(model, problem, changed, exc.n_bytes * TRAINING_COPIES, avail)) from None
    finally:
        _active.pop()


def check_members(watch, first: torch.nn.Module, k: int, model: str, problem: str, changed: dict) -> None:
    """Refuse an ensemble of ``k`` members of the size of ``first`` that cannot fit (before the others are built)."""
    need = tensor_bytes(first) * k * TRAINING_COPIES
    if need > watch.limit:
        from ..runtime import available_memory

        raise ModelSizeError(_message(model, problem, changed, need, available_memory() or 0))
