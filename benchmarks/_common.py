"""What the benchmark scripts share: the validation seed, ``KEY=VALUE`` options and JSON-lines output.

Imported as ``from _common import ...``: ``python benchmarks/X.py`` puts this directory first on ``sys.path``.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["VALIDATION_SEED", "append_jsonl", "parse_pairs"]

#: Seed of the *validation* observations that settings are tuned on (prior-predictive draws); the
#: benchmark's test observations use :data:`innbench.reference.TEST_SEED`, so nothing is tuned on them.
VALIDATION_SEED = 777


def _value(text: str):
    """A JSON value (``3``, ``1e-3``, ``true``, ``[64, 64]``, ``"relu"``), else a Python number (``10_000``),
    else ``True``/``False``/``None`` spelled the Python way, else the text itself (``relu``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def parse_pairs(items: list[str] | None, option: str) -> dict:
    """``["hidden=64", "activation=relu"]`` as ``{"hidden": 64, "activation": "relu"}``.

    ``option`` names the command-line option in the error, e.g. ``--set: expected KEY=VALUE, got 'hidden'``.
    """
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{option}: expected KEY=VALUE, got {item!r}")
        out[key] = _value(value)
    return out


def append_jsonl(row: dict, path: str | Path | None) -> None:
    """Print ``row`` as one JSON line and append it to the JSON-lines file ``path`` (none: print only)."""
    line = json.dumps(row)
    print(line, flush=True)
    if path is None:
        return
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(line + "\n")
