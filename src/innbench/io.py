"""Reading and writing observation and sample files (``.npy``, ``.csv``/``.txt`` or inline values)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .problems import ObservationError

__all__ = ["read_array", "read_observations", "read_parameters", "save_array"]


def read_observations(spec, problem, name: str = "--observations") -> np.ndarray:
    """Observations from a ``.npy`` file, a CSV/whitespace text file, or inline ``"1.5,0;1.2,-0.3"``.

    For a problem observed as a series or set (:attr:`innbench.problems.Problem.observation_kind`) also:
    a ``.npy`` array ``(m, length, channels)``; a ``.npz`` file with one ``(length_i, channels)`` array per
    observation (in the order of their names as saved, ``arr_0, arr_1, ...``); text or inline rows of one
    observation each, step-major (``step1_channel1, step1_channel2, step2_channel1, ...``), which may be
    shorter than the longest series for observations of varying length (padded with NaN; ``nan`` entries
    work too).

    Returns a validated array of shape ``(m, y_dim)``.

    Args:
        spec: a file path, inline numbers, or an array.
        problem: the :class:`innbench.problems.Problem` the observations belong to.
        name: what error messages call them (the CLI's option).

    Example:
        >>> from innbench import get_problem
        >>> from innbench.io import read_observations
        >>> read_observations("1.5,0;1.2,-0.3", get_problem("kinematics"))
        array([[ 1.5,  0. ],
               [ 1.2, -0.3]])
    """
    if problem.structured:
        arr = _read_structured(spec, problem, name)
        if arr is not None:
            return problem.validate_observations(arr, name)
    return problem.validate_observations(read_array(spec, name), name)


def _read_structured(spec, problem, name: str):
    """Series or sets stored one observation per entry (``.npz`` arrays, text rows shorter than ``y_dim``,
    of equal length or not) as padded rows (:meth:`~innbench.problems.Problem.pad_observations`, which
    refuses any other shape); None for formats :func:`read_array` reads as they are (flat rows of ``y_dim``
    values, one observation as rows of ``channels`` values, ``.npy``)."""
    channels = problem.observation_shape[1]
    path = Path(str(spec)) if not isinstance(spec, np.ndarray) else None
    if path is not None and path.suffix.lower() == ".npz":
        if not os.path.isfile(path):
            raise ObservationError(f"{name}: file {str(spec)!r} does not exist")
        try:
            with np.load(path, allow_pickle=False) as f:
                keys = sorted(f.files, key=lambda k: (len(k), k))  # arr_2 before arr_10
                series = [np.asarray(f[k], dtype=float) for k in keys]
        except Exception as exc:
            raise ObservationError(f"{name}: could not read {str(spec)!r} as .npz arrays "
                                   f"({type(exc).__name__}: {exc})") from None
        return problem.pad_observations(series, name)  # (length_i, channels) or flat; never reshaped
    if path is None or path.suffix.lower() == ".npy":
        return None
    if os.path.exists(path):
        if os.path.isdir(path):
            return None
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError):
            return None
        lines = [ln.split("#")[0] for ln in text.splitlines()]
    else:
        lines = str(spec).split(";")
    try:
        rows = [[float(v) for v in ln.replace(",", " ").split()] for ln in lines if ln.strip()]
    except ValueError:
        return None  # read_array says what is wrong
    if not rows or all(len(r) == problem.y_dim for r in rows) or all(len(r) == channels for r in rows):
        return None
    bad = [i for i, r in enumerate(rows) if len(r) % channels]
    if bad:
        raise ObservationError(f"{name}: row {bad[0]} has {len(rows[bad[0]])} values, not a multiple of the "
                               f"{channels} channels of problem {problem.name!r}'s steps")
    return problem.pad_observations([np.asarray(r) for r in rows], name)


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
    """An array from a ``.npy`` file, a CSV/whitespace text file or inline numbers (rows split by ``;``).

    Example:
        >>> from innbench.io import read_array
        >>> read_array("1 2; 3 4", "--values").tolist()
        [[1.0, 2.0], [3.0, 4.0]]
    """
    if isinstance(spec, np.ndarray):
        arr = spec
    else:
        spec = str(spec)
        if not spec.strip():
            raise ObservationError(f"{name}: empty; expected a file (.npy, .csv, .txt) or inline numbers like "
                                   "'1.5,0;1.2,-0.3'")
        path = Path(spec)
        if os.path.isdir(path):
            raise ObservationError(f"{name}: {spec!r} is a directory; expected a file or inline numbers")
        if path.suffix.lower() == ".npy" or os.path.exists(path):
            if not os.path.exists(path):
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
    """Save ``arr`` atomically as ``.npy`` (or ``.csv`` for 2-D arrays when the suffix says so).

    Example:
        >>> import numpy as np, tempfile
        >>> from innbench.io import read_array, save_array
        >>> path = save_array(tempfile.mkdtemp() + "/samples.npy", np.zeros((2, 5, 4)))
        >>> read_array(str(path), "--samples").shape
        (2, 5, 4)
    """
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
