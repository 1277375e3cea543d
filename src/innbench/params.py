"""Typed, range-checked parameters at the boundary (CLI, API, TOML, ``config.json``).

Each check returns the value (normalised: numpy integers become ``int``) or raises a ``ValueError`` that
names the argument, what was expected and what arrived, before any expensive work. Booleans are not
accepted as numbers (``True`` is an ``int`` to Python, not a count to a user).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

__all__ = ["REMOVED_OPTIONS", "check_known", "check_option", "count", "fraction", "nonnegative_count",
           "nonnegative_real", "positive_real", "real"]


#: Options that innbench had and removed, with why and since when: a configuration naming one is refused with
#: this reason instead of a bare "unknown" (``check_known``), and ``load_model`` reads a model directory that
#: saved one at its old default (see CHANGELOG.md).
REMOVED_OPTIONS = {
    "conditional_affine": (False, "removed in innbench 0.3.0: the cINN's location-and-scale layer changed "
                                  "nothing beyond run-to-run spread on the epidemic and the set problem "
                                  "(docs/journal/recipes_in_code.md#cinn)"),
    "ensemble": (1, "replaced in innbench 0.3.0 by members=K, which builds K models from seeds seed .. seed + K - 1 "
                    "(for nle: K likelihood flows, their likelihoods mixed under one MCMC; innbench.models.ensemble)"),
    "weight_average": (None, "removed in innbench 0.3.0: weight averaging gave a worse held-out loss on the "
                             "epidemic than the weights as trained (docs/journal/recipes_in_code.md#simulationbudget)"),
}


def check_known(given, known, name: str, what: str = "options") -> None:
    """Refuse keys of ``given`` that are not in ``known``: a ``ValueError`` naming ``name`` and the unknown
    keys with the known ones, or, for an option innbench removed, the key and why it went.

    Example:
        >>> from innbench.params import check_known
        >>> try:
        ...     check_known({"weight_average": 0.99}, ["lr", "patience"], "simulation_budget", "keys")
        ... except ValueError as err:
        ...     print(str(err)[:47])
        weight_average: removed in innbench 0.3.0: weig
    """
    unknown = set(given) - set(known)
    for key in sorted(unknown):
        if key in REMOVED_OPTIONS:
            raise ValueError(f"{key}: {REMOVED_OPTIONS[key][1]}")
    if unknown:
        raise ValueError(f"{name}: unknown {what} {sorted(unknown)}; known: {sorted(known)}")


def _got(value) -> str:
    return f"{value!r} ({type(value).__name__})" if not isinstance(value, (int, float)) else repr(value)


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def count(value, name: str, maximum: int | None = None) -> int:
    """A positive integer (at most ``maximum``), or a ``ValueError`` that names ``name`` and what arrived.

    Example:
        >>> from innbench.params import count
        >>> count(3, "n")
        3
        >>> try:
        ...     count(0.5, "n")
        ... except ValueError as err:
        ...     print(err)
        n: expected a positive integer, got 0.5
    """
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {_got(value)}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}: expected at most {maximum:,}, got {value:,}")
    return int(value)


def nonnegative_count(value, name: str) -> int:
    """An integer >= 0."""
    if not _is_int(value) or value < 0:
        raise ValueError(f"{name}: expected an integer >= 0, got {_got(value)}")
    return int(value)


def real(value, name: str) -> float:
    """A finite real number."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {_got(value)}")
    return float(value)


def positive_real(value, name: str) -> float:
    """A finite number > 0."""
    if real(value, name) <= 0:
        raise ValueError(f"{name}: expected a number > 0, got {value!r}")
    return float(value)


def nonnegative_real(value, name: str) -> float:
    """A finite number >= 0."""
    if real(value, name) < 0:
        raise ValueError(f"{name}: expected a number >= 0, got {value!r}")
    return float(value)


def fraction(value, name: str, upper_open: bool = False) -> float:
    """A number in [0, 1] (or [0, 1) with ``upper_open``).

    Example:
        >>> from innbench.params import fraction
        >>> fraction(0.1, "validation_fraction")
        0.1
        >>> try:
        ...     fraction(1, "warmup", upper_open=True)
        ... except ValueError as err:
        ...     print(err)
        warmup: expected a number in [0, 1), got 1
    """
    v = real(value, name)
    if v < 0 or v > 1 or (upper_open and v == 1):
        raise ValueError(f"{name}: expected a number in [0, 1{')' if upper_open else ']'}, got {value!r}")
    return v


#: widths beyond this allocate gigabytes per layer; no model here needs more
MAX_WIDTH = 1 << 16


def check_option(key: str, value, default, width: bool = False):
    """A model option checked against the type of its default: a bool for a bool, an integer for an
    integer (positive where the default is; at most :data:`MAX_WIDTH` for the width option), a finite
    number for a float (non-negative where the default is), a string (or None) for a string. Options
    whose default is ``None`` are the model's to check.

    Example:
        >>> from innbench.params import check_option
        >>> check_option("blocks", 6, 10), check_option("y_noise", 0, 0.01)
        (6, 0.0)
        >>> try:
        ...     check_option("condition_features", 1, True)
        ... except ValueError as err:
        ...     print(err)
        condition_features: expected true or false, got 1
    """
    if default is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{key}: expected true or false, got {_got(value)}")
        return value
    if isinstance(default, Integral):
        if default > 0:
            return count(value, key, MAX_WIDTH if width else None)
        return nonnegative_count(value, key)
    if isinstance(default, float):
        return nonnegative_real(value, key) if default >= 0 else real(value, key)
    if isinstance(default, str):  # a choice the model checks; None switches some off (bounded_transform)
        if not isinstance(value, str) and value is not None:
            raise ValueError(f"{key}: expected a string, got {_got(value)}")
        return value
    return value
