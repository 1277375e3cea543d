"""Reading and writing observation and sample files (``.npy``, ``.csv``/``.txt`` or inline values)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .problems import ObservationError

__all__ = ["read_array", "read_observations", "read_parameters", "save_array"]


def read_observations(spec, problem, name: str = "--observations") -> np.ndarray:
    """Observations from a ``.npy`` file, a CSV/whitespace text file, or inline ``"1.5,0;1.2,-0.3"``.

    Returns a validated array of shape ``(m, y_dim)``.
    """
    return problem.validate_observations(read_array(spec, name), name)


def read_parameters(spec, problem, n: int, name: str = "--true-parameters") -> np.ndarray:
    """Parameters ``x``, one row per observation, in any format :func:`read_observations` reads: an array
    of shape ``(n, x_dim)`` with finite values."""
    arr = np.asarray(read_array(spec, name), dtype=float)
    if arr.ndim == 1 and problem.x_dim == 1:
        arr = arr[:, None]
    if arr.shape != (n, problem.x_dim):
        raise ObservationError(f"{name}: expected shape ({n}, {problem.x_dim}) (one row of {problem.x_dim} "
                               f"parameters per observation), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ObservationError(f"{name}: expected finite values, got NaN or infinity")
    return arr


def read_array(spec, name: str) -> np.ndarray:
    """An array from a ``.npy`` file, a CSV/whitespace text file or inline numbers (rows split by ``;``)."""
    if isinstance(spec, np.ndarray):
        arr = spec
    else:
        spec = str(spec)
        if not spec.strip():
            raise ObservationError(f"{name}: empty; expected a file (.npy, .csv, .txt) or inline numbers like "
                                   "'1.5,0;1.2,-0.3'")
        path = Path(spec)
        if path.is_dir():
            raise ObservationError(f"{name}: {spec!r} is a directory; expected a file or inline numbers")
        if path.suffix.lower() == ".npy" or path.exists():
            if not path.exists():
                raise ObservationError(f"{name}: file {spec!r} does not exist")
            try:
                if path.suffix.lower() == ".npy":
                    arr = np.load(path, allow_pickle=False)
                else:
                    text = path.read_text()
                    delim = "," if "," in text else None
                    arr = np.loadtxt(path, delimiter=delim, ndmin=2, comments="#")
            except Exception as exc:
                raise ObservationError(f"{name}: could not read {spec!r} as an array "
                                       f"({type(exc).__name__}: {exc})") from None
        else:
            try:
                rows = [[float(v) for v in row.replace(",", " ").split()] for row in spec.split(";") if row.strip()]
                arr = np.array(rows, dtype=float)
            except ValueError:
                raise ObservationError(
                    f"{name}: {spec!r} is neither an existing file nor inline numbers like '1.5,0;1.2,-0.3'"
                ) from None
    return arr


def check_array_output(path, ndim: int, name: str = "--out") -> Path:
    """Check before any work that an array of ``ndim`` dimensions can be written to ``path``."""
    from .atomic import check_output_file

    p = check_output_file(path, name)
    if p.suffix.lower() == ".csv" and ndim != 2:
        raise ValueError(f"{name}: CSV output needs a 2-D array, got {ndim} dimensions; use .npy")
    return p


def save_array(path, arr: np.ndarray, name: str = "--out") -> Path:
    """Save ``arr`` atomically as ``.npy`` (or ``.csv`` for 2-D arrays when the suffix says so)."""
    from .atomic import atomic_file

    path = check_array_output(path, arr.ndim, name)
    with atomic_file(path, name) as tmp:
        write_array(tmp, arr, path.suffix)
    return path


def write_array(path, arr: np.ndarray, suffix: str) -> None:
    """Write ``arr`` to ``path`` (not atomically) as CSV if ``suffix`` is ``.csv``, else as ``.npy``."""
    if suffix.lower() == ".csv":
        np.savetxt(path, arr, delimiter=",")
    else:
        with open(path, "wb") as f:
            np.save(f, arr)
