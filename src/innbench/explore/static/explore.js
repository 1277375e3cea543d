// innbench explore: the page's script. It only draws: the server sends each model's samples, the
// reference, the numbers and the geometry of the drawings (arms, contours, trajectories, densities) in
// the problem's units; this script maps them to pixels.
//
// Requests: at most one in flight per model. A new target first asks for the model's samples alone
// (reference=0: fast, so the panels follow a dragged target), then, once the target is settled (a click,
// the end of a drag, the slider let go, the form sent), for the reference and the numbers. A response of an
// earlier view (another problem, sample count or selection of models) is dropped; within a view a model's
// responses arrive in order, and the newest is drawn.
//
// For measurements, <body> carries data-input-seq / data-input-at (the latest target and when it was
// given, performance.now() in ms), data-drawn-seq / data-drawn-at (every selected model drew that target),
// data-complete-seq / data-complete-at (the reference and the numbers too) and data-rendered (a counter of
// drawn responses).
"use strict";

// the report's colours (innbench.figures): the reference in near-black, the models in MODEL_PALETTE (no grey)
const REFERENCE_COLOR = "#262626";
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
  "#17becf", "#ff00ff", "#000080", "#a6761d", "#637939", "#1b9e77", "#e7298a", "#393b79",
  "#800000", "#008080", "#7b4173", "#808000"];
const TARGET_COLOR = "#737373";
const DENSITY_COLOR = "#2ca02c";
const SIZE = 360; // canvas side in CSS pixels

const state = {
  models: [], problems: {}, metrics: [], problem: null, n: 1000,
  selected: [],        // names of the selected models of the problem, in list order
  slots: new Map(),    // model name -> its request slot in the current view
  target: null,        // {y: [strings], key, settled, seq, at}
  reference: null,     // {key, drawing, samples, info, ms} from the latest full response
  inputSeq: 0, drawnSeq: -1, completeSeq: -1, rendered: 0, dragging: false,
};
const panels = new Map(); // "reference" or a model name -> {fig, canvas, ctx, numbers, color, data}

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, text = null) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== null) e.textContent = text;
  return e;
}

function fmt(v, digits = 4) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toFixed(digits);
}

function modelsOf(problem) { return state.models.filter((m) => m.problem === problem); }
function colorOf(name) {
  const i = modelsOf(state.problem).findIndex((m) => m.name === name);
  return PALETTE[Math.max(i, 0) % PALETTE.length];
}
function view() { return state.problems[state.problem].view; }

function setStatus(text, kind = "") {
  const s = $("#status");
  s.textContent = text;
  s.className = kind;
}

// -- set-up ---------------------------------------------------------------------------------------------
async function init() {
  const res = await fetch("/api/models");
  const data = await res.json();
  state.models = data.models;
  state.problems = data.problems;
  state.metrics = data.metrics || []; // the registry's values the posterior endpoint gives (innbench.metrics)
  const order = (p) => ({ kinematics: 0, ballistics: 1 }[state.problems[p].view] ?? 2);
  const names = Object.keys(state.problems).sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  const select = $("#problem");
  for (const p of names) {
    const k = modelsOf(p).length;
    select.append(el("option", { value: p }, `${p} (${k} model${k === 1 ? "" : "s"})`));
  }
  select.addEventListener("change", () => setProblem(select.value));
  $("#n").addEventListener("change", () => {
    state.n = Number($("#n").value);
    state.reference = null;
    rebuild();
  });
  const slider = $("#impact");
  slider.addEventListener("input", () => { $("#impact-value").textContent = slider.value; setTarget([slider.value], false); });
  slider.addEventListener("change", () => setTarget([slider.value], true));
  $("#observation-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const fields = [...document.querySelectorAll("#observation-fields input, #observation-fields textarea")];
    const y = fields.length === 1 && fields[0].tagName === "TEXTAREA"
      ? fields[0].value.split(",").map((s) => s.trim()) : fields.map((f) => f.value.trim());
    setTarget(y, true);
  });
  if (names.length) setProblem(names[0]);
  else setStatus("No models: start the explorer with --models DIR.", "failed");
}

function setProblem(problem) {
  state.problem = problem;
  state.reference = null;
  state.target = null;
  const info = state.problems[problem];
  $("#problem").value = problem;
  for (const [id, kind] of [["#kinematics-controls", "kinematics"], ["#ballistics-controls", "ballistics"],
    ["#observation-form", "pairs"]]) $(id).hidden = info.view !== kind;
  const list = $("#model-list");
  list.replaceChildren();
  const models = modelsOf(problem);
  models.forEach((m, i) => {
    const label = el("label");
    const box = el("input", { type: "checkbox", class: "model-toggle", value: m.name });
    box.checked = i < 3; // the first three open selected
    box.addEventListener("change", rebuild);
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = colorOf(m.name);
    label.append(box, swatch, `${m.title} `, el("code", {}, m.name),
      ` · ${m.n_parameters.toLocaleString("en")} parameters`);
    list.append(label);
  });
  fillFacts(models);
  const y = info.default_y.map((v) => (v === null ? "nan" : String(v)));
  if (info.view === "ballistics") {
    const slider = $("#impact");
    const [lo, hi] = info.y_range;
    slider.min = Math.min(lo, info.default_y[0]);
    slider.max = Math.max(hi, info.default_y[0]);
    slider.value = info.default_y[0];
    $("#impact-value").textContent = slider.value;
  } else if (info.view === "pairs") {
    const fields = $("#observation-fields");
    fields.replaceChildren();
    if (info.y_dim <= 12) {
      info.y_names.forEach((name, i) => {
        const input = el("input", { type: "text", name: `y${i}`, title: name, "aria-label": name });
        input.value = y[i];
        fields.append(input);
      });
    } else {
      const area = el("textarea", { name: "y", "aria-label": "observation (comma-separated)" });
      area.value = y.join(",");
      fields.append(area);
    }
  }
  rebuild();
  setTarget(y, true);
}

function fillFacts(models) {
  const body = $("#facts-table tbody");
  body.replaceChildren();
  for (const m of models) {
    const t = m.train_info || {};
    const s = m.stored || {};
    const b = t.budget || {};
    const budget = t.preset === "simulations" || t.preset === "data"
      ? `${b.simulations ?? "?"} simulations, ${t.epochs ?? "?"} epochs`
      : `${t.preset ?? "–"}${b.n_batches ? `: ${b.n_batches.toLocaleString("en")} batches of ${b.batch_size}` : ""}`;
    const cells = [[m.name + (m.label && m.label !== m.name ? ` [${m.label}]` : ""), ""], [m.title, ""], [m.problem, ""],
      [m.n_parameters.toLocaleString("en"), "num"], [String(m.dim_z), "num"], [budget, ""],
      [t.train_seconds === undefined ? "–" : t.train_seconds.toFixed(1), "num"], [fmt(t.final_loss), "num"],
      [s.err_post_mean === undefined ? "–" : `${fmt(s.err_post_mean)} (${s.n_observations} obs., ${s.grid})`, "num"],
      [fmt(s.err_resim_mean), "num"]];
    const row = el("tr");
    for (const [text, cls] of cells) row.append(el("td", cls ? { class: cls } : {}, text));
    body.append(row);
  }
}

// The panels and request slots of the current view; the current target is asked for again.
function rebuild() {
  state.selected = [...document.querySelectorAll(".model-toggle")].filter((b) => b.checked).map((b) => b.value);
  state.slots = new Map(state.selected.map((name) => [name, { busy: false, fastKey: null, fullKey: null }]));
  panels.clear();
  const main = $("#panels");
  main.replaceChildren();
  addPanel("reference", "Reference posterior", REFERENCE_COLOR);
  for (const name of state.selected) {
    const m = state.models.find((x) => x.name === name);
    addPanel(name, `${m.title} · ${name}`, colorOf(name));
  }
  if (!state.selected.length) setStatus("Select one or more models above.");
  if (state.target) {
    state.target = { ...state.target, seq: ++state.inputSeq, at: performance.now() };
    markInput();
  }
  redraw();
  for (const name of state.selected) pump(name);
}

function addPanel(key, title, color) {
  const fig = el("figure", { class: "panel", "data-panel": key });
  const canvas = el("canvas", { "data-panel": key });
  const dpr = window.devicePixelRatio || 1;
  canvas.width = SIZE * dpr;
  canvas.height = SIZE * dpr;
  canvas.style.width = `${SIZE}px`;
  canvas.style.height = `${SIZE}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const numbers = el("div", { class: "numbers" });
  fig.append(el("figcaption", {}, title), canvas, numbers);
  $("#panels").append(fig);
  if (view() === "kinematics") attachPointer(canvas);
  else canvas.style.cursor = "default";
  panels.set(key, { fig, canvas, ctx, numbers, color, data: null });
}

// -- targets and requests -------------------------------------------------------------------------------
function markInput() {
  document.body.dataset.inputSeq = state.target.seq;
  document.body.dataset.inputAt = state.target.at;
}

function setTarget(y, settled) {
  const key = y.join(",");
  if (state.target && state.target.key === key) {
    state.target.settled = state.target.settled || settled;
  } else {
    state.target = { y, key, settled, seq: ++state.inputSeq, at: performance.now() };
    markInput();
    if ($("#status").className === "refused") setStatus("");
  }
  redraw();
  for (const name of state.selected) pump(name);
  progress();
}

function pump(name) {
  const slot = state.slots.get(name);
  const t = state.target;
  if (!slot || slot.busy || !t) return;
  let full;
  if (slot.fastKey !== t.key) full = false;
  else if (t.settled && slot.fullKey !== t.key) full = true;
  else return;
  slot.busy = true;
  const key = t.key;
  // arms and throws need only the drawings' geometry; pair plots scatter the samples themselves
  const url = `/api/posterior?model=${encodeURIComponent(name)}&y=${encodeURIComponent(key)}&n=${state.n}`
    + `&draw=1&reference=${full ? 1 : 0}${view() === "pairs" ? "" : "&samples=0"}`;
  fetch(url)
    .then((r) => r.json().then((body) => ({ ok: r.ok, body })))
    .catch((err) => ({ ok: false, body: { error: `request failed: ${err}`, status: 0 } }))
    .then(({ ok, body }) => {
      slot.busy = false;
      if (state.slots.get(name) !== slot) return; // a response of an earlier view: dropped
      slot.fastKey = key;
      if (full || !ok) slot.fullKey = key;
      if (ok) show(name, key, body, full);
      else refuse(key, body);
      progress();
      pump(name);
    });
}

function show(name, key, body, full) {
  panels.get(name).data = { key, full, drawing: body.drawing.model, samples: body.samples, metrics: body.metrics };
  if (full) {
    state.reference = { key, drawing: body.drawing.reference, samples: body.reference, info: body.reference_info,
      ms: body.metrics.reference_ms };
  }
  if (state.target && key === state.target.key && $("#status").className !== "refused") setStatus("");
  redraw(full ? [name, "reference"] : [name]);
  document.body.dataset.rendered = ++state.rendered;
}

function refuse(key, body) {
  if (!state.target || key !== state.target.key) return;
  const refused = body.status >= 400 && body.status < 500;
  setStatus(`${refused ? "Refused" : "Failed"}: ${body.error}`, refused ? "refused" : "failed");
  document.body.dataset.refusedSeq = state.target.seq;
  redraw();
}

// Marks on <body> when every selected model drew the current target, and when the numbers came too.
function progress() {
  const t = state.target;
  if (!t || !state.selected.length) return;
  const slots = state.selected.map((n) => state.slots.get(n));
  // stamped in the frame that paints the last drawing (its callback runs after paint's)
  const stamp = (what, seq) => requestAnimationFrame(() => {
    document.body.dataset[`${what}Seq`] = seq;
    document.body.dataset[`${what}At`] = performance.now();
  });
  if (state.drawnSeq !== t.seq && slots.every((s) => s.fastKey === t.key)) {
    state.drawnSeq = t.seq;
    stamp("drawn", t.seq);
  }
  if (t.settled && state.completeSeq !== t.seq && slots.every((s) => s.fullKey === t.key)) {
    state.completeSeq = t.seq;
    stamp("complete", t.seq);
  }
}

// -- drawing --------------------------------------------------------------------------------------------
// Panels are painted at most once per animation frame; a response repaints its own panels only (the
// ballistics and pair views share their axes' limits, so there every panel is repainted).
const dirty = new Set();
let frame = 0;

function redraw(keys = null) {
  for (const key of keys && view() === "kinematics" ? keys : panels.keys()) dirty.add(key);
  if (!frame) frame = requestAnimationFrame(paint);
}

function paint() {
  frame = 0;
  const kind = view();
  const limits = kind === "ballistics" ? ballisticsLimits() : kind === "pairs" ? pairLimits() : null;
  const keys = [...dirty];
  dirty.clear();
  for (const key of keys) {
    const panel = panels.get(key);
    if (!panel) continue;
    const isRef = key === "reference";
    const data = isRef ? state.reference : panel.data;
    panel.fig.classList.toggle("stale", !!(data && state.target && data.key !== state.target.key));
    const ctx = panel.ctx;
    ctx.clearRect(0, 0, SIZE, SIZE);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, SIZE, SIZE);
    if (kind === "kinematics") drawKinematics(ctx, data && data.drawing, panel.color);
    else if (kind === "ballistics") drawBallistics(ctx, data && data.drawing, panel.color, limits);
    else drawPairs(ctx, data, isRef ? null : panel.color, limits);
    panel.canvas.dataset.y = data ? data.key : "";
    writeNumbers(key, panel, data);
  }
}

function writeNumbers(key, panel, data) {
  const box = panel.numbers;
  box.replaceChildren();
  if (!data) {
    box.textContent = state.selected.length ? "waiting for the first answer…" : "";
    return;
  }
  const n = state.n.toLocaleString("en");
  if (key === "reference") {
    const info = data.info || {};
    box.append(`${info.method ?? "reference"}${info.min_ess ? `, ESS ${Math.round(info.min_ess).toLocaleString("en")}` : ""}`
      + `, ${n} draws in ${fmt(data.ms, 0)} ms${info.cached ? " (cached)" : ""}`);
    if (data.drawing && data.drawing.never_land) box.append(` · ${data.drawing.never_land} never land`);
    return;
  }
  const m = data.metrics;
  const line = (label, value) => { box.append(el("b", {}, label), ` ${value}  `); };
  line("Err_post", data.full ? fmt(m.err_post) : "…");
  line("Err_resim", fmt(m.err_resim));
  line("time", `${fmt(m.sample_ms, 1)} ms for ${n} samples`);
  const extra = [];
  if (m.invalid_fraction > 0) extra.push(`${(100 * m.invalid_fraction).toFixed(1)} % invalid`);
  if (m.outside_support_fraction > 0) extra.push(`${(100 * m.outside_support_fraction).toFixed(1)} % outside the prior`);
  if (data.drawing && data.drawing.never_land) extra.push(`${data.drawing.never_land} never land`);
  // every other registered metric, as the registry names and formats it
  const shown = new Set(["err_post", "err_resim", "err_resim_sq", "invalid_fraction", "outside_support_fraction"]);
  for (const v of state.metrics) {
    if (shown.has(v.name) || m[v.name] === undefined) continue;
    extra.push(`${v.title} ${formatted(m[v.name], v.fmt)}`);
  }
  if (extra.length) box.append(el("br"), extra.join(" · "));
}

function formatted(value, spec) {
  if (value === null || value === undefined) return "–";
  const digits = Number((spec.match(/\.(\d+)/) || [0, 4])[1]);
  return spec.endsWith("g") ? Number(value).toPrecision(Math.max(digits, 1)) : Number(value).toFixed(digits);
}

function scales(xlim, ylim, box) {
  return {
    x: (v) => box.x + ((v - xlim[0]) / (xlim[1] - xlim[0])) * box.w,
    y: (v) => box.y + ((ylim[1] - v) / (ylim[1] - ylim[0])) * box.h,
  };
}

function polyline(ctx, s, pts) {
  ctx.moveTo(s.x(pts[0][0]), s.y(pts[0][1]));
  for (let i = 1; i < pts.length; i++) ctx.lineTo(s.x(pts[i][0]), s.y(pts[i][1]));
}

function targetValues() { return state.target ? state.target.y.map(Number) : null; }

function kinematicsView() { return state.problems[state.problem].limits; }

function drawKinematics(ctx, d, color) {
  const v = kinematicsView();
  const s = scales(v.xlim, v.ylim, { x: 0, y: 0, w: SIZE, h: SIZE });
  ctx.save();
  ctx.strokeStyle = "rgba(140,140,140,0.35)"; // the rail
  ctx.lineWidth = 5;
  ctx.beginPath(); ctx.moveTo(s.x(0), 0); ctx.lineTo(s.x(0), SIZE); ctx.stroke();
  ctx.strokeStyle = "#bbb"; // the reach
  ctx.lineWidth = 1;
  ctx.setLineDash([4, 4]);
  ctx.beginPath();
  for (const r of [-v.reach, v.reach]) { ctx.moveTo(s.x(r), 0); ctx.lineTo(s.x(r), SIZE); }
  ctx.stroke();
  ctx.setLineDash([]);
  ticks(ctx, s, v.xlim, v.ylim);
  if (d) {
    ctx.strokeStyle = color;
    ctx.globalAlpha = 0.12;
    ctx.beginPath();
    for (const arm of d.arms) polyline(ctx, s, arm);
    ctx.stroke();
    ctx.globalAlpha = 1;
    if (d.contour.length) {
      ctx.beginPath();
      for (const line of d.contour) polyline(ctx, s, line);
      ctx.fillStyle = color;
      ctx.globalAlpha = 0.18;
      ctx.fill("evenodd");
      ctx.globalAlpha = 1;
      ctx.strokeStyle = "#404040";
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
    if (d.mode) {
      ctx.strokeStyle = color;
      ctx.lineWidth = 3;
      ctx.beginPath();
      polyline(ctx, s, d.mode);
      ctx.stroke();
      ctx.fillStyle = color;
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 0.5;
      for (const p of d.mode) {
        ctx.beginPath(); ctx.arc(s.x(p[0]), s.y(p[1]), 3, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
      }
    }
  }
  const t = targetValues();
  if (t && t.every(Number.isFinite)) cross(ctx, s.x(t[0]), s.y(t[1]));
  ctx.restore();
}

function cross(ctx, px, py) {
  ctx.strokeStyle = TARGET_COLOR;
  ctx.lineWidth = 3;
  ctx.beginPath();
  ctx.moveTo(px - 7, py - 7); ctx.lineTo(px + 7, py + 7);
  ctx.moveTo(px - 7, py + 7); ctx.lineTo(px + 7, py - 7);
  ctx.stroke();
}

function ticks(ctx, s, xlim, ylim) {
  ctx.fillStyle = "#888";
  ctx.font = "10px system-ui, sans-serif";
  for (let v = Math.ceil(xlim[0]); v <= xlim[1]; v++) ctx.fillText(String(v), s.x(v) + 2, SIZE - 3);
  for (let v = Math.ceil(ylim[0]); v <= ylim[1]; v++) if (v !== Math.ceil(ylim[0])) ctx.fillText(String(v), 2, s.y(v) - 2);
}

function ballisticsLimits() {
  const ds = [state.reference, ...[...panels.values()].map((p) => p.data)].filter((d) => d && d.drawing);
  const t = targetValues();
  let xlim = [Infinity, -Infinity];
  let ylim = [Infinity, -Infinity];
  for (const d of ds) {
    xlim = [Math.min(xlim[0], d.drawing.xlim[0]), Math.max(xlim[1], d.drawing.xlim[1])];
    ylim = [Math.min(ylim[0], d.drawing.ylim[0]), Math.max(ylim[1], d.drawing.ylim[1])];
  }
  if (!ds.length) { xlim = [-1, 12]; ylim = [-0.3, 5]; }
  if (t && Number.isFinite(t[0])) xlim = [Math.min(xlim[0], t[0] - 0.5), Math.max(xlim[1], t[0] + 0.5)];
  return { xlim, ylim };
}

function drawBallistics(ctx, d, color, lim) {
  const top = { x: 0, y: 0, w: SIZE, h: SIZE * 0.74 };
  const strip = { x: 0, y: SIZE * 0.78, w: SIZE, h: SIZE * 0.22 };
  const s = scales(lim.xlim, lim.ylim, top);
  ctx.save();
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 0.8;
  ctx.beginPath(); ctx.moveTo(0, s.y(0)); ctx.lineTo(SIZE, s.y(0)); ctx.stroke(); // the ground
  ctx.strokeStyle = "#ddd";
  ctx.beginPath(); ctx.moveTo(0, strip.y - 2); ctx.lineTo(SIZE, strip.y - 2); ctx.stroke();
  if (d) {
    ctx.strokeStyle = color;
    ctx.lineWidth = 1;
    ctx.globalAlpha = 0.15;
    ctx.beginPath();
    for (const line of d.throws) polyline(ctx, s, line);
    ctx.stroke();
    ctx.globalAlpha = 1;
    if (d.mode) {
      ctx.lineWidth = 3;
      ctx.beginPath(); polyline(ctx, s, d.mode); ctx.stroke();
      ctx.fillStyle = color;
      ctx.beginPath(); ctx.arc(s.x(d.mode[0][0]), s.y(d.mode[0][1]), 4, 0, 2 * Math.PI); ctx.fill();
    }
    const { edges, density } = d.impacts;
    const peak = Math.max(...density, 1e-12);
    const sx = scales(lim.xlim, [0, peak * 1.1], strip);
    ctx.beginPath();
    ctx.moveTo(sx.x(edges[0]), sx.y(0));
    density.forEach((h, i) => { ctx.lineTo(sx.x(edges[i]), sx.y(h)); ctx.lineTo(sx.x(edges[i + 1]), sx.y(h)); });
    ctx.lineTo(sx.x(edges[edges.length - 1]), sx.y(0));
    ctx.closePath();
    ctx.fillStyle = DENSITY_COLOR;
    ctx.globalAlpha = 0.5;
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.strokeStyle = DENSITY_COLOR;
    ctx.lineWidth = 1.2;
    ctx.stroke();
  }
  const t = targetValues();
  if (t && Number.isFinite(t[0])) {
    ctx.strokeStyle = TARGET_COLOR;
    ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(s.x(t[0]), 0); ctx.lineTo(s.x(t[0]), SIZE); ctx.stroke();
  }
  ctx.fillStyle = "#888";
  ctx.font = "10px system-ui, sans-serif";
  const step = Math.max(1, Math.round((lim.xlim[1] - lim.xlim[0]) / 6));
  for (let v = Math.ceil(lim.xlim[0] / step) * step; v <= lim.xlim[1]; v += step) ctx.fillText(String(v), s.x(v) + 2, SIZE - 2);
  ctx.fillText("impacts", 3, strip.y + 10);
  ctx.restore();
}

function pairLimits() {
  const ds = [state.reference, ...[...panels.values()].map((p) => p.data)].filter((d) => d && d.drawing);
  if (!ds.length) return null;
  const k = ds[0].drawing.dims.length;
  const lo = Array(k).fill(Infinity);
  const hi = Array(k).fill(-Infinity);
  for (const d of ds) {
    for (let i = 0; i < k; i++) { lo[i] = Math.min(lo[i], d.drawing.lo[i]); hi[i] = Math.max(hi[i], d.drawing.hi[i]); }
  }
  return { k, lo, hi, names: ds[0].drawing.names };
}

function histogram(samples, dim, lo, hi, bins) {
  const h = new Array(bins).fill(0);
  for (const row of samples) {
    const v = row[dim];
    if (v === null || v < lo || v > hi) continue;
    h[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))] += 1;
  }
  return h;
}

function drawPairs(ctx, data, color, lim) {
  if (!lim) return;
  const k = lim.k;
  const pad = 16;
  const cell = (SIZE - pad) / k;
  const ref = state.reference && data && state.reference.key === data.key ? state.reference.samples : null;
  const sets = color === null ? [[data && data.samples, REFERENCE_COLOR, "fill"]]
    : [[ref, "#999", "fill"], [data && data.samples, color, "step"]];
  ctx.save();
  ctx.font = "9px system-ui, sans-serif";
  for (let r = 0; r < k; r++) {
    for (let c = 0; c <= r; c++) {
      const box = { x: pad + c * cell + 2, y: r * cell + 2, w: cell - 4, h: cell - 4 };
      ctx.strokeStyle = "#ddd";
      ctx.lineWidth = 1;
      ctx.strokeRect(box.x, box.y, box.w, box.h);
      if (r === c) {
        const hs = sets.map(([smp]) => (smp ? histogram(smp, c, lim.lo[c], lim.hi[c], 30) : null));
        const peak = Math.max(1, ...hs.filter(Boolean).map((h) => Math.max(...h) / Math.max(1, sumOf(h))));
        hs.forEach((h, j) => {
          if (!h) return;
          const total = Math.max(1, sumOf(h));
          const [, col, how] = sets[j];
          ctx.beginPath();
          ctx.moveTo(box.x, box.y + box.h);
          h.forEach((v, i) => {
            const y = box.y + box.h - (v / total / peak) * box.h * 0.95;
            ctx.lineTo(box.x + (i / h.length) * box.w, y);
            ctx.lineTo(box.x + ((i + 1) / h.length) * box.w, y);
          });
          ctx.lineTo(box.x + box.w, box.y + box.h);
          if (how === "fill") { ctx.fillStyle = col; ctx.globalAlpha = 0.5; ctx.fill(); ctx.globalAlpha = 1; }
          else { ctx.strokeStyle = col; ctx.lineWidth = 1.2; ctx.stroke(); }
        });
      } else {
        const s = scales([lim.lo[c], lim.hi[c]], [lim.lo[r], lim.hi[r]], box);
        for (const [smp, col] of sets) {
          if (!smp) continue;
          ctx.fillStyle = col;
          ctx.globalAlpha = 0.35;
          const m = Math.min(smp.length, 1000);
          for (let i = 0; i < m; i++) {
            const p = smp[i];
            if (p[c] === null || p[r] === null) continue;
            ctx.fillRect(s.x(p[c]) - 0.75, s.y(p[r]) - 0.75, 1.5, 1.5);
          }
          ctx.globalAlpha = 1;
        }
      }
      if (r === k - 1) { ctx.fillStyle = "#555"; ctx.fillText(lim.names[c].slice(0, 14), box.x + 1, SIZE - 3); }
    }
    ctx.save();
    ctx.translate(10, r * cell + cell / 2 + 20);
    ctx.rotate(-Math.PI / 2);
    ctx.fillStyle = "#555";
    ctx.fillText(lim.names[r].slice(0, 14), 0, 0);
    ctx.restore();
  }
  ctx.restore();
}

function sumOf(a) { return a.reduce((x, y) => x + y, 0); }

// -- the kinematics target: click or drag on any panel --------------------------------------------------
function pointerTarget(e, canvas) {
  const v = kinematicsView();
  const r = canvas.getBoundingClientRect();
  const x = v.xlim[0] + ((e.clientX - r.left) / r.width) * (v.xlim[1] - v.xlim[0]);
  const y = v.ylim[1] - ((e.clientY - r.top) / r.height) * (v.ylim[1] - v.ylim[0]);
  return [x.toFixed(3), y.toFixed(3)];
}

function attachPointer(canvas) {
  canvas.addEventListener("pointerdown", (e) => {
    state.dragging = true;
    canvas.setPointerCapture(e.pointerId);
    setTarget(pointerTarget(e, canvas), false);
  });
  canvas.addEventListener("pointermove", (e) => { if (state.dragging) setTarget(pointerTarget(e, canvas), false); });
  const end = (e) => {
    if (!state.dragging) return;
    state.dragging = false;
    setTarget(pointerTarget(e, canvas), true);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
}

init().catch((err) => setStatus(`Failed to load the models: ${err}`, "failed"));
