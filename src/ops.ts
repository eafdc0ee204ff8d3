// The public kernels: check every argument, copy the inputs into the arena, run one Wasm driver, copy the results
// out, release the arena. Inputs are never mutated; caller-given out / grad buffers are filled and returned.
import { engine } from "./engine.js";
import {
  columns, float32Array, integer, isLabels, labelWeight, options, outBuffer, probabilities, reduction, rowsOf,
  sameLength, temperatureScale, unitInterval, type Labels, type Reduction,
} from "./checks.js";

export interface TemperatureOptions { temperature?: number; out?: Float32Array }
export interface OutOptions { out?: Float32Array }
export interface CrossEntropyOptions {
  reduction?: Reduction; weight?: Float32Array; ignoreIndex?: number; labelSmoothing?: number; grad?: Float32Array;
}
export interface BinaryCrossEntropyOptions { reduction?: Reduction; posWeight?: Float32Array; grad?: Float32Array }
export interface LossResult { loss: number | Float32Array; grad: Float32Array }

const TEMPERATURE_OPTS = ["temperature", "out"] as const;
const OUT_OPTS = ["out"] as const;
const CE_OPTS = ["reduction", "weight", "ignoreIndex", "labelSmoothing", "grad"] as const;
const BCE_OPTS = ["reduction", "posWeight", "grad"] as const;
const GRAD_OPTS = ["grad"] as const;

/** Rows of softmax(x / temperature). */
export function softmax(x: Float32Array, cols: number, opts?: TemperatureOptions): Float32Array {
  return rowwise("softmax", x, cols, opts, 0);
}

/** Rows of log softmax(x / temperature), computed directly (never as the log of softmax). */
export function logSoftmax(x: Float32Array, cols: number, opts?: TemperatureOptions): Float32Array {
  return rowwise("logSoftmax", x, cols, opts, 1);
}

function rowwise(fn: string, x: Float32Array, cols: number, opts: TemperatureOptions | undefined, log: 0 | 1): Float32Array {
  const e = engine(fn);
  const o = options(fn, opts, TEMPERATURE_OPTS);
  float32Array(fn, "x", x);
  const rows = rowsOf(fn, "x", x, columns(fn, cols));
  const scale = temperatureScale(fn, o.temperature);
  const out = outBuffer(fn, "opts.out", o.out, x.length);
  const mark = e.mark();
  try {
    const p = e.put(x);
    if (e.pool) e.pool.softmaxRows(log === 1, p, p, rows, cols, scale); // ready({ threads: n > 1 }) only
    else if (log) e.k.log_softmax_forward(p, p, rows, cols, scale);
    else e.k.softmax_forward(p, p, rows, cols, scale);
    e.get(p, out, x.length);
  } finally {
    e.release(mark);
  }
  return out;
}

/** dL/dx of y = softmax(x) given dy = dL/dy: y * (dy - sum_j dy_j y_j) per row. */
export function softmaxBackward(y: Float32Array, dy: Float32Array, cols: number, opts?: OutOptions): Float32Array {
  return backward("softmaxBackward", "y", y, dy, cols, opts, 0);
}

/** dL/dx of logp = logSoftmax(x) given dy = dL/dlogp: dy - e^logp * sum_j dy_j per row. */
export function logSoftmaxBackward(logp: Float32Array, dy: Float32Array, cols: number, opts?: OutOptions): Float32Array {
  return backward("logSoftmaxBackward", "logp", logp, dy, cols, opts, 1);
}

function backward(fn: string, yName: string, y: Float32Array, dy: Float32Array, cols: number,
  opts: OutOptions | undefined, log: 0 | 1): Float32Array {
  const e = engine(fn);
  const o = options(fn, opts, OUT_OPTS);
  float32Array(fn, yName, y);
  float32Array(fn, "dy", dy);
  const rows = rowsOf(fn, yName, y, columns(fn, cols));
  sameLength(fn, "dy", dy, y.length, `${yName}.length`);
  const out = outBuffer(fn, "opts.out", o.out, y.length);
  const mark = e.mark();
  try {
    const py = e.put(y);
    const pdy = e.put(dy);
    if (log) e.k.log_softmax_backward(py, pdy, pdy, rows, cols);
    else e.k.softmax_backward(py, pdy, pdy, rows, cols);
    e.get(pdy, out, y.length);
  } finally {
    e.release(mark);
  }
  return out;
}

/**
 * Softmax + cross-entropy fused, as PyTorch's F.cross_entropy: an integer target holds a class per row, a Float32Array
 * target holds probabilities (rows x cols). Returns the loss (a Float32Array per row for 'none') and d(loss)/d(logits).
 */
export function crossEntropy(logits: Float32Array, cols: number, target: Labels | Float32Array,
  opts?: CrossEntropyOptions): LossResult {
  const fn = "crossEntropy";
  const e = engine(fn);
  const o = options(fn, opts, CE_OPTS);
  float32Array(fn, "logits", logits);
  const rows = rowsOf(fn, "logits", logits, columns(fn, cols));
  const red = reduction(fn, o.reduction);
  const weight = o.weight === undefined ? undefined : float32Array(fn, "opts.weight", o.weight);
  if (weight !== undefined) sameLength(fn, "opts.weight", weight, cols, "cols");
  const ignoreIndex = integer(fn, "opts.ignoreIndex", o.ignoreIndex, -100);
  const smoothing = unitInterval(fn, "opts.labelSmoothing", o.labelSmoothing);
  const grad = outBuffer(fn, "opts.grad", o.grad, logits.length);
  let scale: number;
  let counted = 0;
  if (target instanceof Float32Array) {
    sameLength(fn, "target", target, logits.length, "logits.length (a probability target is rows x cols)");
    scale = red === "mean" ? 1 / rows : 1;
  } else if (isLabels(target)) {
    if (target.length !== rows) throw new RangeError(`${fn}: target.length (${target.length}) must equal the row count (${rows})`);
    counted = labelWeight(fn, target, cols, ignoreIndex, weight);
    scale = red === "mean" ? 1 / counted : 1;
  } else {
    throw new TypeError(`${fn}: target must be an Int32Array, Uint8Array or Uint16Array of class indices or a Float32Array of probabilities`);
  }
  const losses = red === "none" ? new Float32Array(rows) : undefined;
  const mark = e.mark();
  let total: number;
  try {
    const pz = e.put(logits);
    const pw = weight === undefined ? 0 : e.put(weight);
    const pl = losses === undefined ? 0 : e.alloc(rows * 4);
    if (target instanceof Float32Array) {
      const pq = e.put(target);
      total = e.k.cross_entropy_prob(pz, pq, pw, pz, pl, rows, cols, smoothing, scale);
    } else {
      const py = e.putI32(target);
      const wsum = weight === undefined ? cols : sum(weight);
      // the mean with every row ignored is 0/0 = NaN, as in PyTorch; its gradient is zero
      if (e.pool) { // ready({ threads: n > 1 }) only
        total = e.pool.crossEntropyIndex(pz, py, pw, pz, pl, rows, cols, ignoreIndex, smoothing, wsum,
          Number.isFinite(scale) ? scale : 0);
      } else {
        total = e.k.cross_entropy_index(pz, py, pw, pz, pl, rows, cols, ignoreIndex, smoothing, wsum,
          Number.isFinite(scale) ? scale : 0);
      }
    }
    e.get(pz, grad, logits.length);
    if (losses !== undefined) e.get(pl, losses, rows);
  } finally {
    e.release(mark);
  }
  return { loss: losses ?? (red === "mean" ? total * scale : total), grad };
}

/** Sigmoid + binary cross-entropy on logits, as PyTorch's F.binary_cross_entropy_with_logits, with its gradient. */
export function binaryCrossEntropyWithLogits(logits: Float32Array, target: Float32Array,
  opts?: BinaryCrossEntropyOptions): LossResult {
  const fn = "binaryCrossEntropyWithLogits";
  const e = engine(fn);
  const o = options(fn, opts, BCE_OPTS);
  float32Array(fn, "logits", logits);
  float32Array(fn, "target", target);
  sameLength(fn, "target", target, logits.length, "logits.length");
  const red = reduction(fn, o.reduction);
  const posWeight = o.posWeight === undefined ? undefined : float32Array(fn, "opts.posWeight", o.posWeight);
  if (posWeight !== undefined && (posWeight.length === 0 || logits.length % posWeight.length !== 0)) {
    throw new RangeError(`${fn}: logits.length (${logits.length}) must be a multiple of opts.posWeight.length ` +
      `(${posWeight.length}), which broadcasts along the last dimension`);
  }
  const grad = outBuffer(fn, "opts.grad", o.grad, logits.length);
  const n = logits.length;
  const scale = red === "mean" ? 1 / n : 1;
  const losses = red === "none" ? new Float32Array(n) : undefined;
  const mark = e.mark();
  let total: number;
  try {
    const pz = e.put(logits);
    const pt = e.put(target);
    const pl = losses === undefined ? 0 : e.alloc(n * 4);
    let pw = 0;
    let period = 0;
    if (posWeight !== undefined) {
      // tiled to about 1024 elements so the kernel walks whole rows of pos weights in SIMD
      const c = posWeight.length;
      period = c * Math.max(1, Math.ceil(1024 / c));
      pw = e.alloc(period * 4);
      const tiled = e.f32(pw, period);
      for (let i = 0; i < period; i += c) tiled.set(posWeight, i);
    }
    total = e.k.bce_with_logits(pz, pt, pw, period, pz, pl, n, Number.isFinite(scale) ? scale : 0);
    e.get(pz, grad, n);
    if (losses !== undefined) e.get(pl, losses, n);
  } finally {
    e.release(mark);
  }
  return { loss: losses ?? (red === "mean" ? total * scale : total), grad };
}

/** sigma(x) = 1 / (1 + e^-x), element-wise. */
export function sigmoid(x: Float32Array, opts?: OutOptions): Float32Array {
  const fn = "sigmoid";
  const e = engine(fn);
  const o = options(fn, opts, OUT_OPTS);
  float32Array(fn, "x", x);
  const out = outBuffer(fn, "opts.out", o.out, x.length);
  const mark = e.mark();
  try {
    const p = e.put(x);
    e.k.sigmoid_forward(p, p, x.length);
    e.get(p, out, x.length);
  } finally {
    e.release(mark);
  }
  return out;
}

/** The quadratic cost C = 1/(2n) sum over the n rows of ||a - y||^2, and its gradient (a - y) / n. */
export function quadraticCost(a: Float32Array, y: Float32Array, cols: number, opts?: { grad?: Float32Array }):
  { loss: number; grad: Float32Array } {
  const fn = "quadraticCost";
  const e = engine(fn);
  const o = options(fn, opts, GRAD_OPTS);
  float32Array(fn, "a", a);
  float32Array(fn, "y", y);
  const rows = rowsOf(fn, "a", a, columns(fn, cols));
  sameLength(fn, "y", y, a.length, "a.length");
  const grad = outBuffer(fn, "opts.grad", o.grad, a.length);
  const mark = e.mark();
  let loss: number;
  try {
    const pa = e.put(a);
    const py = e.put(y);
    loss = e.k.quadratic_cost(pa, py, pa, a.length, rows);
    e.get(pa, grad, a.length);
  } finally {
    e.release(mark);
  }
  return { loss, grad };
}

/** Inverse softmax: z = ln p + c per row, c making the row's mean finite logit 0; p = 0 gives -Infinity. */
export function logitsFromProbs(p: Float32Array, cols: number, opts?: OutOptions): Float32Array {
  const fn = "logitsFromProbs";
  const e = engine(fn);
  const o = options(fn, opts, OUT_OPTS);
  float32Array(fn, "p", p);
  const rows = rowsOf(fn, "p", p, columns(fn, cols));
  probabilities(fn, "p", p);
  const out = outBuffer(fn, "opts.out", o.out, p.length);
  const mark = e.mark();
  try {
    const pp = e.put(p);
    e.k.logits_from_probs(pp, pp, rows, cols);
    e.get(pp, out, p.length);
  } finally {
    e.release(mark);
  }
  return out;
}

function sum(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return s;
}
