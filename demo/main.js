// The demo page: the training panel talks to worker.js (which owns the MNIST network); the softmax explorer and the
// learning-slowdown experiment run on this page's own instance of the library.
import uPlot from "/vendor/uplot/uPlot.esm.js";
import { ready, softmax, Network } from "/dist/browser.js";
import { toMnist } from "./preprocess.js";
import { augmentFlag, probText } from "./format.js";

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat("en-US");
const pct = (v, d = 2) => `${(v * 100).toFixed(d)}%`;
const COLORS = {
  indigo: "#4f46e5", indigoSoft: "rgba(79, 70, 229, 0.22)", teal: "#0d9488", amber: "#d97706", rose: "#e11d48",
  slate: "#64748b", grid: "rgba(100, 116, 139, 0.14)", axis: "#64748b",
};

// ---------------------------------------------------------------------------------------------------------------
// Errors: every failure lands in the banner (and the console), none is swallowed.

window.__demoBooted = true; // from here on, the page's own handlers report errors (index.html's before)
const errors = [];
function showError(context, err) {
  const message = err instanceof Error ? `${err.name}: ${err.message}` : typeof err === "string" ? err : String(err?.message ?? err);
  errors.push({ context, message });
  console.error(`[demo] ${context}: ${message}`);
  const li = document.createElement("li");
  li.innerHTML = "<b></b> <span></span>";
  li.querySelector("b").textContent = context;
  li.querySelector("span").textContent = message;
  $("errors-list").append(li);
  $("errors").hidden = false;
}
$("errors-dismiss").addEventListener("click", () => {
  $("errors").hidden = true;
  $("errors-list").replaceChildren();
});
window.addEventListener("error", (e) => showError("page", e.error ?? e.message));
window.addEventListener("unhandledrejection", (e) => showError("page", e.reason));
/** Runs an async handler, reporting what it throws. */
const guard = (context, fn) => (...args) => {
  try {
    const r = fn(...args);
    if (r && typeof r.then === "function") r.catch((err) => showError(context, err));
  } catch (err) {
    showError(context, err);
  }
};

function badge(id, ok, text) {
  const el = $(id);
  el.classList.remove("pending", "ok", "bad");
  el.classList.add(ok === undefined ? "pending" : ok ? "ok" : "bad");
  el.querySelector("b").textContent = text;
}

badge("badge-coi", crossOriginIsolated, crossOriginIsolated ? "yes" : "no");
if (!crossOriginIsolated) showError("setup", "the page is not cross-origin isolated (the server must send COOP and COEP)");

// ---------------------------------------------------------------------------------------------------------------
// Charts

function axisStyle(extra = {}) {
  return {
    stroke: COLORS.axis, grid: { stroke: COLORS.grid, width: 1 }, ticks: { stroke: COLORS.grid, width: 1, size: 4 },
    font: "11px Inter, system-ui, sans-serif", labelFont: "600 11px Inter, system-ui, sans-serif", ...extra,
  };
}

/** A uPlot chart that follows its container's width. */
function chart(el, opts, data, height = 240) {
  const u = new uPlot({ width: Math.max(200, el.clientWidth), height, ...opts }, data, el);
  // resized in the next frame, not inside the observer's callback (which would make it loop)
  let frame = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => {
      const w = Math.max(200, el.clientWidth);
      if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
    });
  }).observe(el);
  return u;
}

const batchData = { x: [], raw: [], ema: [], acc: [] };
let emaState = { value: 0, t: 0 };
const EMA_BETA = 0.97;
const LOSS_FLOOR = 1e-4; // the log axis's floor: a batch's loss may round to 0

/**
 * The loss axis (log 10): from below the lowest smoothed loss (or the 1st percentile of the raw losses, whichever is
 * lower) to above the 99th percentile of the smoothed loss, so the first batches' spike (about 2.3 for 10 classes)
 * neither flattens the curve nor hides its later decades. Raw losses outside are clipped.
 */
function lossRange() {
  const n = batchData.ema.length;
  if (n === 0) return [0.01, 10];
  const ema = Float64Array.from(batchData.ema).sort();
  const raw = Float64Array.from(batchData.raw).sort();
  const at = (v, q) => v[Math.min(v.length - 1, Math.floor(q * (v.length - 1)))];
  const lo = snap(Math.max(LOSS_FLOOR, Math.min(ema[0], at(raw, 0.01)) / 1.2), Math.floor);
  const hi = snap(Math.max(at(ema, 0.99), batchData.ema[n - 1]) * 1.2, Math.ceil);
  return [lo, Math.max(hi, lo * 10)];
}
/** v rounded to a whole digit times a power of 10 (uPlot's log ticks step by that power from the axis's start). */
function snap(v, round) {
  const p = 10 ** Math.floor(Math.log10(v));
  return +(round(v / p) * p).toPrecision(1);
}

const batchChart = chart($("chart-batch"), {
  legend: { live: true },
  cursor: { drag: { x: true, y: false } },
  scales: {
    x: { time: false, range: (u, min, max) => [0, max == null ? 1 : Math.max(max, 0.01)] }, // labelled before training
    loss: { distr: 3, log: 10, range: () => lossRange() },
    acc: { range: [0, 100] },
  },
  series: [
    { label: "epoch", value: (u, v) => (v == null ? "–" : v.toFixed(2)) },
    { label: "loss", scale: "loss", stroke: COLORS.indigoSoft, width: 1, value: (u, v) => (v == null ? "–" : v.toFixed(3)) },
    { label: "loss (smoothed)", scale: "loss", stroke: COLORS.indigo, width: 2, value: (u, v) => (v == null ? "–" : v.toFixed(3)) },
    { label: "accuracy", scale: "acc", stroke: COLORS.teal, width: 2, spanGaps: true, value: (u, v) => (v == null ? "–" : `${v.toFixed(1)}%`) },
  ],
  axes: [
    axisStyle({ label: "epoch", labelSize: 18, size: 34 }),
    axisStyle({ scale: "loss", label: "loss (log scale)", labelSize: 18, size: 44 }),
    axisStyle({ scale: "acc", side: 1, label: "accuracy %", labelSize: 18, size: 44, grid: { show: false } }),
  ],
}, [[], [], [], []]);

const epochData = { x: [], train: [], test: [] };
const epochChart = chart($("chart-epoch"), {
  legend: { live: true },
  scales: {
    x: { time: false, range: (u, min, max) => [0, Math.max(5, max ?? 0)] },
    y: { range: (u, min, max) => [min == null ? 80 : Math.max(0, Math.min(90, Math.floor(min) - 1)), 100] },
  },
  series: [
    { label: "epoch", value: (u, v) => (v == null ? "–" : String(v)) },
    { label: "train", stroke: COLORS.amber, width: 2, points: { size: 7, fill: COLORS.amber }, value: (u, v) => (v == null ? "–" : `${v.toFixed(2)}%`) },
    { label: "test", stroke: COLORS.teal, width: 2, points: { size: 7, fill: COLORS.teal }, value: (u, v) => (v == null ? "–" : `${v.toFixed(2)}%`) },
  ],
  axes: [
    axisStyle({ label: "epoch", labelSize: 18, size: 34, incrs: [1, 2, 5, 10, 20, 50] }),
    axisStyle({ label: "accuracy %", labelSize: 18, size: 44 }),
  ],
}, [[], [], []]);

let chartsDirty = false;
function redrawCharts() {
  if (chartsDirty) return;
  chartsDirty = true;
  requestAnimationFrame(() => {
    chartsDirty = false;
    batchChart.setData([batchData.x, batchData.raw, batchData.ema, batchData.acc]);
    epochChart.setData([epochData.x, epochData.train, epochData.test]);
    describeCharts();
  });
}

/** The charts' text alternative (role="img" on each plot): what a sighted reader takes from them, kept current. */
function describeCharts() {
  const n = batchData.x.length;
  const acc = batchData.acc.findLast((v) => v != null);
  $("chart-batch").setAttribute("aria-label", n === 0 ? "Per-batch loss chart: no batch trained yet" :
    `Per-batch loss chart (log scale): ${fmt.format(n)} batches over ${batchData.x[n - 1].toFixed(2)} epochs; ` +
    `smoothed loss from ${batchData.ema[0].toFixed(3)} to ${batchData.ema[n - 1].toFixed(3)}` +
    `${acc != null ? `; live accuracy ${acc.toFixed(1)}%` : ""}.`);
  const e = epochData.x.length;
  $("chart-epoch").setAttribute("aria-label", e === 0 ? "Per-epoch accuracy chart: no epoch trained yet" :
    `Per-epoch accuracy chart: after epoch ${epochData.x[e - 1]}, train ${epochData.train[e - 1].toFixed(2)}%, ` +
    `test ${epochData.test[e - 1].toFixed(2)}%` +
    `${e > 1 ? ` (test after epoch ${epochData.x[0]}: ${epochData.test[0].toFixed(2)}%)` : ""}.`);
}

function clearCharts() {
  for (const a of Object.values(batchData)) a.length = 0;
  for (const a of Object.values(epochData)) a.length = 0;
  emaState = { value: 0, t: 0 };
  redrawCharts();
}

// ---------------------------------------------------------------------------------------------------------------
// The strip of training images: the first rows of a recent batch as the network saw them (fit's onBatch
// info.input(), after augmentation, before dropout), sent by the worker a few times a second while it trains.

const STRIP = 12;
let stripUpdates = 0;
const stripCells = Array.from({ length: STRIP }, () => {
  const c = document.createElement("canvas");
  c.width = c.height = 28;
  $("strip").append(c);
  return c;
});
function clearStrip() {
  for (const c of stripCells) c.getContext("2d").clearRect(0, 0, 28, 28);
  $("strip").dataset.filled = "0";
  $("strip").setAttribute("aria-label", "The images of the latest training batch: none yet");
}
/** pixels: rows x 784 grey levels (0..255) of the batch `at` ({ epoch, batch }, from 0). */
function showStrip(pixels, rows, at) {
  stripCells.forEach((c, r) => {
    const ctx = c.getContext("2d");
    if (r >= rows) {
      ctx.clearRect(0, 0, 28, 28);
      return;
    }
    const img = ctx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = pixels[r * 784 + i];
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  });
  stripUpdates++;
  $("strip").dataset.filled = String(rows);
  $("strip").setAttribute("aria-label", `${rows} images of batch ${fmt.format(at.batch + 1)} of epoch ${at.epoch + 1}, ` +
    `as the network trains on them`);
}

// ---------------------------------------------------------------------------------------------------------------
// The training worker

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
worker.addEventListener("error", (e) => {
  e.preventDefault();
  showError("worker", e.message || "the training worker failed to load (see the console)");
});
worker.addEventListener("messageerror", () => showError("worker", "a message from the worker could not be read"));

const ui = {
  state: "loading", network: undefined, trained: false, epoch: 0, target: 0, rows: 60000, speed: 0,
  dataReady: false, loadingFile: false, test: undefined, // test: the latest { accuracy, epoch } on the test set
};
let requestId = 0;
const pending = new Map(); // id -> { resolve, reject }

function ask(type, payload = {}, transfer = []) {
  const id = ++requestId;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ type, id, ...payload }, transfer);
  });
}

function readHidden() {
  const text = $("hp-hidden").value.trim();
  const sizes = text.split(",").map((s) => (/^\s*\d+\s*$/.test(s) ? Number(s) : NaN));
  if (!sizes.every((n) => n >= 1 && n <= 4096)) {
    throw new RangeError(`hidden layers: expected sizes from 1 to 4096 separated by commas (e.g. 100 or 256,128), got "${text}"`);
  }
  return sizes;
}

/**
 * The number fields' own checks beyond min / max (which the browser checks): each sets the field's validity, so a bad
 * value is shown at the field (as the hidden-layers field does) and blocks Start, instead of reaching the worker.
 */
const FIELD_CHECKS = {
  // the library's bounds (fit refuses others): the kernels take the rate as float32, normal and finite
  "hp-lr": (v) => (v > 0 && Number.isFinite(v) ? (v >= 2 ** -126 && v <= 3.4028234663852886e38 ? "" :
    "The learning rate must be within float32's normal range (1.2e-38 to 3.4e38), which the kernels use.") :
    "The learning rate must be a number greater than 0."),
  "hp-dropout": (v) => (v >= 0 && v < 1 ? "" : "Dropout is a probability of dropping, from 0 up to (not including) 1."),
  "hp-input-dropout": (v) => (v >= 0 && v < 1 ? "" : "Input dropout is a probability of dropping, from 0 up to (not including) 1."),
  "hp-shift": (v) => (v >= 0 && v <= 28 ? "" : "The shift is in pixels, from 0 to 28."),
  "hp-rotate": (v) => (v >= 0 && v <= 180 ? "" : "The rotation is in degrees, from 0 to 180."),
  "hp-scale": (v) => (v >= 0 && v < 1 ? "" : "The scale is a fraction, from 0 up to (not including) 1."),
};
function checkFields() {
  for (const [id, check] of Object.entries(FIELD_CHECKS)) {
    const el = $(id);
    el.setCustomValidity(el.value.trim() === "" ? "" : check(Number(el.value))); // empty: `required` says so
  }
}

/** ?limit=N trains on the first N training images only, as the command line's --limit N (for quick checks). */
const LIMIT = (() => {
  const v = Number(new URLSearchParams(location.search).get("limit"));
  return Number.isInteger(v) && v >= 1 ? v : undefined;
})();

/** The network's shape from the form: what a new network is built with (the worker's arch). */
function readArch() {
  return {
    hidden: readHidden(), activation: $("hp-activation").value, dropout: Number($("hp-dropout").value),
    inputDropout: Number($("hp-input-dropout").value),
  };
}

/** fit's augment option from the form, or undefined when every transform is off (MNIST's 28 x 28 images). */
function readAugment() {
  const a = { width: 28, height: 28 };
  for (const k of ["shift", "rotate", "scale"]) {
    const v = Number($(`hp-${k}`).value);
    if (v > 0) a[k] = v;
  }
  if ($("hp-elastic").checked) a.elastic = { alpha: 34, sigma: 4 }; // Simard et al.'s MNIST values
  return Object.keys(a).length > 2 ? a : undefined;
}

function readOptions() {
  checkFields();
  const form = $("train-form");
  if (!form.reportValidity()) return undefined; // the field says what is wrong
  const batchSize = Math.round(Number($("hp-batch").value));
  const epochs = Math.round(Number($("hp-epochs").value));
  const augment = readAugment();
  return {
    ...readArch(), optimizer: $("hp-optimizer").value, lr: Number($("hp-lr").value),
    batchSize: Math.max(1, batchSize), epochs: Math.max(1, epochs), ...(augment ? { augment } : {}),
    ...(LIMIT ? { limit: LIMIT } : {}),
  };
}

/** The command line that trains what the form describes, from a new network of the page's seed (1). */
function showCommand() {
  checkFields();
  let text = "(fix the settings above)";
  try {
    const batch = Number($("hp-batch").value);
    const epochs = Number($("hp-epochs").value);
    if ($("train-form").checkValidity() && Number.isInteger(batch) && Number.isInteger(epochs)) {
      const arch = readArch();
      const augment = readAugment();
      text = `npx softmax-wasm train --hidden ${arch.hidden.join(",")} --activation ${arch.activation} ` +
        `${arch.dropout > 0 ? `--dropout ${arch.dropout} ` : ""}${arch.inputDropout > 0 ? `--input-dropout ${arch.inputDropout} ` : ""}` +
        `--optimizer ${$("hp-optimizer").value} --lr ${Number($("hp-lr").value)} --batch ${batch} --epochs ${epochs}` +
        `${augment ? ` --augment ${augmentFlag(augment)}` : ""} --seed 1${LIMIT ? ` --limit ${LIMIT}` : ""} --save model.swnn`;
    }
  } catch {
    // readHidden's error: the hidden-layers field shows it
  }
  $("cli-command").textContent = text;
}
const FIELDS = ["hp-hidden", "hp-activation", "hp-optimizer", "hp-lr", "hp-batch", "hp-epochs", "hp-dropout",
  "hp-input-dropout", "hp-shift", "hp-rotate", "hp-scale", "hp-elastic"];
for (const id of FIELDS) {
  $(id).addEventListener("input", showCommand);
  $(id).addEventListener("change", showCommand);
}

function archText(n) {
  return `${n.sizes.join("-")} · ${n.hidden} · ${fmt.format(n.parameters)} parameters`;
}

function setState(state) {
  ui.state = state;
  const el = $("st-state");
  el.dataset.state = state;
  el.textContent = {
    loading: "loading…", idle: "ready", starting: ui.dataReady ? "starting…" : "loading MNIST…", training: "training",
    paused: "paused", done: "done",
  }[state] ?? state;
  const busy = state === "training" || state === "starting";
  $("btn-start").disabled = busy || state === "loading";
  $("btn-start").querySelector("span").textContent = state === "paused" ? "Resume" : state === "done" ? "Train more" : "Start";
  $("btn-pause").disabled = !busy;
  $("btn-reset").disabled = state === "loading";
  for (const id of ["btn-save", "btn-save-onnx", "btn-save-safetensors"]) $(id).disabled = state === "loading";
  loadButton();
  document.body.dataset.training = String(busy);
  drawNote();
}

/** "Load .swnn" is off until the worker is up and while a file is being read, checked and evaluated. */
function loadButton() {
  const off = ui.state === "loading" || ui.loadingFile;
  $("file-load").disabled = off;
  $("btn-load-label").classList.toggle("disabled", off);
  $("btn-load-label").setAttribute("aria-disabled", String(off));
}

/** The note under the digit bars: which network answers (untrained, in training, paused, trained, loaded). */
function drawNote() {
  const t = ui.test;
  const on = t ? `: ${pct(t.accuracy)} on the test set${t.epoch !== undefined ? ` after epoch ${t.epoch}` : ""}` : "";
  let text;
  if (ui.fileName && !ui.trainedSinceLoad) text = `Predicting with ${ui.fileName}${t ? ` (${pct(t.accuracy)} on the test set)` : ""}.`;
  else if (!ui.trained) text = "The network is untrained until you press Start: its guesses are noise.";
  else if (ui.state === "training" || ui.state === "starting") text = `Predicting with the network in training${on}.`;
  else if (ui.state === "paused") text = `Predicting with the paused network${on}.`;
  else text = `Predicting with the trained network${on}.`;
  $("draw-note").textContent = text;
}

function showProgress(p) {
  ui.epoch = p.epoch;
  ui.target = p.target;
  const rows = p.rows ?? ui.rows;
  ui.rows = rows;
  const epochShown = Math.min(p.epoch + (p.pos > 0 || ui.state === "training" ? 1 : 0), Math.max(p.target, 1));
  $("st-epoch").textContent = p.target ? `${epochShown} / ${p.target}` : "–";
  if (p.batches) $("st-batch").textContent = `${fmt.format(p.batch)} / ${fmt.format(p.batches)}`;
  $("epoch-bar").style.width = `${((p.pos ?? 0) / rows) * 100}%`;
}

const handlers = {
  state(m) {
    setState(m.state);
    showProgress(m);
    if (m.state === "done") $("epoch-bar").style.width = "100%";
  },
  network(m) {
    ui.network = m.network;
    ui.trained = m.source === "file";
    ui.test = undefined;
    ui.fileName = m.source === "file" ? m.name : undefined;
    ui.trainedSinceLoad = false;
    $("arch").textContent = archText(m.network);
    $("hp-hidden").value = m.network.sizes.slice(1, -1).join(",");
    $("hp-activation").value = m.network.hidden;
    $("hp-dropout").value = String(m.network.dropout[0] ?? 0);
    $("hp-input-dropout").value = String(m.network.inputDropout);
    if (m.source === "file") {
      if (m.optimizer !== "none" && m.optimizer !== $("hp-optimizer").value) {
        $("hp-optimizer").value = m.optimizer;
        $("hp-lr").value = String(DEFAULT_LR[m.optimizer]);
      }
      if (m.run) { // saved mid-run: Resume goes on with that run exactly
        $("hp-batch").value = String(m.run.batchSize);
        $("hp-epochs").value = String(m.run.epochs);
      }
      $("model-status").textContent = `Loaded ${m.name}: ${archText(m.network)}` +
        `${m.optimizer !== "none" ? `, with its ${m.optimizer} state` : ""}` +
        `${m.run ? `, paused in epoch ${m.run.epoch + 1} of ${m.run.epochs} (Resume goes on with it)` : ""}` +
        `. Evaluating on the test set…`;
      showCommand();
    }
    archChanged();
    clearCharts();
    for (const id of ["st-epoch", "st-batch", "st-speed", "st-loss", "st-test"]) $(id).textContent = "–";
    $("epoch-bar").style.width = "0%";
    clearStrip();
    drawNote();
    predictSoon();
  },
  data(m) {
    if (m.status === "loading") {
      badge("badge-data", undefined, "loading…");
      return;
    }
    ui.dataReady = true;
    badge("badge-data", true, `${fmt.format(m.train)} + ${fmt.format(m.test)}`);
    $("badge-data").title = `fetched and parsed in ${m.seconds.toFixed(2)} s`;
    if (ui.state === "starting") setState("starting");
  },
  progress(m) {
    showProgress(m);
    m.losses.forEach((loss, i) => {
      emaState.t++;
      emaState.value = EMA_BETA * emaState.value + (1 - EMA_BETA) * loss;
      const ema = emaState.value / (1 - EMA_BETA ** emaState.t);
      batchData.x.push(m.seen[i] / m.rows); // in epochs: samples seen / training rows
      batchData.raw.push(loss);
      batchData.ema.push(ema);
      batchData.acc.push(i === m.losses.length - 1 ? m.probe * 100 : null);
    });
    if (m.losses.length) $("st-loss").textContent = batchData.ema.at(-1).toFixed(4);
    if (m.samplesPerSecond > 0 && m.losses.length) {
      ui.speed = ui.speed ? 0.7 * ui.speed + 0.3 * m.samplesPerSecond : m.samplesPerSecond;
      $("st-speed").textContent = fmt.format(Math.round(ui.speed / 100) * 100);
    }
    ui.trained = true;
    ui.trainedSinceLoad = true;
    drawNote();
    if (m.strip) showStrip(m.strip.pixels, m.strip.rows, m.strip);
    redrawCharts();
  },
  epoch(m) {
    epochData.x.push(m.epoch);
    epochData.train.push(m.trainAccuracy * 100);
    epochData.test.push(m.testAccuracy * 100);
    $("st-test").textContent = pct(m.testAccuracy);
    $("st-test").title = `test loss ${m.testLoss.toFixed(4)}, train ${pct(m.trainAccuracy)} (loss ${m.trainLoss.toFixed(4)})`;
    ui.test = { accuracy: m.testAccuracy, epoch: m.epoch };
    drawNote();
    redrawCharts();
    predictSoon();
  },
  evaluated(m) {
    $("st-test").textContent = pct(m.testAccuracy);
    $("model-status").textContent = `Loaded ${m.name}: ${archText(ui.network)} · test accuracy ${pct(m.testAccuracy)} ` +
      `(loss ${m.testLoss.toFixed(4)}). Press Start to keep training it.`;
    ui.test = { accuracy: m.testAccuracy };
    ui.loadingFile = false;
    loadButton();
    drawNote();
  },
  prediction(m) {
    pending.get(m.id)?.resolve(m);
    pending.delete(m.id);
  },
  saved(m) {
    pending.get(m.id)?.resolve(m);
    pending.delete(m.id);
  },
  failed(m) {
    pending.get(m.id)?.reject(new Error("the worker reported a failure (shown above)"));
    pending.delete(m.id);
  },
  error(m) {
    if (m.context === "load") {
      ui.loadingFile = false;
      loadButton();
    }
    showError(`worker · ${m.context}`, m.message);
  },
};

worker.addEventListener("message", ({ data: m }) => {
  const h = handlers[m.type];
  if (!h) {
    showError("worker", `unknown message type ${JSON.stringify(m.type)}`);
    return;
  }
  try {
    h(m);
  } catch (err) {
    showError(`handling the worker's ${m.type}`, err);
  }
});

const DEFAULT_LR = { adam: 0.001, adamw: 0.001, sgd: 0.1 };
let lastOptimizer = $("hp-optimizer").value;
$("hp-optimizer").addEventListener("change", () => {
  const next = $("hp-optimizer").value;
  if (Number($("hp-lr").value) === DEFAULT_LR[lastOptimizer]) $("hp-lr").value = String(DEFAULT_LR[next]);
  showCommand();
  lastOptimizer = next;
});

function archChanged() {
  try {
    const hidden = readHidden();
    $("hp-hidden").setCustomValidity("");
    const n = ui.network;
    const a = readArch();
    const differs = n && (String(hidden) !== String(n.sizes.slice(1, -1)) || a.activation !== n.hidden ||
      n.dropout.some((p) => p !== a.dropout) || n.inputDropout !== a.inputDropout);
    $("train-hint").classList.toggle("warn", Boolean(differs && ui.trained));
    if (differs && ui.trained) $("train-hint").textContent = "The network has trained already: press Reset to build it with the new hidden layers, activation or dropout.";
    else $("train-hint").textContent = "Hidden layers, activation and dropout apply to a new network (before the first batch, or on Reset); optimizer, learning rate, batch size and augmentation apply from the next start. Switching the optimizer starts its state from zero.";
  } catch (err) {
    $("hp-hidden").setCustomValidity(err.message);
  }
}
for (const id of ["hp-hidden", "hp-dropout", "hp-input-dropout"]) $(id).addEventListener("input", archChanged);
$("hp-activation").addEventListener("change", archChanged);

$("train-form").addEventListener("submit", guard("start", (e) => {
  e.preventDefault();
  const options = readOptions();
  if (!options) return;
  if (ui.state === "done") ui.target = 0;
  worker.postMessage({ type: "start", options });
}));
$("btn-pause").addEventListener("click", () => worker.postMessage({ type: "pause" }));
$("btn-reset").addEventListener("click", guard("reset", () => {
  checkFields();
  for (const id of ["hp-hidden", "hp-dropout", "hp-input-dropout"]) if (!$(id).reportValidity()) return;
  ui.speed = 0;
  worker.postMessage({ type: "reset", arch: readArch() });
}));

/** Downloads the worker's network in one format: .swnn (with the optimizer state and the run), .onnx or .safetensors. */
const download = (format) => guard("download", async () => {
  const { bytes, name } = await ask("save", { format });
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  const a = $("download-link");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  $("model-status").textContent = `Saved ${name} (${fmt.format(bytes.length)} bytes). Check it with: npx softmax-wasm evaluate --model ${name}`;
});
$("btn-save").addEventListener("click", download("swnn"));
$("btn-save-onnx").addEventListener("click", download("onnx"));
$("btn-save-safetensors").addEventListener("click", download("safetensors"));

$("file-load").addEventListener("change", guard("load", async (e) => {
  const file = e.target.files?.[0];
  e.target.value = "";
  if (!file) return;
  $("model-status").textContent = `Reading ${file.name}…`;
  ui.loadingFile = true;
  loadButton();
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    worker.postMessage({ type: "load", bytes, name: file.name }, [bytes.buffer]);
  } catch (err) {
    ui.loadingFile = false;
    loadButton();
    throw err;
  }
}));

// ---------------------------------------------------------------------------------------------------------------
// The drawing pad

const pad = $("pad");
pad.width = pad.height = Math.round(360 * Math.min(2, Math.max(1, devicePixelRatio || 1))); // crisp ink on hi-DPI
const padCtx = pad.getContext("2d", { willReadFrequently: true });
const preview = $("preview");
const previewCtx = preview.getContext("2d");
const STROKE = 0.075; // line width, as a fraction of the pad
let drawing = false;
let last = null;
let inked = false;
let predictions = 0;

function padPoint(e) {
  const r = pad.getBoundingClientRect();
  return { x: ((e.clientX - r.left) / r.width) * pad.width, y: ((e.clientY - r.top) / r.height) * pad.height };
}

function stroke(from, to) {
  padCtx.strokeStyle = "#0f172a";
  padCtx.fillStyle = "#0f172a";
  padCtx.lineWidth = pad.width * STROKE;
  padCtx.lineCap = "round";
  padCtx.lineJoin = "round";
  padCtx.beginPath();
  if (from.x === to.x && from.y === to.y) {
    padCtx.arc(to.x, to.y, padCtx.lineWidth / 2, 0, Math.PI * 2);
    padCtx.fill();
    return;
  }
  padCtx.moveTo(from.x, from.y);
  padCtx.lineTo(to.x, to.y);
  padCtx.stroke();
}

pad.addEventListener("pointerdown", (e) => {
  if (e.button !== 0 && e.pointerType === "mouse") return;
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  drawing = true;
  last = padPoint(e);
  stroke(last, last);
  inked = true;
  $("pad-hint").hidden = true;
  predictSoon();
});
pad.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  const events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
  for (const ev of events.length ? events : [e]) {
    const p = padPoint(ev);
    stroke(last, p);
    last = p;
  }
  predictSoon();
});
const endStroke = () => {
  if (!drawing) return;
  drawing = false;
  last = null;
  predictSoon(true);
};
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);
pad.addEventListener("lostpointercapture", endStroke);

$("btn-clear").addEventListener("click", () => {
  padCtx.clearRect(0, 0, pad.width, pad.height);
  previewCtx.clearRect(0, 0, 28, 28);
  inked = false;
  $("pad-hint").hidden = false;
  showDigitBars(null);
});

// Predictions are asked of the worker, which owns the network, rather than of a main-thread copy loaded from save()
// bytes after each epoch: the answer comes from the network as it is right now (mid-epoch too, since fit yields
// between batches and predict may run there), with no second copy of the weights, and nothing heavier than a
// 784-byte message crosses per request. At most one request is in flight, one every 80 ms while drawing, plus a last
// one after the stroke.
const PREDICT_MS = 80;
let inFlight = false;
let queued = false;
let lastAsk = 0;
let timer = 0;
function predictSoon(now = false) {
  if (!inked) return;
  queued = true;
  if (inFlight) return;
  const wait = now ? 0 : Math.max(0, lastAsk + PREDICT_MS - performance.now());
  clearTimeout(timer);
  timer = setTimeout(guard("predict", predictNow), wait);
}

async function predictNow() {
  if (!queued || inFlight || !inked) return;
  queued = false;
  const { width, height } = pad;
  const alpha = new Uint8Array(width * height);
  const rgba = padCtx.getImageData(0, 0, width, height).data;
  for (let i = 0; i < alpha.length; i++) alpha[i] = rgba[4 * i + 3];
  const pixels = toMnist(alpha, width, height);
  if (!pixels) return;
  drawPreview(pixels);
  inFlight = true;
  lastAsk = performance.now();
  try {
    const { probs } = await ask("predict", { pixels });
    predictions++;
    showDigitBars(probs);
  } finally {
    inFlight = false;
    if (queued) predictSoon();
  }
}

function drawPreview(pixels) {
  const img = previewCtx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = pixels[i];
    img.data[4 * i + 3] = 255;
  }
  previewCtx.putImageData(img, 0, 0);
}

function makeBars(container, n, label) {
  const bars = [];
  for (let i = 0; i < n; i++) {
    const el = document.createElement("div");
    el.className = "barrow";
    el.setAttribute("role", "listitem");
    el.dataset.index = String(i);
    el.innerHTML = '<span class="lab"></span><span class="track"><span class="fill"></span></span><span class="num">–</span>';
    el.querySelector(".lab").textContent = label(i);
    container.append(el);
    bars.push(el);
  }
  return bars;
}

const digitBars = makeBars($("digit-bars"), 10, String);
function showDigitBars(probs) {
  let top = -1;
  digitBars.forEach((el, i) => {
    const p = probs ? probs[i] : 0;
    if (probs && (top < 0 || p > probs[top])) top = i;
    el.dataset.p = probs ? String(p) : "";
    el.querySelector(".fill").style.setProperty("--p", String(p));
    el.querySelector(".num").textContent = probs ? probText(p) : "–";
  });
  digitBars.forEach((el, i) => el.classList.toggle("is-top", i === top));
  $("digit-bars").dataset.updated = String(predictions);
  const g = $("guess");
  g.textContent = top >= 0 ? String(top) : "?";
  g.dataset.digit = top >= 0 ? String(top) : "";
  $("guess-conf").textContent = top >= 0 ? `${probText(probs[top])} sure` : "draw a digit";
  $("guess-conf").dataset.empty = String(top < 0);
}
showDigitBars(null);

// ---------------------------------------------------------------------------------------------------------------
// Softmax explorer (the page's own instance of the library)

const LOGITS = [2.0, 1.0, 0.1, -1.0, 3.0];
const HUES = ["#4f46e5", "#0d9488", "#d97706", "#e11d48", "#7c3aed"];
const logitInputs = LOGITS.map((z, i) => {
  const row = document.createElement("div");
  row.className = "slider";
  row.innerHTML = `<label><span class="dot"></span><span>z<sub>${i + 1}</sub></span><b></b></label><input type="range" min="-6" max="6" step="0.1">`;
  row.style.setProperty("--hue", HUES[i]);
  const input = row.querySelector("input");
  input.id = `logit-${i}`;
  row.querySelector("label").htmlFor = input.id;
  input.value = String(z);
  input.setAttribute("aria-label", `logit ${i + 1}`);
  $("logit-sliders").append(row);
  return input;
});
const softmaxBars = makeBars($("softmax-bars"), LOGITS.length, (i) => `p${i + 1}`);
softmaxBars.forEach((el, i) => {
  el.style.setProperty("--hue", HUES[i]);
  el.querySelector(".lab").innerHTML = `p<sub>${i + 1}</sub>`;
});

function temperature() {
  return Math.exp(Number($("temp").value));
}

let libraryReady = false;
function updateExplorer() {
  if (!libraryReady) return;
  const z = Float32Array.from(logitInputs, (el) => Number(el.value));
  const T = temperature();
  logitInputs.forEach((el) => { el.previousElementSibling.querySelector("b").textContent = Number(el.value).toFixed(1); });
  const tText = T.toFixed(2); // one text for T in the label and in the sum line
  $("temp-value").textContent = tText;
  const p = softmax(z, z.length, { temperature: T });
  let sum = 0;
  softmaxBars.forEach((el, i) => {
    sum += p[i];
    el.dataset.p = String(p[i]);
    el.querySelector(".fill").style.setProperty("--p", String(p[i]));
    el.querySelector(".num").textContent = p[i].toFixed(4);
  });
  $("softmax-sum").textContent = `Σ p = ${sum.toFixed(6)} · T = ${tText}`;
  $("softmax-bars").dataset.sum = String(sum);
}
for (const el of [...logitInputs, $("temp")]) el.addEventListener("input", guard("softmax explorer", updateExplorer));
$("btn-randomize").addEventListener("click", guard("softmax explorer", () => {
  for (const el of logitInputs) el.value = String(Math.round((Math.random() * 8 - 4) * 10) / 10);
  updateExplorer();
}));

// ---------------------------------------------------------------------------------------------------------------
// The learning slowdown, exactly as `softmax-wasm slowdown` runs it: output unit 0 of
// Network({ sizes: [1, 2], output: 'sigmoid', cost }) trained on label 1 (unit 0's target is 0), started at
// w = b = 2 (unit 1, the mirror image, at w = b = -2), plain SGD, lr 0.15, one example per epoch.

const SLOW_EPOCHS = 300;
const SLOW_LR = 0.15;
async function slowdownRun(cost) {
  const x = Float32Array.of(1);
  const label = Uint8Array.of(1);
  const net = new Network({ sizes: [1, 2], output: "sigmoid", cost });
  try {
    net.setParameters(Float32Array.of(2, -2, 2, -2)); // W (1 x 2) then b (2)
    const outputs = [net.predict(x)[0]];
    for (let e = 1; e <= SLOW_EPOCHS; e++) {
      await net.fit(x, label, { epochs: 1, batchSize: 1, shuffle: false, optimizer: { name: "sgd", lr: SLOW_LR } });
      outputs.push(net.predict(x)[0]);
    }
    return outputs;
  } finally {
    net.dispose();
  }
}

const slowChart = chart($("chart-slowdown"), {
  legend: { live: true },
  scales: { x: { time: false, range: [0, SLOW_EPOCHS] }, q: { range: [0, 0.5] }, ce: { range: [0, 4] } },
  series: [
    { label: "epoch", value: (u, v) => (v == null ? "–" : String(v)) },
    { label: "quadratic cost a²/2", scale: "q", stroke: COLORS.rose, width: 2.5, value: (u, v) => (v == null ? "–" : v.toFixed(4)) },
    { label: "cross-entropy −ln(1 − a)", scale: "ce", stroke: COLORS.indigo, width: 2.5, value: (u, v) => (v == null ? "–" : v.toFixed(4)) },
  ],
  axes: [
    axisStyle({ label: "epoch", labelSize: 18, size: 34 }),
    axisStyle({ scale: "q", label: "quadratic cost", labelSize: 18, size: 48, stroke: COLORS.rose }),
    axisStyle({ scale: "ce", side: 1, label: "cross-entropy cost", labelSize: 18, size: 40, stroke: COLORS.indigo, grid: { show: false } }),
  ],
}, [[], [], []], 260);

let slow;
let slowAnim = 0;
function animateSlowdown() {
  cancelAnimationFrame(slowAnim);
  const t0 = performance.now();
  const DURATION = 2400;
  const frame = (now) => {
    const k = Math.min(1, (now - t0) / DURATION);
    const n = Math.max(1, Math.round(k * k * SLOW_EPOCHS)) + 1; // eased: the interesting start goes slowly
    slowChart.setData([slow.x.slice(0, n), slow.q.slice(0, n), slow.ce.slice(0, n)]);
    if (k < 1) slowAnim = requestAnimationFrame(frame);
    else $("btn-replay").disabled = false;
  };
  $("btn-replay").disabled = true;
  slowAnim = requestAnimationFrame(frame);
}
$("btn-replay").addEventListener("click", animateSlowdown);

async function runSlowdown() {
  const quad = await slowdownRun("quadratic");
  const ce = await slowdownRun("crossEntropy");
  slow = {
    x: quad.map((_, i) => i),
    q: quad.map((a) => (a * a) / 2), // (y - a)^2 / 2 with y = 0
    ce: ce.map((a) => -Math.log(1 - a)), // -[y ln a + (1 - y) ln(1 - a)] with y = 0
  };
  const below = (o) => o.findIndex((a) => a < 0.5);
  $("slowdown-readout").textContent = `After 30 epochs: quadratic a = ${quad[30].toFixed(3)}, cross-entropy a = ${ce[30].toFixed(3)}. ` +
    `The output falls below 0.5 after ${below(ce)} epochs with cross-entropy and ` +
    `${below(quad) < 0 ? `not within ${SLOW_EPOCHS}` : below(quad)} epochs with the quadratic cost.`;
  $("chart-slowdown").setAttribute("aria-label", `Learning-slowdown chart over ${SLOW_EPOCHS} epochs: the quadratic cost ` +
    `stays near ${slow.q[0].toFixed(2)} for dozens of epochs while the cross-entropy cost falls from ${slow.ce[0].toFixed(2)} ` +
    `to ${slow.ce[30].toFixed(3)} by epoch 30. ${$("slowdown-readout").textContent}`);
  window.__demo.slowdown = { quadratic: quad, crossEntropy: ce };
  animateSlowdown();
}

// ---------------------------------------------------------------------------------------------------------------
// Start-up, and the debug hook the end-to-end test reads

window.__demo = {
  get state() { return ui.state; },
  get libraryReady() { return libraryReady; },
  get dataReady() { return ui.dataReady; },
  get predictions() { return predictions; },
  /** No prediction in flight or waiting: the bars show the drawing as it is. */
  get drawIdle() { return !inFlight && !queued && !drawing; },
  lossPoints: () => batchData.x.length,
  /** How many times the strip of training images was redrawn. */
  get stripUpdates() { return stripUpdates; },
  epochPoints: () => epochData.x.length,
  errors,
  slowdown: undefined,
};

worker.postMessage({ type: "init", arch: readArch() });
showCommand();

try {
  await ready();
  libraryReady = true;
  badge("badge-wasm", true, "ready");
  updateExplorer();
  runSlowdown().catch((err) => showError("learning slowdown", err));
} catch (err) {
  badge("badge-wasm", false, "failed");
  showError("loading the library", err);
}
