"""The results database in long format (schema version 2): every metric value one row, the wide view for the
queries of version 1, and the files of innbench 0.2.0 (version 1) read as they are or converted losslessly.

``tests/data/results_v1`` holds a small grid's database written by innbench 0.2.0 (two cells: an MDN on the
linear toy and on ballistics, with C2ST, the noise floor and SBC on observations of its own) and the tables
its report gave then (``report/*.md``, ``*.csv``).
"""

import shutil
import sqlite3
from pathlib import Path

import pytest

from innbench.benchmark import ResultsDB
from innbench.benchmark.report import build_report

V1 = Path(__file__).parent / "data" / "results_v1"
TABLES = sorted(p.name for p in (V1 / "report").iterdir())


def _tables(out: Path) -> dict:
    return {name: (out / name).read_bytes() for name in TABLES}


def test_the_report_of_a_0_2_0_database_is_byte_identical_read_as_it_is_and_after_conversion(tmp_path):
    db = shutil.copy(V1 / "results.db", tmp_path / "r.db")
    before = Path(db).read_bytes()
    want = {name: (V1 / "report" / name).read_bytes() for name in TABLES}
    assert len(TABLES) == 8
    build_report(db, tmp_path / "as_is")
    assert _tables(tmp_path / "as_is") == want and Path(db).read_bytes() == before  # read, never written
    with ResultsDB(db, create=False) as rdb:  # the long format of a version 1 file, through temporary views
        names = {r[0] for r in rdb.conn.execute("SELECT DISTINCT name FROM metric_values")}
        wide_before = rdb.results([1, 2])
    assert {"err_post", "c2st", "c2st_reference", "sbc_ranks", "err_resim_sq"} <= names
    with ResultsDB(db) as rdb:  # bench's open: converted in place, every value kept
        assert rdb.results([1, 2]) == wide_before
    con = sqlite3.connect(db)
    tables = {r[0] for r in con.execute("SELECT name, type FROM sqlite_master") if r[1] == "table"}
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
    assert {"observations", "metric_values"} <= tables and "results" not in tables  # results: a view now
    con.close()
    build_report(db, tmp_path / "converted")
    assert _tables(tmp_path / "converted") == want


def test_a_registered_metric_reaches_the_database_and_the_report_with_no_change_there(tmp_path):
    """A metric of one's own, computed by default, and an opt-in one the grid names with an option of its own."""
    import numpy as np

    from innbench.benchmark import GridConfig, run_grid
    from innbench.metrics import Metric, Value, register_metric, unregister_metric

    def spread(inputs):  # a metric of one's own: the samples' mean standard deviation per observation
        return {"spread": inputs.samples.std(axis=1).mean(axis=1)}

    grid = GridConfig(name="long", problems=["linear"], seeds=[0],
                      models=[{"model": "mdn", "label": "mdn", "options": {"hidden": 16}}], preset="tiny",
                      observations=4, samples=100, timing_observations=2, c2st_observations=0,
                      noise_floor_observations=0, metrics=["scaled"], metric_options={"scaled_by": 3.0})
    register_metric(Metric("spread", spread, (Value("spread", "posterior spread", better=None, fmt=".5f",
                                                    summary=(("spread_mean", "mean"),)),)))
    register_metric(Metric("scaled", lambda i: {"scaled": i.option("scaled_by") * spread(i)["spread"]},
                           (Value("scaled", "scaled spread", better=None),), default=False,
                           options={"scaled_by": 1.0}))
    try:
        run_grid(grid, tmp_path / "r.db", progress=False, log=lambda *a, **k: None)
        report = build_report(tmp_path / "r.db", tmp_path / "rep")
        with pytest.raises(ValueError, match="^metrics: unknown metric 'scaledd'"):
            grid.select(metrics=["scaledd"]).check_names()
        with pytest.raises(ValueError, match="^metric_options: unknown 'scaled_bi'"):
            grid.select(metric_options={"scaled_bi": 2.0}).check_names()
    finally:
        unregister_metric("spread")
        unregister_metric("scaled")
    con = sqlite3.connect(tmp_path / "r.db")
    counts = dict(con.execute("SELECT name, COUNT(*) FROM metric_values GROUP BY name"))
    spreads = [v for (v,) in con.execute("SELECT value FROM metric_values WHERE name = 'spread' ORDER BY obs_index")]
    scaled = [v for (v,) in con.execute("SELECT value FROM metric_values WHERE name = 'scaled' ORDER BY obs_index")]
    con.close()
    np.testing.assert_allclose(scaled, 3.0 * np.asarray(spreads), rtol=1e-12)  # the opt-in metric, with its option
    # the user's metric, TARP and the timings came after the database code: stored with no change to it
    assert counts["spread"] == counts["tarp_credibility"] == counts["err_post"] == 4 and counts["inference_ms"] == 2
    table = (tmp_path / "rep" / "metrics_linear.md").read_text()
    assert tmp_path / "rep" / "metrics_linear.md" in report["tables"]
    assert "posterior spread (mean)" in table and "TARP KS p-value" in table
    assert f"{np.mean(spreads):.5f}" in table  # the declared summary and format of the stored values
    assert tmp_path / "rep" / "figures" / "tarp_linear.png" in report["figures"]  # TARP's curve, from stored values
    assert "c2st" not in counts  # not computed (c2st_observations = 0): no row, NULL in the wide view
    with ResultsDB(tmp_path / "r.db", create=False) as db:
        rows = db.results([r["run_id"] for r in db.runs("long")])
    assert len(rows) == 4 and rows[0]["c2st"] is None and rows[0]["sbc_draws"] == 100


@pytest.mark.parametrize("bad", ["3", "x"])
def test_an_unknown_schema_version_is_refused_unmodified(tmp_path, bad):
    db = shutil.copy(V1 / "results.db", tmp_path / "r.db")
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (bad,))
    con.commit()
    con.close()
    before = Path(db).read_bytes()
    with pytest.raises(ValueError, match="schema version"):
        ResultsDB(db)
    assert Path(db).read_bytes() == before
