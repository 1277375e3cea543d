"""Outputs that are whole or absent: atomic file and directory writes, and output checks made up front.

Every file innbench writes goes through :func:`atomic_file`: the content is written to a temporary file
in the target's directory and renamed over the target only once it is complete (a rename within one
file system is atomic on POSIX), so an interruption or a full disk leaves the previous file
byte-identical and no temporary file behind. A model directory is replaced as a whole
(:func:`replace_dir`). A write that fails raises :class:`OutputError` naming the argument.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["OutputError", "atomic_file", "check_output_dir", "check_output_file", "replace_dir", "write_json",
           "write_text"]


class OutputError(ValueError):
    """An output file or directory cannot be written; what was there before is unchanged."""


def _reason(exc: OSError) -> str:
    """The reason in words: the system's (``No space left on device``) or the writer's own message."""
    return exc.strerror or str(exc) or type(exc).__name__


def check_output_file(path, name: str) -> Path:
    """Check before any work that file ``path`` can be written: not a directory, its directory exists or
    can be created, and is writable. Returns the path."""
    p = Path(path)
    if str(path) == "" or p.is_dir():
        raise OutputError(f"{name}: {str(p)!r} is a directory; expected a file name")
    parent = p.parent
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{name}: cannot create {str(p)!r}: {str(existing)!r} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{name}: cannot write {str(p)!r}: directory {str(existing)!r} is not writable")
    if p.exists() and not os.access(p, os.W_OK) and not os.access(parent, os.W_OK):
        raise OutputError(f"{name}: {str(p)!r} is not writable")
    return p


def check_output_dir(path, name: str, owned: set[str] | Callable[[str], bool] | None = None) -> Path:
    """Check before any work that directory ``path`` can be created or replaced (nothing is created);
    with ``owned`` (file names, or a test of a name), an existing directory may hold only such files."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{name}: {str(p)!r} exists and is not a directory")
    if owned is not None and p.is_dir():
        ours = owned if callable(owned) else owned.__contains__
        foreign = sorted(e.name for e in p.iterdir() if not ours(e.name))
        if foreign:
            raise OutputError(f"{name}: {str(p)!r} holds files that are not ours to replace ({', '.join(foreign[:5])}"
                              f"{', ...' if len(foreign) > 5 else ''}); choose a new or empty directory")
    existing = p
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{name}: cannot create {str(p)!r}: {str(existing)!r} is a file, not a directory")
    target = existing if existing != p else p.parent
    if not os.access(target, os.W_OK | os.X_OK):
        raise OutputError(f"{name}: cannot write {str(p)!r}: directory {str(target)!r} is not writable")
    return p


@contextlib.contextmanager
def atomic_file(path, name: str) -> Iterator[Path]:
    r"""``with atomic_file(path, "--out") as tmp:`` write ``tmp``; on leaving the block it replaces ``path``.

    On any exception the temporary file is removed and ``path`` is left as it was; an ``OSError`` (full
    disk, permissions) becomes an :class:`OutputError` naming ``name``.

    Example:
        >>> import pathlib, tempfile
        >>> from innbench.atomic import atomic_file
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "table.csv"
        >>> with atomic_file(path, "--out") as tmp:
        ...     _ = tmp.write_text("a,b\n1,2\n")
        >>> path.read_text()
        'a,b\n1,2\n'
    """
    p = check_output_file(path, name)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"{name}: cannot write {str(p)!r} ({_reason(exc)})") from None
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # on disk before the rename, so a crash cannot leave an empty file
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{name}: cannot write {str(p)!r} ({_reason(exc)}); "
                          + ("the previous file is unchanged" if p.exists() else "nothing was written")) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path, text: str, name: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_file(path, name) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path, obj, name: str, **dump_options) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (the text is made before anything is written)."""
    text = json.dumps(obj, **{"indent": 1, "default": float, **dump_options})
    return write_text(path, text, name)


def replace_dir(path, fill: Callable[[Path], None], name: str,
                owned: set[str] | Callable[[str], bool] | None = None) -> Path:
    """Replace directory ``path`` as a whole by one that ``fill(tmp_dir)`` writes.

    ``fill`` writes into a fresh sibling directory; only when it returns is the old directory moved
    aside, the new one renamed into place and the old one deleted. If ``fill`` fails, ``path`` is
    untouched and the temporary directory is removed. With ``owned`` (file names), an existing directory
    holding anything else is refused rather than replaced.
    """
    p = check_output_dir(path, name, owned)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent))
    except OSError as exc:
        raise OutputError(f"{name}: cannot write {str(p)!r} ({_reason(exc)})") from None
    state = "the previous directory is unchanged" if p.exists() else "nothing was written"
    try:
        fill(tmp)
        os.chmod(tmp, 0o755)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"{name}: cannot write {str(p)!r} ({_reason(exc)}); {state}") from None
    except OutputError as exc:  # a file inside failed (named by its temporary path): say what it means for p
        shutil.rmtree(tmp, ignore_errors=True)
        reason = str(exc).split(" (", 1)[1].split(")", 1)[0] if " (" in str(exc) else str(exc)
        raise OutputError(f"{name}: cannot write {str(p)!r} ({reason}); {state}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if p.exists():
        old = p.with_name(f".{p.name}.{os.getpid()}.old")
        os.rename(p, old)
    os.rename(tmp, p)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return p
