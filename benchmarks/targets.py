"""Check the performance issue's targets against measured numbers; print a table, write JSON and Markdown.

Usage: python benchmarks/targets.py [--db results/default.db] [--perf results/perf.json]
       [--grid-time results/logs/bench_default.time] [--out results/targets]

Sources (nothing here is measured anew):
- accuracy and training time: the ``default`` grid's runs in ``--db`` (``innbench bench --preset default``);
- the grid's wall time: ``--grid-time``, a file with ``seconds=N`` written by the command that ran it;
- inference, batched sampling and reference times: ``--perf``, written by ``benchmarks/bench_perf.py``.

Targets (issue 5): every paper model's Err_post and Err_resim (distance) at or below its row of the paper
on both problems; the best model's Err_post <= 0.0035 (kinematics) and <= 0.023 (ballistics); training
<= 5 minutes per model; the grid within 90 minutes; 4000 samples for one y* within 10 ms for the
coupling INNs and within 50 ms for the MDN and the iResNet; 1000 x 4000 evaluation sampling of a
coupling model within one minute; references for 1000 x 4000 within 2 minutes per problem.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from innbench.benchmark import ResultsDB
from innbench.benchmark.report import collect, table_rows

BEST = {"kinematics": 0.0035, "ballistics": 0.023}
COUPLING = ("inn", "inn_mmd", "cinn")


def _ok(value, limit) -> bool | None:
    return None if value is None or limit is None else bool(value <= limit)


def _mark(ok) -> str:
    return "–" if ok is None else ("yes" if ok else "**no**")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="results/default.db")
    ap.add_argument("--grid", default=None, help="grid name in the database (default: the last finished)")
    ap.add_argument("--perf", default="results/perf.json")
    ap.add_argument("--grid-time", default="results/logs/bench_default.time")
    ap.add_argument("--out", default="results/targets")
    args = ap.parse_args(argv)

    out = {"rows": [], "best": {}, "training": [], "grid": {}, "inference": [], "sampling": [], "reference": []}
    with ResultsDB(args.db, create=False) as db:  # read-only; refuses a missing or foreign file
        data = collect(db, args.grid)
    for problem, labels in data["problems"].items():
        rows = table_rows(labels)
        learned = [r for r in rows if r["n_parameters"] and r["err_post_mean"] is not None]
        if learned:
            best = min(learned, key=lambda r: r["err_post_mean"])
            out["best"][problem] = {"model": best["model"], "err_post_mean": best["err_post_mean"],
                                    "target": BEST.get(problem), "ok": _ok(best["err_post_mean"], BEST.get(problem))}
        for r in rows:
            if r["n_parameters"]:
                out["training"].append({"problem": problem, "model": r["model"], "train_seconds": r["train_seconds"],
                                        "ok": _ok(r["train_seconds"], 300.0)})
            if r["paper_err_post"] is None:
                continue
            resim_unrounded = r.get("err_resim_continuous_mean")
            out["rows"].append({
                "problem": problem, "model": r["model"], "observations": r["n_observations"],
                "err_post": r["err_post_mean"], "paper_err_post": r["paper_err_post"],
                "err_post_ok": _ok(r["err_post_mean"], r["paper_err_post"]),
                "err_resim": r["err_resim_mean"], "err_resim_unrounded": resim_unrounded,
                "paper_err_resim": r["paper_err_resim"], "err_resim_ok": _ok(r["err_resim_mean"], r["paper_err_resim"]),
                "err_resim_unrounded_ok": _ok(resim_unrounded, r["paper_err_resim"]),
            })
    t = Path(args.grid_time)
    if t.exists():
        m = re.search(r"seconds=(\d+)", t.read_text())
        if m:
            secs = int(m.group(1))
            out["grid"] = {"seconds": secs, "minutes": secs / 60, "ok": secs <= 90 * 60}
    p = Path(args.perf)
    if p.exists():
        perf = json.loads(p.read_text())
        out["perf_meta"] = perf.get("meta")
        for name, e in perf.get("models", {}).items():
            limit = 10.0 if e["model"] in COUPLING else 50.0 if e["model"] in ("mdn", "iresnet") else None
            out["inference"].append({"name": name, "model": e["model"], "n_parameters": e["n_parameters"],
                                     "ms": e["inference_ms_median"], "target_ms": limit,
                                     "ok": _ok(e["inference_ms_median"], limit)})
            if e["model"] in COUPLING:
                s = e["batched_ms_per_observation"] * 1000 / 1000.0
                out["sampling"].append({"name": name, "seconds_per_1000": s, "ok": _ok(s, 60.0),
                                        "observations": e["batched_observations"]})
        for problem, e in perf.get("reference", {}).items():
            s = e["seconds"] * 1000 / e["observations"]
            out["reference"].append({"problem": problem, "seconds_per_1000": s, "ok": _ok(s, 120.0)})

    lines = ["| problem | model | Err_post | paper | ok | Err_resim | unrounded | paper | ok (rounded / unrounded) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in out["rows"]:
        unr = "–" if r["err_resim_unrounded"] is None else f"{r['err_resim_unrounded']:.4f}"
        lines.append(f"| {r['problem']} | {r['model']} | {r['err_post']:.4f} | {r['paper_err_post']:g} | "
                     f"{_mark(r['err_post_ok'])} | {r['err_resim']:.4f} | {unr} | {r['paper_err_resim']:g} | "
                     f"{_mark(r['err_resim_ok'])} / {_mark(r['err_resim_unrounded_ok'])} |")
    lines += ["", "| target | measured | ok |", "|---|---|---|"]
    for problem, b in out["best"].items():
        lines.append(f"| best Err_post {problem} <= {b['target']:g} | {b['err_post_mean']:.4f} ({b['model']}) | "
                     f"{_mark(b['ok'])} |")
    tr = [e for e in out["training"] if e["train_seconds"] is not None]
    if tr:
        over = [f"{e['model']} ({e['problem']}, {e['train_seconds']:.0f} s)" for e in tr if not e["ok"]]
        lines.append(f"| training <= 300 s per model | {min(e['train_seconds'] for e in tr):.0f}–"
                     f"{max(e['train_seconds'] for e in tr):.0f} s; over: {', '.join(over) or 'none'} | "
                     f"{_mark(not over)} |")
    if out["grid"]:
        lines.append(f"| default grid <= 90 min | {out['grid']['minutes']:.1f} min | {_mark(out['grid']['ok'])} |")
    for e in out["inference"]:
        if e["target_ms"] is not None:
            lines.append(f"| sample(y*, 4000) {e['name']} <= {e['target_ms']:g} ms | {e['ms']:.1f} ms "
                         f"({e['n_parameters']:,} params) | {_mark(e['ok'])} |")
    for e in out["sampling"]:
        how = "" if e["observations"] >= 1000 else f" (scaled from {e['observations']} observations)"
        lines.append(f"| 1000 x 4000 sampling {e['name']} <= 60 s | {e['seconds_per_1000']:.1f} s{how} | "
                     f"{_mark(e['ok'])} |")
    for e in out["reference"]:
        lines.append(f"| references 1000 x 4000 {e['problem']} <= 120 s | {e['seconds_per_1000']:.1f} s | "
                     f"{_mark(e['ok'])} |")
    n = (out.get("perf_meta") or {}).get("samples", 4000)
    if n != 4000:  # the targets are stated for 4000 samples per observation
        lines += ["", f"Timings measured at {n} samples per observation (`bench_perf.py --samples {n}`), not 4000."]
    text = "\n".join(lines) + "\n"
    print(text)
    base = Path(args.out)
    base.parent.mkdir(parents=True, exist_ok=True)
    base.with_suffix(".json").write_text(json.dumps(out, indent=1, default=float))
    base.with_suffix(".md").write_text(text)
    print(f"wrote {base.with_suffix('.json')} and {base.with_suffix('.md')}")


if __name__ == "__main__":
    main()
