"""The SQLite results database: one row per run, one tidy row per run and test observation.

Tables:

``runs``
    One row per cell (problem x model variant x seed of a grid): status (``running``, ``done``,
    ``failed``), the full grid config, package versions, parameter count, dim(z), the model's facts,
    training and inference time, the noise floor, hardware, who ran it and when.
``observations``
    One row per run and test observation: problem, model, label, seed, observation index, the observation.
``metric_values``
    The long format: one row per run, observation and metric value (``name``: a value of a registered
    metric, :mod:`innbench.metrics`; ``value`` a number, or ``data`` JSON for a vector such as the SBC ranks).
    A metric registered later is stored with no change here.
``results`` (a view)
    The wide form of the built-in metrics, one row per run and observation, as schema version 1 stored it:
    Err_post, Err_resim (distance and squared), the fraction of invalid and out-of-support samples, SBC
    ranks (JSON list, one per parameter), the C2ST accuracy and its floor, Err_resim of the unrounded samples.
``samples``
    Posterior samples of the showcase observations (the report's posterior figures), per run;
    ``references`` holds the reference samples of the same observations, per problem.

Schema version 1 (innbench 0.2.0) stored ``results`` as a wide table. ``bench`` on such a file converts it in
one transaction (every value kept, the table replaced by ``observations`` and ``metric_values`` and the view);
``report`` and the explorer read it as it is, never writing it (the long format then comes from temporary views).

Safety: the database runs in WAL mode with a busy timeout, and a cell's rows are written in one
transaction together with its ``done`` status, so a killed run leaves either a finished cell or none.
A process claims a cell before working on it; other processes skip cells claimed by a live process,
and a claim whose process has died (same host) is taken over on the next run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["ResultsDB", "array_from_blob", "blob_from_array"]

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    cell_key TEXT UNIQUE NOT NULL,
    grid TEXT NOT NULL,
    problem TEXT NOT NULL,
    model TEXT NOT NULL,
    label TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    host TEXT, pid INTEGER,
    started_at REAL, finished_at REAL,
    config TEXT,
    innbench_version TEXT, torch_version TEXT,
    n_parameters INTEGER, dim_z INTEGER, facts TEXT, title TEXT,
    train_seconds REAL, inference_ms REAL, sampling_seconds REAL,
    noise_floor REAL, final_loss REAL,
    hardware TEXT, error TEXT
);
CREATE TABLE IF NOT EXISTS observations (
    run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    problem TEXT NOT NULL, model TEXT NOT NULL, label TEXT NOT NULL, seed INTEGER NOT NULL,
    obs_index INTEGER NOT NULL,
    y TEXT NOT NULL,
    PRIMARY KEY (run_id, obs_index)
);
CREATE TABLE IF NOT EXISTS metric_values (
    run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    obs_index INTEGER NOT NULL,
    name TEXT NOT NULL,
    value REAL, data TEXT,
    PRIMARY KEY (run_id, obs_index, name)
);
CREATE TABLE IF NOT EXISTS samples (
    run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    name TEXT NOT NULL, y TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS references_ (
    problem TEXT NOT NULL, name TEXT NOT NULL, y TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (problem, name)
);
CREATE TABLE IF NOT EXISTS calibration (
    run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    obs_index INTEGER NOT NULL, sbc_ranks TEXT NOT NULL, sbc_draws INTEGER NOT NULL,
    PRIMARY KEY (run_id, obs_index)
);
CREATE INDEX IF NOT EXISTS observations_by_label ON observations (problem, label);
"""

#: the wide columns of schema version 1's ``results`` table, after the observation's: (name, how stored)
WIDE_COLUMNS = (("err_post", "value"), ("err_resim", "value"), ("err_resim_sq", "value"),
                ("invalid_fraction", "value"), ("outside_support_fraction", "value"), ("sbc_ranks", "data"),
                ("sbc_draws", "integer"), ("c2st", "value"), ("c2st_reference", "value"),
                ("err_resim_continuous", "value"))

_OBSERVATION_COLUMNS = "run_id, problem, model, label, seed, obs_index, y"


def _pivot(name: str, how: str) -> str:
    column = "data" if how == "data" else "value"
    expr = f"MAX(CASE WHEN v.name = '{name}' THEN v.{column} END)"
    return f"CAST({expr} AS INTEGER) AS {name}" if how == "integer" else f"{expr} AS {name}"


#: the wide view of the built-in metrics over the long format (schema version 2)
RESULTS_VIEW = (
    "CREATE {temp}VIEW IF NOT EXISTS results AS SELECT "
    + ", ".join(f"o.{c.strip()}" for c in _OBSERVATION_COLUMNS.split(","))
    + ", " + ", ".join(_pivot(n, how) for n, how in WIDE_COLUMNS)
    + " FROM observations o LEFT JOIN metric_values v ON v.run_id = o.run_id AND v.obs_index = o.obs_index"
    " GROUP BY o.run_id, o.obs_index")


def _unpivot_sql(source: str) -> str:
    """SELECT of the long format's rows ``(run_id, obs_index, name, value, data)`` from a version 1 wide table."""
    parts = []
    for name, how in WIDE_COLUMNS:
        value, data = ("NULL", name) if how == "data" else (name, "NULL")
        parts.append(f"SELECT run_id, obs_index, '{name}', {value}, {data} FROM {source} WHERE {name} IS NOT NULL"
                     + (f" AND {name} != 'null'" if how == "data" else ""))
    return " UNION ALL ".join(parts)


def blob_from_array(a: np.ndarray) -> bytes:
    """An array as the bytes of a ``.npy`` file (float32), as the ``samples`` tables store it.

    Example:
        >>> import numpy as np
        >>> from innbench.benchmark.db import array_from_blob, blob_from_array
        >>> array_from_blob(blob_from_array(np.eye(2)))
        array([[1., 0.],
               [0., 1.]], dtype=float32)
    """
    buf = io.BytesIO()
    np.save(buf, np.asarray(a, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


def array_from_blob(b: bytes) -> np.ndarray:
    """The array stored by :func:`blob_from_array` (no pickles are read)."""
    return np.load(io.BytesIO(b), allow_pickle=False)


def _encoded(v) -> tuple:
    """A metric value as ``(value, data)`` columns: a number in ``value`` (NaN reads back as NULL), a vector as
    JSON in ``data``."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return None, json.dumps(np.asarray(v).tolist())
    return float(v), None


def _sqlite_message(path, exc: sqlite3.OperationalError, verb: str = "write") -> str:
    """What an SQLite failure means for a user, naming the database."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        why = ("another process holds it locked (a stuck `innbench bench`, or a program with an open write "
               "transaction)")
    elif "full" in text:
        why = "the disk that holds it is full"
    else:
        why = text
    return (f"db: cannot {verb} {str(path)!r}: {why} ({text}); the cells finished before are kept, and the same "
            "command continues where this one stopped")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ResultsDB:
    """A results database at ``path`` (created if missing). Safe for several processes at once.

    The benchmark runner (:func:`innbench.benchmark.run_grid`) writes it and the report reads it; the
    tables are described in the module's docstring. Use it as a context manager (it closes the connection).
    A file that is not an innbench results database is refused, never modified.

    Args:
        path: the SQLite file.
        create: create the file and its tables if missing (False: open an existing database read-only,
            e.g. for a report, which never changes the file).

    Example:
        >>> import tempfile
        >>> from innbench.benchmark import ResultsDB, run_grid
        >>> from innbench.benchmark import GridConfig
        >>> grid = GridConfig(name="doc", problems=["linear"], seeds=[0],
        ...                   models=[{"model": "rejection_abc", "label": "abc", "options": {"simulations": 2000}}],
        ...                   preset="tiny", observations=3, samples=200, timing_observations=0,
        ...                   c2st_observations=0, noise_floor_observations=0)
        >>> path = tempfile.mkdtemp() + "/results.db"
        >>> run_grid(grid, path, progress=False, log=lambda *a: None)["done"]
        1
        >>> with ResultsDB(path, create=False) as db:
        ...     grids, run = db.grids(), db.runs("doc")[0]
        ...     rows = db.results([run["run_id"]])
        >>> grids, run["label"], run["status"], len(rows), sorted(rows[0])[5:8]
        (['doc'], 'abc', 'done', 3, ['err_resim_sq', 'invalid_fraction', 'label'])
    """

    #: seconds a write waits for another process's lock before giving up (SQLite's busy timeout)
    busy_timeout: float = 120.0

    def __init__(self, path, create: bool = True):
        self.path = Path(path)
        self.read_only = not create
        if not create and not self.path.is_file():
            raise ValueError(f"db: no results database at {str(self.path)!r} (run `innbench bench` first)")
        if self.path.exists() and self.path.is_dir():
            raise ValueError(f"db: {str(self.path)!r} is a directory, expected a database file")
        if create:
            from ..atomic import check_output_file

            check_output_file(self.path, "db")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.conn = None
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                self._open()
                break
            except sqlite3.OperationalError as exc:
                # two processes creating the database at once can deadlock on the switch to WAL; SQLite
                # then answers "locked"/"busy" at once instead of waiting: close, back off, try again
                self.close()
                if ("locked" in str(exc) or "busy" in str(exc)) and time.monotonic() < deadline:
                    time.sleep(0.05 + 0.1 * (os.getpid() % 7) / 7)
                    continue
                raise ValueError(_sqlite_message(self.path, exc, "open")) from None
            except sqlite3.DatabaseError as exc:
                self.close()
                raise ValueError(f"db: {str(self.path)!r} is not a readable innbench results database "
                                 f"({exc})") from None

    def _kind(self) -> str:
        """``new`` (no tables), ``ours`` (an innbench results database) or ``foreign``; reads only."""
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return "new"
        ours = {"meta", "runs", "results", "observations", "metric_values", "samples", "references_", "calibration",
                "sqlite_sequence"}
        # ours only with the tables innbench creates together and their key columns, not a file that happens
        # to have a "meta" table with a schema_version row; version 1 kept its values in a wide "results" table
        wide = "results" in tables
        if ({"meta", "results"} <= tables or {"meta", "observations", "metric_values"} <= tables) and tables <= ours:
            meta_cols = {r[1] for r in self.conn.execute("PRAGMA table_info(meta)")}
            run_cols = {r[1] for r in self.conn.execute("PRAGMA table_info(runs)")} if "runs" in tables else None
            result_cols = {r[1] for r in self.conn.execute(
                f"PRAGMA table_info({'results' if wide else 'metric_values'})")}
            if ({"key", "value"} <= meta_cols and {"run_id", "obs_index", "err_post" if wide else "name"} <= result_cols
                    and (run_cols is None or {"cell_key", "grid", "status", "innbench_version"} <= run_cols)
                    and self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                    is not None):
                return "ours"
        self._foreign_tables = sorted(tables)
        return "foreign"

    def _open(self) -> None:
        if self.read_only:  # reading never modifies the file (no WAL switch, no schema)
            self.conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True,
                                        timeout=self.busy_timeout, isolation_level=None)
        else:
            self.conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        self.conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        kind = self._kind()
        if kind == "foreign":
            raise ValueError(f"db: {str(self.path)!r} is an SQLite database but not an innbench results database "
                             f"(its tables: {', '.join(self._foreign_tables[:8])}); it was not modified: "
                             "use another --db")
        if self.read_only:
            if kind == "new":
                raise ValueError(f"db: {str(self.path)!r} holds no innbench results (run `innbench bench` first)")
            self._check_schema_version()
            self._fill_in_read_only()
            return
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        with self._begin():
            version = self._check_schema_version() if kind == "ours" else None
            if version == 1:  # the wide results table of innbench 0.2.0: converted, every value kept
                self._convert_version_1()
            for stmt in SCHEMA.strip().split(";"):
                if stmt.strip():
                    self.conn.execute(stmt)
            self.conn.execute(RESULTS_VIEW.format(temp=""))
            if version is None:
                self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        # after the conversion: a version 1 file may hold rows of runs it never stored (its tests did)
        self.conn.execute("PRAGMA foreign_keys = ON")

    def _convert_version_1(self) -> None:
        """Schema version 1 to 2 inside the caller's transaction: the wide ``results`` table becomes
        ``observations`` and ``metric_values`` (every non-NULL value one row), then the ``results`` view."""
        cols = {r[1] for r in self.conn.execute("PRAGMA table_info(results)")}
        for name, how in WIDE_COLUMNS:  # columns later versions 1 added (the C2ST floor, the continuous Err_resim)
            if name not in cols:
                self.conn.execute(f"ALTER TABLE results ADD COLUMN {name} {'INTEGER' if how == 'integer' else 'REAL'}")
        self.conn.execute("ALTER TABLE results RENAME TO results_v1")
        self.conn.execute("DROP INDEX IF EXISTS results_by_label")
        for stmt in SCHEMA.strip().split(";"):
            if stmt.strip():
                self.conn.execute(stmt)
        self.conn.execute(f"INSERT INTO observations ({_OBSERVATION_COLUMNS}) SELECT {_OBSERVATION_COLUMNS} "
                          "FROM results_v1")
        self.conn.execute(f"INSERT INTO metric_values (run_id, obs_index, name, value, data) "
                          f"{_unpivot_sql('results_v1')}")
        self.conn.execute("DROP TABLE results_v1")
        self.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    def _fill_in_read_only(self) -> None:
        """Read an older file as it is: a table or column that ``bench`` would add on its next write (the
        ``calibration`` table, the later result columns of version 1) reads as empty, and a version 1 file's wide
        ``results`` table is read in the long format too, through temporary tables and views of this connection
        only; the file is not touched. ``missing`` lists what was filled in."""
        import re

        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        self.missing: list[str] = []
        if "results" in tables:  # version 1: its wide table, with the columns it may lack, then the long views
            have = {r[1] for r in self.conn.execute("PRAGMA main.table_info(results)")}
            wide = [c.strip() for c in _OBSERVATION_COLUMNS.split(",")] + [n for n, _ in WIDE_COLUMNS]
            absent = [c for c in wide if c not in have]
            if absent:
                cols = ", ".join(c if c in have else f"NULL AS {c}" for c in wide)
                self.conn.execute(f"CREATE TEMP VIEW results AS SELECT {cols} FROM main.results")
                self.missing += [f"column results.{c}" for c in absent]
            self.conn.execute(f"CREATE TEMP VIEW observations AS SELECT {_OBSERVATION_COLUMNS} FROM results")
            self.conn.execute(f"CREATE TEMP VIEW metric_values (run_id, obs_index, name, value, data) AS "
                              f"{_unpivot_sql('results')}")
            tables |= {"observations", "metric_values"}
        for stmt in SCHEMA.strip().split(";"):
            m = re.match(r"\s*CREATE TABLE IF NOT EXISTS (\w+) \((.*)\)\s*$", stmt, re.S)
            if not m:
                continue
            name, body = m.groups()
            if name not in tables:
                self.conn.execute(f"CREATE TEMP TABLE {name} ({re.sub(r'REFERENCES [^,]*?CASCADE', '', body)})")
                self.missing.append(f"table {name}")
        if self.missing:
            import warnings

            warnings.warn(f"db: {str(self.path)!r} was written by an older innbench (without "
                          f"{', '.join(self.missing)}): read as empty; the next `innbench bench` on it adds them",
                          stacklevel=2)

    def _check_schema_version(self) -> int:
        """The database's schema version; one this innbench does not know is refused (reading as writing)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        try:
            version = int(row[0])
        except (TypeError, ValueError):
            raise ValueError(f"db: {str(self.path)!r} has an unreadable schema version {row and row[0]!r}") from None
        if version not in (1, SCHEMA_VERSION):  # 1: read as it is, converted by the next bench
            newer = " (made by a newer innbench: upgrade)" if version > SCHEMA_VERSION else ""
            raise ValueError(f"db: {str(self.path)!r} has schema version {version}, this innbench reads versions 1 "
                             f"and {SCHEMA_VERSION}{newer}; it was not modified")
        return version

    def close(self):
        """Close the connection (also on leaving a ``with`` block)."""
        if self.conn is not None:
            self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextmanager
    def transaction(self):
        """``BEGIN IMMEDIATE`` ... ``COMMIT``: one writer at a time, all or nothing.

        SQLite's own failures (a lock held past the 120 s busy timeout, a full disk, an I/O error) become a
        ``ValueError`` naming the database and what to do; the transaction is rolled back, so cells finished
        before stay, and a rerun continues where this one stopped."""
        try:
            with self._begin() as conn:
                yield conn
        except sqlite3.OperationalError as exc:
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            raise ValueError(_sqlite_message(self.path, exc)) from None

    @contextmanager
    def _begin(self):
        """The transaction itself; SQLite's errors pass (opening the database retries on "locked")."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # -- claims -------------------------------------------------------------------------------
    def claim(self, cell, config: dict) -> str:
        """Claim ``cell`` for this process. Returns ``claimed``, ``done`` or ``busy`` (a live process has it)."""
        with self.transaction() as c:
            row = c.execute("SELECT status, host, pid FROM runs WHERE cell_key = ?", (cell.key,)).fetchone()
            if row is not None:
                status, host, pid = row
                if status == "done":
                    return "done"
                mine = host == self.host and pid == self.pid
                if status == "running" and not mine and not (host == self.host and not _pid_alive(pid)):
                    return "busy"
                c.execute("DELETE FROM runs WHERE cell_key = ?", (cell.key,))  # failed or stale: start over
            c.execute(
                "INSERT INTO runs (cell_key, grid, problem, model, label, seed, status, host, pid, started_at, config)"
                " VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                (cell.key, cell.grid, cell.problem, cell.spec.model, cell.spec.label, cell.seed, self.host,
                 self.pid, time.time(), json.dumps(config, default=str)),
            )
            return "claimed"

    def release(self, cell) -> None:
        """Drop this process's claim of an unfinished cell (after an interruption)."""
        with self.transaction() as c:
            c.execute("DELETE FROM runs WHERE cell_key = ? AND status = 'running' AND host = ? AND pid = ?",
                      (cell.key, self.host, self.pid))

    def fail(self, cell, error: str) -> None:
        """Mark ``cell`` failed with the ``error`` text (a later run of the grid tries it again)."""
        with self.transaction() as c:
            c.execute("UPDATE runs SET status = 'failed', error = ?, finished_at = ? WHERE cell_key = ?",
                      (error, time.time(), cell.key))

    def store(self, cell, result: dict) -> int:
        """Write a finished cell (its run, per-observation rows and samples) in one transaction."""
        r = result["run"]
        with self.transaction() as c:
            row = c.execute("SELECT run_id, status FROM runs WHERE cell_key = ?", (cell.key,)).fetchone()
            if row is not None and row[1] == "done":
                return row[0]  # another process finished it first; keep theirs
            if row is None:
                c.execute("INSERT INTO runs (cell_key, grid, problem, model, label, seed, status, host, pid, "
                          "started_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                          (cell.key, cell.grid, cell.problem, cell.spec.model, cell.spec.label, cell.seed,
                           self.host, self.pid, time.time()))
                row = c.execute("SELECT run_id FROM runs WHERE cell_key = ?", (cell.key,)).fetchone()
            run_id = row[0]
            c.execute("DELETE FROM observations WHERE run_id = ?", (run_id,))
            c.execute("DELETE FROM metric_values WHERE run_id = ?", (run_id,))
            c.execute("DELETE FROM samples WHERE run_id = ?", (run_id,))
            c.execute("DELETE FROM calibration WHERE run_id = ?", (run_id,))
            c.execute(
                "UPDATE runs SET status = 'done', finished_at = ?, config = ?, innbench_version = ?, torch_version = ?,"
                " n_parameters = ?, dim_z = ?, facts = ?, title = ?, train_seconds = ?, inference_ms = ?,"
                " sampling_seconds = ?, noise_floor = ?, final_loss = ?, hardware = ?, error = NULL"
                " WHERE run_id = ?",
                (time.time(), json.dumps(r["config"], default=str), r["innbench_version"], r["torch_version"],
                 r["n_parameters"], r["dim_z"], json.dumps(r["facts"]), r["title"], r["train_seconds"],
                 r["inference_ms"], r["sampling_seconds"], r["noise_floor"], r["final_loss"],
                 json.dumps(r["hardware"]), run_id),
            )
            c.executemany(f"INSERT INTO observations ({_OBSERVATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          [(run_id, cell.problem, cell.spec.model, cell.spec.label, cell.seed, o["obs_index"],
                            json.dumps(o["y"])) for o in result["observations"]])
            c.executemany("INSERT INTO metric_values (run_id, obs_index, name, value, data) VALUES (?, ?, ?, ?, ?)",
                          [(run_id, o["obs_index"], name, *_encoded(v))
                           for o in result["observations"] for name, v in o["values"].items() if v is not None])
            c.executemany("INSERT INTO calibration VALUES (?, ?, ?, ?)",
                          [(run_id, o["obs_index"], json.dumps(o["sbc_ranks"]), o["sbc_draws"])
                           for o in result.get("calibration", [])])
            c.executemany("INSERT INTO samples VALUES (?, ?, ?, ?)",
                          [(run_id, s["name"], json.dumps(s["y"]), blob_from_array(s["samples"]))
                           for s in result["samples"]])
            c.executemany("INSERT OR IGNORE INTO references_ VALUES (?, ?, ?, ?)",
                          [(cell.problem, s["name"], json.dumps(s["y"]), blob_from_array(s["samples"]))
                           for s in result["references"]])
            return run_id

    # -- queries ------------------------------------------------------------------------------
    def status(self, keys) -> dict[str, str]:
        """``{cell key: status}`` (``running``, ``done`` or ``failed``) for the cells of ``keys`` that have a run."""
        keys = list(keys)
        out = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            q = f"SELECT cell_key, status FROM runs WHERE cell_key IN ({','.join('?' * len(chunk))})"
            out.update(dict(self.conn.execute(q, chunk).fetchall()))
        return out

    def grids(self) -> list[str]:
        """Grid names with finished runs, most recently finished last."""
        rows = self.conn.execute("SELECT grid, MAX(finished_at) FROM runs WHERE status = 'done' GROUP BY grid "
                                 "ORDER BY MAX(finished_at)").fetchall()
        return [r[0] for r in rows]

    def runs(self, grid: str | None = None, status: str = "done") -> list[dict]:
        """The runs with ``status`` (of ``grid``, or of every grid) as dicts of the ``runs`` table's columns,
        ``config``, ``facts`` and ``hardware`` decoded; in the order they were claimed."""
        q = "SELECT * FROM runs WHERE status = ?" + (" AND grid = ?" if grid else "") + " ORDER BY run_id"
        cur = self.conn.execute(q, (status, grid) if grid else (status,))
        cols = [d[0] for d in cur.description]
        out = []
        for row in cur.fetchall():
            d = dict(zip(cols, row, strict=True))
            for k in ("config", "facts", "hardware"):
                d[k] = json.loads(d[k]) if d[k] else None
            out.append(d)
        return out

    def results(self, run_ids) -> list[dict]:
        """The per-observation rows of the runs ``run_ids`` as dicts of the ``results`` table's columns."""
        run_ids = list(run_ids)
        if not run_ids:
            return []
        cur = self.conn.execute(
            f"SELECT * FROM results WHERE run_id IN ({','.join('?' * len(run_ids))}) ORDER BY run_id, obs_index",
            run_ids)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def metric_values(self, run_ids) -> dict[int, dict[str, list]]:
        """Every stored metric value of the runs ``run_ids`` (the long format): ``{run_id: {name: [value per
        observation that has one, in observation order]}}``, a vector (``data``) decoded from JSON, NaN for NULL."""
        run_ids = list(run_ids)
        out: dict[int, dict[str, list]] = {}
        for i in range(0, len(run_ids), 500):
            chunk = run_ids[i : i + 500]
            rows = self.conn.execute(
                f"SELECT run_id, name, value, data FROM metric_values WHERE run_id IN ({','.join('?' * len(chunk))})"
                " ORDER BY run_id, name, obs_index", chunk).fetchall()
            for run_id, name, value, data in rows:
                v = json.loads(data) if data is not None else (np.nan if value is None else value)
                out.setdefault(run_id, {}).setdefault(name, []).append(v)
        return out

    def calibration(self, run_ids) -> dict[int, tuple[np.ndarray, int]]:
        """SBC ranks on a run's own calibration observations (grids with ``sbc_observations``): ``{run_id:
        (ranks (k, x_dim), draws)}`` for the runs that have them."""
        run_ids = list(run_ids)
        if not run_ids:
            return {}
        rows = self.conn.execute(
            f"SELECT run_id, sbc_ranks, sbc_draws FROM calibration WHERE run_id IN ({','.join('?' * len(run_ids))})"
            " ORDER BY run_id, obs_index", run_ids).fetchall()
        out: dict[int, tuple[list, int]] = {}
        for run_id, ranks, draws in rows:
            out.setdefault(run_id, ([], draws))[0].append(json.loads(ranks))
        return {k: (np.asarray(r, dtype=float), d) for k, (r, d) in out.items()}

    def samples(self, run_id: int) -> dict[str, tuple[list, np.ndarray]]:
        """A run's posterior samples of the showcase observations: ``{name: (y, samples (n, x_dim))}``."""
        rows = self.conn.execute("SELECT name, y, data FROM samples WHERE run_id = ?", (run_id,)).fetchall()
        return {n: (json.loads(y), array_from_blob(b)) for n, y, b in rows}

    def references(self, problem: str) -> dict[str, tuple[list, np.ndarray]]:
        """The reference samples of ``problem``'s showcase observations: ``{name: (y, samples (n, x_dim))}``."""
        rows = self.conn.execute("SELECT name, y, data FROM references_ WHERE problem = ?", (problem,)).fetchall()
        return {n: (json.loads(y), array_from_blob(b)) for n, y, b in rows}
