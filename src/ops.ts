// The public kernels: check every argument, place the inputs in Wasm memory (where a WasmArray already is, else a
// copy in the arena), run one Wasm driver, put the results out (in place for a WasmArray), release the arena.
// Inputs are never mutated; caller-given out / grad buffers are filled and returned.
import { engine } from "./engine.js";
import {
  columns, float32Array, floats, integer, isLabels, labelWeight, options, outBuffer, probabilities, reduction, rowsOf,
  sameLength, temperatureScale, unitInterval, type Labels, type Reduction,
} from "./checks.js";
import { deliver, destination, floatsOf, place, residentAt, WasmArray, type Floats } from "./wasm-array.js";

export interface TemperatureOptions<O extends Floats = Float32Array> { temperature?: number; out?: O }
export interface OutOptions<O extends Floats = Float32Array> { out?: O }
export interface CrossEntropyOptions<G extends Floats = Float32Array> {
  reduction?: Reduction; weight?: Float32Array; ignoreIndex?: number; labelSmoothing?: number; grad?: G;
}
export interface BinaryCrossEntropyOptions<G extends Floats = Float32Array> {
  reduction?: Reduction; posWeight?: Float32Array; grad?: G;
}
export interface LossResult<G extends Floats = Float32Array> { loss: number | Float32Array; grad: G }

const TEMPERATURE_OPTS = ["temperature", "out"] as const;
const OUT_OPTS = ["out"] as const;
const CE_OPTS = ["reduction", "weight", "ignoreIndex", "labelSmoothing", "grad"] as const;
const BCE_OPTS = ["reduction", "posWeight", "grad"] as const;
const GRAD_OPTS = ["grad"] as const;

/** Rows of softmax(x / temperature). */
export function softmax<O extends Floats = Float32Array>(x: Floats, cols: number, opts?: TemperatureOptions<O>): O {
  return rowwise("softmax", x, cols, opts, 0) as O;
}

/** Rows of log softmax(x / temperature), computed directly (never as the log of softmax). */
export function logSoftmax<O extends Floats = Float32Array>(x: Floats, cols: number, opts?: TemperatureOptions<O>): O {
  return rowwise("logSoftmax", x, cols, opts, 1) as O;
}

function rowwise(fn: string, x: Floats, cols: number, opts: TemperatureOptions<Floats> | undefined, log: 0 | 1): Floats {
  const e = engine(fn);
  const o = options(fn, opts, TEMPERATURE_OPTS);
  floats(fn, "x", x);
  const rows = rowsOf(fn, "x", x, columns(fn, cols));
  const scale = temperatureScale(fn, o.temperature);
  const out = outBuffer(fn, "opts.out", o.out, x.length);
  const outAt = residentAt(e, out);
  const mark = e.mark();
  try {
    const px = place(e, x);
    const py = destination(e, outAt, x.length, mark, px);
    if (e.pool) e.pool.softmaxRows(log === 1, px, py, rows, cols, scale); // ready({ threads: n > 1 }) only
    else if (log) e.k.log_softmax_forward(px, py, rows, cols, scale);
    else e.k.softmax_forward(px, py, rows, cols, scale);
    deliver(e, py, out, outAt, x.length);
  } finally {
    e.release(mark);
  }
  return out;
}

/** dL/dx of y = softmax(x) given dy = dL/dy: y * (dy - sum_j dy_j y_j) per row. */
export function softmaxBackward<O extends Floats = Float32Array>(y: Floats, dy: Floats, cols: number,
  opts?: OutOptions<O>): O {
  return backward("softmaxBackward", "y", y, dy, cols, opts, 0) as O;
}

/** dL/dx of logp = logSoftmax(x) given dy = dL/dlogp: dy - e^logp * sum_j dy_j per row. */
export function logSoftmaxBackward<O extends Floats = Float32Array>(logp: Floats, dy: Floats, cols: number,
  opts?: OutOptions<O>): O {
  return backward("logSoftmaxBackward", "logp", logp, dy, cols, opts, 1) as O;
}

function backward(fn: string, yName: string, y: Floats, dy: Floats, cols: number,
  opts: OutOptions<Floats> | undefined, log: 0 | 1): Floats {
  const e = engine(fn);
  const o = options(fn, opts, OUT_OPTS);
  floats(fn, yName, y);
  floats(fn, "dy", dy);
  const rows = rowsOf(fn, yName, y, columns(fn, cols));
  sameLength(fn, "dy", dy, y.length, `${yName}.length`);
  const out = outBuffer(fn, "opts.out", o.out, y.length);
  const outAt = residentAt(e, out);
  const mark = e.mark();
  try {
    const py = place(e, y);
    const pdy = place(e, dy);
    const pdx = destination(e, outAt, y.length, mark, pdy); // dx may be y or dy: each row reads both before writing
    if (e.pool) e.pool.softmaxBackward(log === 1, py, pdy, pdx, rows, cols);
    else if (log) e.k.log_softmax_backward(py, pdy, pdx, rows, cols);
    else e.k.softmax_backward(py, pdy, pdx, rows, cols);
    deliver(e, pdx, out, outAt, y.length);
  } finally {
    e.release(mark);
  }
  return out;
}

/**
 * Softmax + cross-entropy fused, as PyTorch's F.cross_entropy: an integer target holds a class per row, a Float32Array
 * target holds probabilities (rows x cols). Returns the loss (a Float32Array per row for 'none') and d(loss)/d(logits).
 */
export function crossEntropy<G extends Floats = Float32Array>(logits: Floats, cols: number,
  target: Labels | Floats, opts?: CrossEntropyOptions<G>): LossResult<G> {
  const fn = "crossEntropy";
  const e = engine(fn);
  const o = options(fn, opts, CE_OPTS);
  floats(fn, "logits", logits);
  const rows = rowsOf(fn, "logits", logits, columns(fn, cols));
  const red = reduction(fn, o.reduction);
  const weight = o.weight === undefined ? undefined : float32Array(fn, "opts.weight", o.weight);
  if (weight !== undefined) sameLength(fn, "opts.weight", weight, cols, "cols");
  const ignoreIndex = integer(fn, "opts.ignoreIndex", o.ignoreIndex, -100);
  const smoothing = unitInterval(fn, "opts.labelSmoothing", o.labelSmoothing);
  const grad = outBuffer(fn, "opts.grad", o.grad, logits.length);
  let scale: number;
  let counted = 0;
  const soft = target instanceof Float32Array || target instanceof WasmArray;
  if (soft) {
    floats(fn, "target", target);
    sameLength(fn, "target", target, logits.length, "logits.length (a probability target is rows x cols)");
    scale = red === "mean" ? 1 / rows : 1;
  } else if (isLabels(target)) {
    if (target.length !== rows) throw new RangeError(`${fn}: target.length (${target.length}) must equal the row count (${rows})`);
    counted = labelWeight(fn, target, cols, ignoreIndex, weight);
    scale = red === "mean" ? 1 / counted : 1;
  } else {
    throw new TypeError(`${fn}: target must be an Int32Array, Uint8Array or Uint16Array of class indices or a Float32Array (or WasmArray) of probabilities`);
  }
  const losses = red === "none" ? new Float32Array(rows) : undefined;
  const gradAt = residentAt(e, grad);
  const mark = e.mark();
  let total: number;
  try {
    const pz = place(e, logits);
    const pw = weight === undefined ? 0 : e.put(weight);
    const pl = losses === undefined ? 0 : e.alloc(rows * 4);
    let pg: number;
    if (soft) {
      const pq = place(e, target as Floats);
      pg = destination(e, gradAt, logits.length, mark, pz, pq); // grad may be logits, not the target it reads last
      total = e.pool ? e.pool.crossEntropyProb(pz, pq, pw, pg, pl, rows, cols, smoothing, scale)
        : e.k.cross_entropy_prob(pz, pq, pw, pg, pl, rows, cols, smoothing, scale);
    } else {
      const py = e.putI32(target as Labels);
      pg = destination(e, gradAt, logits.length, mark, pz);
      const wsum = weight === undefined ? cols : sum(weight);
      // the mean with every row ignored is 0/0 = NaN, as in PyTorch; its gradient is zero
      if (e.pool) { // ready({ threads: n > 1 }) only
        total = e.pool.crossEntropyIndex(pz, py, pw, pg, pl, rows, cols, ignoreIndex, smoothing, wsum,
          Number.isFinite(scale) ? scale : 0);
      } else {
        total = e.k.cross_entropy_index(pz, py, pw, pg, pl, rows, cols, ignoreIndex, smoothing, wsum,
          Number.isFinite(scale) ? scale : 0);
      }
    }
    deliver(e, pg, grad, gradAt, logits.length);
    if (losses !== undefined) e.get(pl, losses, rows);
  } finally {
    e.release(mark);
  }
  return { loss: losses ?? (red === "mean" ? total * scale : total), grad: grad as G };
}

/** Sigmoid + binary cross-entropy on logits, as PyTorch's F.binary_cross_entropy_with_logits, with its gradient. */
export function binaryCrossEntropyWithLogits<G extends Floats = Float32Array>(logits: Floats, target: Floats,
  opts?: BinaryCrossEntropyOptions<G>): LossResult<G> {
  const fn = "binaryCrossEntropyWithLogits";
  const e = engine(fn);
  const o = options(fn, opts, BCE_OPTS);
  floats(fn, "logits", logits);
  floats(fn, "target", target);
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
  const gradAt = residentAt(e, grad);
  const mark = e.mark();
  let total: number;
  try {
    const pz = place(e, logits);
    const pt = place(e, target);
    const pg = destination(e, gradAt, n, mark, pz); // element-wise: grad may be logits or target
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
    const s = Number.isFinite(scale) ? scale : 0;
    total = e.pool ? e.pool.bce(pz, pt, pw, period, pg, pl, n, s) : e.k.bce_with_logits(pz, pt, pw, period, pg, pl, n, s);
    deliver(e, pg, grad, gradAt, n);
    if (losses !== undefined) e.get(pl, losses, n);
  } finally {
    e.release(mark);
  }
  return { loss: losses ?? (red === "mean" ? total * scale : total), grad: grad as G };
}

/** sigma(x) = 1 / (1 + e^-x), element-wise. */
export function sigmoid<O extends Floats = Float32Array>(x: Floats, opts?: OutOptions<O>): O {
  const fn = "sigmoid";
  const e = engine(fn);
  const o = options(fn, opts, OUT_OPTS);
  floats(fn, "x", x);
  const out = outBuffer(fn, "opts.out", o.out, x.length);
  const outAt = residentAt(e, out);
  const mark = e.mark();
  try {
    const px = place(e, x);
    const py = destination(e, outAt, x.length, mark, px);
    if (e.pool) e.pool.sigmoid(px, py, x.length);
    else e.k.sigmoid_forward(px, py, x.length);
    deliver(e, py, out, outAt, x.length);
  } finally {
    e.release(mark);
  }
  return out as O;
}

/** The quadratic cost C = 1/(2n) sum over the n rows of ||a - y||^2, and its gradient (a - y) / n. */
export function quadraticCost<G extends Floats = Float32Array>(a: Floats, y: Floats, cols: number,
  opts?: { grad?: G }): { loss: number; grad: G } {
  const fn = "quadraticCost";
  const e = engine(fn);
  const o = options(fn, opts, GRAD_OPTS);
  floats(fn, "a", a);
  floats(fn, "y", y);
  const rows = rowsOf(fn, "a", a, columns(fn, cols));
  sameLength(fn, "y", y, a.length, "a.length");
  const grad = outBuffer(fn, "opts.grad", o.grad, a.length);
  const gradAt = residentAt(e, grad);
  const mark = e.mark();
  let loss: number;
  try {
    const pa = place(e, a);
    const py = place(e, y);
    const pg = destination(e, gradAt, a.length, mark, pa); // element-wise: grad may be a or y
    loss = e.pool ? e.pool.quadratic(pa, py, pg, a.length, rows) : e.k.quadratic_cost(pa, py, pg, a.length, rows);
    deliver(e, pg, grad, gradAt, a.length);
  } finally {
    e.release(mark);
  }
  return { loss, grad: grad as G };
}

/** Inverse softmax: z = ln p + c per row, c making the row's mean finite logit 0; p = 0 gives -Infinity. */
export function logitsFromProbs<O extends Floats = Float32Array>(p: Floats, cols: number, opts?: OutOptions<O>): O {
  const fn = "logitsFromProbs";
  const e = engine(fn);
  const o = options(fn, opts, OUT_OPTS);
  floats(fn, "p", p);
  const rows = rowsOf(fn, "p", p, columns(fn, cols));
  const pAt = residentAt(e, p);
  probabilities(fn, "p", floatsOf(p), pAt === undefined ? undefined : () => e.k.first_not_probability(pAt, p.length));
  const out = outBuffer(fn, "opts.out", o.out, p.length);
  const outAt = residentAt(e, out);
  const mark = e.mark();
  try {
    const pp = pAt ?? place(e, p);
    const pz = destination(e, outAt, p.length, mark, pp);
    if (e.pool) e.pool.logitsFromProbs(pp, pz, rows, cols);
    else e.k.logits_from_probs(pp, pz, rows, cols);
    deliver(e, pz, out, outAt, p.length);
  } finally {
    e.release(mark);
  }
  return out as O;
}

function sum(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return s;
}
