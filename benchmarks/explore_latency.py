"""Latency of the live posterior explorer (``innbench explore``): from a click on a new target to the drawing.

Usage: python benchmarks/explore_latency.py [--models DIR ... | --train cinn mdn inn [--batches 1000]]
       [--targets 30] [--n 1000] [--out results/explore_latency.json] [--screenshot docs/img/explore.png]

Starts ``innbench explore`` as a user would (a subprocess, one torch thread, its default) on three
kinematics models: those in ``--models``, or three small ones trained here first (``--train``, default the
cINN, the MDN and the INN, with the ``tiny`` preset's networks, 1000 batches of 256 from 100,000
simulations: about 15 s). The page waits for the slowest selected model: a sampler that is slow by design
(the iResNet's iterative inverse, the NSF's autoregressive one) shows in these numbers. Then, for
``--targets`` new targets each (prior-predictive observations, so every reference is drawn afresh):

- server: the three models' ``/api/posterior`` requests sent at once, as the page sends them, timed from the
  client until the last answer: ``fast`` (``reference=0&draw=1``: the samples and the drawings, what the page
  asks first), ``full`` (``draw=1``: with the reference drawn afresh, Err_post and the reference's drawing)
  and ``full, cached`` (the same request again), all with ``samples=0`` as the page asks;
- browser: headless Chromium clicks each target on the page; the page stamps when the click arrived, when
  all three models' drawings of it were on screen (the next animation frame after the last one) and when
  the reference and the numbers were too (``data-input-at``, ``data-drawn-at``, ``data-complete-at``);
- drag: a 2-second drag across the plane, counting the drawings the page made on the way.

Prints the median and 90th percentile of each and writes them to ``--out``; ``--screenshot`` saves the page
on the paper's target (1.5, 0) for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

import innbench
from innbench.problems import get_problem
from innbench.reference import test_observations


def train_models(out: Path, models: list[str], batches: int = 1000) -> list[dict]:
    """Small kinematics models (``tiny`` networks, ``batches`` batches of 256), saved under ``out``."""
    from innbench import api

    facts = []
    for name in models:
        t = time.perf_counter()
        m = api.train("kinematics", name, preset="tiny", progress=False, out=out / f"kinematics-{name}-seed0",
                      budget_overrides={"n_batches": batches, "n_train": 100_000})
        facts.append({"name": f"kinematics-{name}-seed0", "n_parameters": m.n_parameters(),
                      "train_seconds": round(time.perf_counter() - t, 1)})
        print(f"trained {name}: {m.n_parameters():,} parameters, {facts[-1]['train_seconds']} s", flush=True)
    return facts


def start_server(model_dirs: list[str]) -> tuple[subprocess.Popen, str]:
    exe = Path(sys.executable).with_name("innbench")
    cmd = [str(exe) if exe.exists() else "innbench", "explore", "--models", *model_dirs, "--port", "0",
           "--no-browser"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if " at http" not in line:
        proc.kill()
        raise SystemExit(f"innbench explore did not start: {line!r}")
    return proc, line.split(" at ")[1].split()[0]


def fetch(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=120) as r:
        return json.loads(r.read())


def stats(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {"median": round(float(np.median(v)), 1), "p90": round(float(np.percentile(v, 90)), 1),
            "min": round(float(v.min()), 1), "max": round(float(v.max()), 1), "count": len(v),
            "values": np.round(v, 1).tolist()}


def server_timings(base: str, names: list[str], targets: np.ndarray, n: int) -> dict:
    """Wall time of the three models' requests sent at once, per target, in ms."""
    out = {"fast": [], "full": [], "full_cached": []}
    with ThreadPoolExecutor(len(names)) as pool:
        def at_once(y, extra):
            t = time.perf_counter()
            list(pool.map(lambda m: fetch(f"{base}api/posterior?model={m}&y={y[0]:.3f},{y[1]:.3f}&n={n}{extra}"),
                          names))
            return 1000 * (time.perf_counter() - t)

        at_once(targets[0], "&reference=0&draw=1&samples=0")  # warm-up: imports, first calls
        for y in targets[1:]:  # the page's requests: the drawings' geometry without the samples
            out["fast"].append(at_once(y, "&reference=0&draw=1&samples=0"))
            out["full"].append(at_once(y, "&draw=1&samples=0"))  # its samples are cached: the reference is new
            out["full_cached"].append(at_once(y, "&draw=1&samples=0"))
    return {k: stats(v) for k, v in out.items()}


def browser_timings(base: str, targets: np.ndarray, screenshot: str | None) -> dict:
    from playwright import sync_api as playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    drawn, complete, refused = [], [], 0
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1640, "height": 900})
        page.goto(base)
        done = "document.body.dataset.completeSeq === document.body.dataset.inputSeq"
        page.wait_for_function(done, timeout=120_000)
        assert page.locator("figure.panel").count() == 4, "expected the reference and three models"
        box = page.locator("canvas[data-panel='reference']").bounding_box()
        lim = page.evaluate("state.problems.kinematics.limits")

        def to_px(x, y):  # a point of the plane on the reference panel
            return (box["x"] + (x - lim["xlim"][0]) / (lim["xlim"][1] - lim["xlim"][0]) * box["width"],
                    box["y"] + (lim["ylim"][1] - y) / (lim["ylim"][1] - lim["ylim"][0]) * box["height"])

        def click(x, y):
            page.mouse.click(*to_px(x, y))
            page.wait_for_function(done, timeout=120_000)
            return page.evaluate("({...document.body.dataset})")

        click(*targets[0])  # warm-up
        for y in targets[1:]:
            d = click(*y)
            if d.get("refusedSeq") == d["inputSeq"]:
                refused += 1
                continue
            assert d["drawnSeq"] == d["inputSeq"] == d["completeSeq"]
            drawn.append(float(d["drawnAt"]) - float(d["inputAt"]))
            complete.append(float(d["completeAt"]) - float(d["inputAt"]))

        # a drag: 2 s of pointer moves every 16 ms along an arc through the reach
        rendered = int(page.get_attribute("body", "data-rendered"))
        path = [(1.2 * np.cos(a), 1.2 * np.sin(a)) for a in np.linspace(-1.2, 1.2, 125)]
        page.mouse.move(*to_px(*path[0]))
        t = time.perf_counter()
        page.mouse.down()
        for xy in path[1:]:
            page.mouse.move(*to_px(*xy))
            page.wait_for_timeout(16)
        seconds = time.perf_counter() - t
        during = int(page.get_attribute("body", "data-rendered")) - rendered
        page.mouse.up()
        page.wait_for_function(done, timeout=120_000)

        if screenshot:
            click(1.5, 0.0)
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=screenshot, full_page=True)
        browser.close()
    return {"drawn": stats(drawn), "complete": stats(complete), "refused": refused,
            "drag": {"seconds": round(seconds, 2), "model_drawings": during,
                     "drawings_per_second_per_model": round(during / seconds / 3, 1)}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", help="three kinematics model directories or one directory of them "
                                                "(default: train three small ones first, --train)")
    ap.add_argument("--train", nargs=3, default=["cinn", "mdn", "inn"], metavar="MODEL",
                    help="the three models to train without --models (default: cinn mdn inn)")
    ap.add_argument("--batches", type=int, default=1000, help="training batches of each model with --train")
    ap.add_argument("--targets", type=int, default=30)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--out", default="results/explore_latency.json")
    ap.add_argument("--screenshot", help="save the page on the target (1.5, 0) here, e.g. docs/img/explore.png")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    tmp = None
    facts = None
    if args.models:
        dirs = args.models
    else:
        tmp = tempfile.TemporaryDirectory(prefix="explore-latency-")
        facts = train_models(Path(tmp.name), args.train, args.batches)
        dirs = [tmp.name]
    _, y = test_observations(get_problem("kinematics"), 1000)
    y = y[np.abs(y).max(axis=1) < 2.2]  # on the canvas
    server_y, browser_y = y[: args.targets + 1], y[args.targets + 1 : 2 * args.targets + 2]
    proc, base = start_server(dirs)
    try:
        names = [m["name"] for m in fetch(base + "api/models")["models"] if m["problem"] == "kinematics"][:3]
        print(f"explorer at {base} with {', '.join(names)}; {args.targets} targets, {args.n} samples per model",
              flush=True)
        server = server_timings(base, names, server_y, args.n)
        browser = browser_timings(base, browser_y, args.screenshot)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if tmp is not None:
            tmp.cleanup()
    res = {"meta": {"innbench_version": innbench.__version__, "torch": torch.__version__,
                    "python": platform.python_version(), "cpus": os.cpu_count(), "server_threads": 1,
                    "date": time.strftime("%Y-%m-%d"), "models": facts or names, "samples_per_model": args.n,
                    "targets": args.targets},
           "server_ms": server, "browser_ms": browser}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    print(f"\n{'ms, 3 models x ' + str(args.n) + ' samples':42s} {'median':>8s} {'p90':>8s}")
    for label, s in [("server: samples + drawings (reference=0)", server["fast"]),
                     ("server: + new reference, Err_post", server["full"]),
                     ("server: the same again (cached)", server["full_cached"]),
                     ("browser: click -> three drawings on screen", browser["drawn"]),
                     ("browser: click -> reference and numbers too", browser["complete"])]:
        print(f"{label:42s} {s['median']:8.1f} {s['p90']:8.1f}")
    d = browser["drag"]
    print(f"drag: {d['model_drawings']} model drawings in {d['seconds']} s "
          f"({d['drawings_per_second_per_model']} per second per model)")
    print(f"wrote {args.out}" + (f" and {args.screenshot}" if args.screenshot else ""))


if __name__ == "__main__":
    main()
