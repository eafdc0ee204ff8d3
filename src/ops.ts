// The public kernels: check every argument, place the inputs in Wasm memory (where a WasmArray already is, else a
// copy in the arena), run one Wasm driver, put the results out (in place for a WasmArray), release the arena.
// Inputs are never mutated; caller-given out / grad buffers are filled and returned.
import { engine } from "./engine.js";
import { call, operand, output } from "./call.js";
import {
  attached, columns, float32Array, floats, integer, isLabels, labelWeight, options, outBuffer, probabilities, reduction, rowsOf,
  sameLength, temperatureScale, unitInterval, type Labels, type Reduction,
} from "./checks.js";
import { floatsOf, WasmArray, type Floats } from "./wasm-array.js";

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
  call(e, operand(e, fn, "x", x), undefined, output(e, fn, "opts.out", o.out, out, x.length), (px, _, py) => {
    if (log) e.d.log_softmax_forward(px, py, rows, cols, scale);
    else e.d.softmax_forward(px, py, rows, cols, scale);
  });
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
  // dx may be y or dy: each row reads both before writing
  call(e, operand(e, fn, yName, y), operand(e, fn, "dy", dy), output(e, fn, "opts.out", o.out, out, y.length),
    (py, pdy, pdx) => {
      if (log) e.d.log_softmax_backward(py, pdy, pdx, rows, cols);
      else e.d.softmax_backward(py, pdy, pdx, rows, cols);
    });
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
    attached(fn, "target", target);
    if (target.length !== rows) throw new RangeError(`${fn}: target.length (${target.length}) must equal the row count (${rows})`);
    counted = labelWeight(fn, target, cols, ignoreIndex, weight);
    scale = red === "mean" ? 1 / counted : 1;
  } else {
    throw new TypeError(`${fn}: target must be an Int32Array, Uint8Array or Uint16Array of class indices or a Float32Array (or WasmArray) of probabilities`);
  }
  const losses = red === "none" ? new Float32Array(rows) : undefined;
  const w = weight === undefined ? undefined : e.outside(weight); // read after the inputs are placed
  const labels = soft ? undefined : e.outside(target as Labels);
  const wsum = w === undefined ? cols : sum(w);
  // A mean over a counted weight of 0 (every row ignored, or all-zero class weights) is 0/0 = NaN, and so is the
  // gradient of every counted row, as in PyTorch; ignored rows get a zero gradient whatever the scale.
  const s = Number.isFinite(scale) ? scale : NaN;
  const z = operand(e, fn, "logits", logits);
  const q = soft ? operand(e, fn, "target", target as Floats) : undefined;
  // grad may be the logits, not a probability target, which the kernel reads after writing the gradient
  const total = call(e, z, q, output(e, fn, "opts.grad", o.grad, grad, logits.length), (pz, pq, pg) => {
    const pw = w === undefined ? 0 : e.put(w);
    const pl = losses === undefined ? 0 : e.alloc(rows * 4);
    let t: number;
    if (soft) {
      t = e.d.cross_entropy_prob(pz, pq, pw, pg, pl, rows, cols, smoothing, s);
    } else {
      const py = e.putI32(labels!);
      t = e.d.cross_entropy_index(pz, py, pw, pg, pl, rows, cols, ignoreIndex, smoothing, wsum, s);
    }
    if (losses !== undefined) e.get(pl, losses, rows);
    return t;
  }, soft ? 1 : -1);
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
  const pos = posWeight === undefined ? undefined : e.outside(posWeight); // read after the inputs are placed
  const s = Number.isFinite(scale) ? scale : 0;
  // element-wise: grad may be logits or target
  const total = call(e, operand(e, fn, "logits", logits), operand(e, fn, "target", target),
    output(e, fn, "opts.grad", o.grad, grad, n), (pz, pt, pg) => {
      const pl = losses === undefined ? 0 : e.alloc(n * 4);
      let pw = 0;
      let period = 0;
      if (pos !== undefined) {
        // tiled to about 1024 elements so the kernel walks whole rows of pos weights in SIMD
        const c = pos.length;
        period = c * Math.max(1, Math.ceil(1024 / c));
        pw = e.alloc(period * 4);
        const tiled = e.f32(pw, period);
        for (let i = 0; i < period; i += c) tiled.set(pos, i);
      }
      const t = e.d.bce_with_logits(pz, pt, pw, period, pg, pl, n, s);
      if (losses !== undefined) e.get(pl, losses, n);
      return t;
    });
  return { loss: losses ?? (red === "mean" ? total * scale : total), grad: grad as G };
}

/** sigma(x) = 1 / (1 + e^-x), element-wise. */
export function sigmoid<O extends Floats = Float32Array>(x: Floats, opts?: OutOptions<O>): O {
  const fn = "sigmoid";
  const e = engine(fn);
  const o = options(fn, opts, OUT_OPTS);
  floats(fn, "x", x);
  const out = outBuffer(fn, "opts.out", o.out, x.length);
  call(e, operand(e, fn, "x", x), undefined, output(e, fn, "opts.out", o.out, out, x.length), (px, _, py) => {
    e.d.sigmoid_forward(px, py, x.length);
  });
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
  const n = a.length;
  // element-wise: grad may be a or y
  const loss = call(e, operand(e, fn, "a", a), operand(e, fn, "y", y), output(e, fn, "opts.grad", o.grad, grad, n),
    (pa, py, pg) => e.d.quadratic_cost(pa, py, pg, n, rows));
  return { loss, grad: grad as G };
}

/** Inverse softmax: z = ln p + c per row, c making the row's mean finite logit 0; p = 0 gives -Infinity. */
export function logitsFromProbs<O extends Floats = Float32Array>(p: Floats, cols: number, opts?: OutOptions<O>): O {
  const fn = "logitsFromProbs";
  const e = engine(fn);
  const o = options(fn, opts, OUT_OPTS);
  floats(fn, "p", p);
  const rows = rowsOf(fn, "p", p, columns(fn, cols));
  const pIn = operand(e, fn, "p", p);
  const pAt = pIn.at;
  probabilities(fn, "p", floatsOf(p), pAt === undefined ? undefined : () => e.k.first_not_probability(pAt, p.length));
  const out = outBuffer(fn, "opts.out", o.out, p.length);
  call(e, pIn, undefined, output(e, fn, "opts.out", o.out, out, p.length), (pp, _, pz) => {
    e.d.logits_from_probs(pp, pz, rows, cols);
  });
  return out as O;
}

function sum(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return s;
}
