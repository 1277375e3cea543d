"""A small bounded in-process memo for results that are costly and asked for again within one process.

A grid scores every model of a problem against the same references: their noise floor, C2ST floor and
the MMD self-term of each reference set are then computed once. Each memo holds at most ``maxsize``
entries (least recently used out first) and :func:`clear_all` empties every memo, e.g. between tests.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["Memo", "clear_all"]

_ALL: list[Memo] = []


class Memo:
    """``memo.get(key, compute)``: the value stored for ``key``, computed by ``compute()`` the first time.

    Args:
        maxsize: the most entries kept (the least recently used goes first).

    Example:
        >>> from innbench.memo import Memo
        >>> memo, calls = Memo(2), []
        >>> memo.get("a", lambda: calls.append("a") or 1), memo.get("a", lambda: calls.append("a") or 1)
        (1, 1)
        >>> calls, len(memo)  # computed once
        (['a'], 1)
    """

    def __init__(self, maxsize: int):
        if maxsize < 1:
            raise ValueError(f"maxsize: expected a positive number of entries, got {maxsize!r}")
        self.maxsize = maxsize
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        _ALL.append(self)

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value stored for ``key``; ``compute()``'s value, stored, where there is none."""
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        value = compute()
        self._data[key] = value
        if len(self._data) > self.maxsize:
            self._data.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        """Forget every entry."""
        self._data.clear()


def clear_all() -> None:
    """Empty every memo of the package."""
    for memo in _ALL:
        memo.clear()
