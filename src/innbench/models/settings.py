"""Typed settings of the models: one frozen dataclass per model class, validated where it is made.

Every way of giving a model its options (``build_model(name, problem, **options)``, ``api.train``, the CLI's
``--set key=value``, a grid's model options, a saved ``config.json``) ends in ``Settings(**options)`` of the
model's class, which checks each field against its type and rules and names the field, the value and what
was expected when one is wrong. A model reads them as ``model.settings.blocks`` (``model.config`` is the
same as a dict, as ``config.json`` stores it).

The rules follow the field's annotation and default:

- ``bool``: ``True`` or ``False`` only (not 1 or 0);
- ``int``: a positive integer, or a non-negative one where the default is 0; the model's width option is
  also at most :data:`innbench.params.MAX_WIDTH`;
- ``float``: a finite number, non-negative where the default is (integers are taken as floats);
- ``str``: a string; ``Literal[...]`` or ``setting(choices=...)``: one of the choices;
- ``X | None``: None or an ``X``;
- ``setting(check=f)``: ``f(value, name)`` on top, for a rule of the model's own (``positive``,
  ``interval(0, 1, "a slope", closed_hi=True)``).

A model class declares ``Settings`` (a subclass of :class:`ModelSettings`, :class:`ConditionalSettings` or
:class:`YSupervisedSettings`) and documents each field in its docstring's ``Args``; a model registered with
only a ``defaults`` dict (a user's model, or a variant of a built-in one) gets a ``Settings`` made from it.

Example:
    >>> from innbench.models import get_model_class
    >>> Settings = get_model_class("cinn").Settings
    >>> s = Settings(blocks=4)
    >>> s.blocks, s.hidden, s.lr_scale
    (4, 128, 2.0)
    >>> try:
    ...     Settings(blocks=0)
    ... except ValueError as err:
    ...     print(err)
    blocks: expected a positive integer, got 0
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

from .. import params as P

__all__ = ["ConditionalSettings", "ModelSettings", "OptionsView", "YSupervisedSettings", "interval", "positive",
           "setting", "settings_from_defaults"]


def setting(default, *, check=None, choices=None):
    """A settings field with a rule beyond its type: ``check(value, name)`` returns the value or raises a
    ``ValueError`` naming ``name``; ``choices`` lists the values allowed."""
    meta = {}
    if check is not None:
        meta["check"] = check
    if choices is not None:
        meta["choices"] = tuple(choices)
    return dataclasses.field(default=default, metadata=meta)


def positive(value, name: str) -> float:
    """A rule for :func:`setting`: a finite number above 0."""
    return P.positive_real(value, name)


def interval(lo: float, hi: float, what: str, closed_hi: bool = False):
    """A rule for :func:`setting`: ``what``, a number in ``(lo, hi)`` (``(lo, hi]`` with ``closed_hi``)."""

    def check(value, name: str):
        if not (lo < value < hi or (closed_hi and value == hi)):
            raise ValueError(f"{name}: expected {what} in ({lo}, {hi}{']' if closed_hi else ')'}, got {value!r}")
        return value

    return check


def _choice(value, choices, name: str):
    if value not in choices or isinstance(value, bool):
        want = " or ".join(map(repr, choices)) if len(choices) <= 2 else "one of " + ", ".join(map(repr, choices))
        raise ValueError(f"{name}: expected {want}, got {value!r}")
    return value


def _check_typed(value, hint, default, name: str, width: bool):
    """``value`` checked against the annotation ``hint`` (see the module's docstring)."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        return _choice(value, typing.get_args(hint), name)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None and len(args) < len(typing.get_args(hint)):
            return None
        (inner,) = args  # X | None: the fields use no other union
        return _check_typed(value, inner, default, name, width)
    if hint is bool:
        return P.check_option(name, value, False)
    if hint is int:
        return P.check_option(name, value, 0 if default == 0 else 1, width=width)
    if hint is float:
        return P.check_option(name, value, -1.0 if isinstance(default, (int, float)) and default < 0 else 0.0)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{name}: expected a string, got {value!r} ({type(value).__name__})")
        return value
    return value  # Any: the model's to check


@dataclass(frozen=True)
class ModelSettings:
    """The options every model has.

    Arguments:
        bounded_transform: ``"logit"`` maps parameters bounded on both sides to the real line, and the
            problem's ``log_columns`` to their logarithms (the default); None switches both off
            (:class:`innbench.models.parts.LogitTransform`).
        lr_scale: a factor on the budget's learning rate, the model's own recipe (1.0).
        seed: seed of the initial weights (0).
    """

    #: the field that sets the network width (a budget's ``params`` scales it; at most ``MAX_WIDTH``)
    width_field: ClassVar[str | None] = None

    bounded_transform: Literal["logit"] | None = "logit"
    lr_scale: float = setting(1.0, check=positive)
    seed: int = 0

    def __post_init__(self):
        hints = _hints(type(self))
        for f in fields(self):
            value = _check_typed(getattr(self, f.name), hints[f.name], f.default, f.name, f.name == self.width_field)
            if "choices" in f.metadata and value not in f.metadata["choices"]:
                raise ValueError(f"{f.name}: unknown name {value!r}; known: {', '.join(f.metadata['choices'])}")
            if "check" in f.metadata and value is not None:
                value = f.metadata["check"](value, f.name)
            object.__setattr__(self, f.name, value)

    @classmethod
    def from_options(cls, options: dict, name: str = "config"):
        """Settings from a dict of options: unknown keys are refused first (naming ``name`` and the known
        ones; a removed option with why it went: :func:`innbench.params.check_known`)."""
        P.check_known(options, [f.name for f in fields(cls)], name)
        return cls(**options)

    @classmethod
    def defaults(cls) -> dict:
        """Every field with its default, in order."""
        return {f.name: f.default for f in fields(cls)}

    def as_dict(self) -> dict:
        """The settings as a plain dict (what ``config.json`` stores)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ConditionalSettings(ModelSettings):
    """The options of every conditional model (besides :class:`ModelSettings`'s).

    Arguments:
        condition_features: add the problem's extra condition features to the standardised y
            (:meth:`innbench.problems.Problem.condition_features`) (True).
        y_noise: standard deviation of the condition's training noise, standardised units (0.01;
            :class:`innbench.models.parts.ConditionNoise`).
        summary: the summary network that embeds y first (:mod:`innbench.models.summary`): "auto" chooses by
            the problem's observation kind (none for a vector); or a ``torch.nn.Module`` of the user's.
        summary_dim: the summary's outputs (None: ``max(8, 2 dim(x))``).
        summary_hidden: the summary network's width (64).
        summary_moments: the set summary also pools the items' mean and covariance (True).
        members: an ensemble of that many models trained from seeds ``seed .. seed + K - 1`` on the same
            simulations (1; :mod:`innbench.models.ensemble`).
    """

    condition_features: bool = True
    y_noise: float = 0.01
    summary: Any = "auto"
    summary_dim: int | None = None
    summary_hidden: int = 64
    summary_moments: bool = True
    members: int = 1


@dataclass(frozen=True)
class YSupervisedSettings(ModelSettings):
    """The options of every model that encodes x as ``[y, z]`` (besides :class:`ModelSettings`'s).

    Arguments:
        transform_observations: the y output predicts the problem's stretched observation coordinate
            (:meth:`innbench.problems.Problem.transform_observations`) instead of raw y (True).
    """

    transform_observations: bool = True


class OptionsView(dict):
    """A read-only dict of a model's settings (``model.config``): it reads, copies, pickles and serialises
    as a dict, and refuses changes (``model.configure`` changes what may change).

    Example:
        >>> from innbench.models.settings import OptionsView
        >>> view = OptionsView({"blocks": 4})
        >>> view["blocks"], dict(view), {**view, "hidden": 8}
        (4, {'blocks': 4}, {'blocks': 4, 'hidden': 8})
        >>> try:
        ...     view["blocks"] = 5
        ... except TypeError as err:
        ...     print(str(err).split(":")[0])
        model.config is read-only
    """

    def _refuse(self, *args, **kwargs):
        raise TypeError("model.config is read-only: build a new model with other options, or change an option "
                        "read when sampling with model.configure(...)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __reduce__(self):
        return (OptionsView, (dict(self),))


_HINTS: dict[type, dict] = {}


def _hints(cls) -> dict:
    if cls not in _HINTS:
        import sys

        module = sys.modules.get(cls.__module__)
        _HINTS[cls] = typing.get_type_hints(cls, globalns={**vars(sys.modules[__name__]),
                                                           **(vars(module) if module else {})})
    return _HINTS[cls]


def settings_from_defaults(base: type[ModelSettings], defaults: dict, name: str,
                           width_field: str | None) -> type[ModelSettings]:
    """A ``Settings`` class for a model that gives a ``defaults`` dict: ``base``'s fields with those defaults,
    and a field for each new key (typed by its default: ``bool``, ``int``, ``float``, ``str``; None: any)."""
    known = {f.name: f for f in fields(base)}
    hints = _hints(base)
    new = []
    for key, value in defaults.items():
        if key in known:
            f = known[key]
            new.append((key, hints[key], dataclasses.field(default=value, metadata=f.metadata)))
        else:
            kind = (bool if isinstance(value, bool) else int if isinstance(value, int)
                    else float if isinstance(value, float) and math.isfinite(value)
                    else str if isinstance(value, str) else Any)
            new.append((key, kind, dataclasses.field(default=value)))
    cls = dataclasses.make_dataclass(name, new, bases=(base,), frozen=True)
    cls.width_field = width_field
    cls.__module__ = base.__module__
    return cls
