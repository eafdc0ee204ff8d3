// float64 reference losses written straight from their formulas (PyTorch semantics), central differences, and small
// input helpers for the spec and error tests. Nothing here calls the library.
import { refLogSoftmax, refSoftmax } from "./helpers.js";

export type Red = "mean" | "sum" | "none";

/** The reduced loss as the library returns it: a number, or the per-row / per-element losses for 'none'. */
export interface RefLoss { losses: number[]; loss: number; }

function reduce(losses: number[], red: Red, denominator: number): RefLoss {
  const total = losses.reduce((s, v) => s + v, 0);
  return { losses, loss: red === "mean" ? total / denominator : total };
}

/**
 * F.cross_entropy with class-index targets: loss_i = (1 - eps) w[y_i] (-log p_i[y_i]) + eps/C sum_c w_c (-log p_ic);
 * rows labelled ignoreIndex count 0; 'mean' divides by the summed w[y_i] of the counted rows.
 */
export function refCrossEntropyIndex(logits: ArrayLike<number>, cols: number, labels: ArrayLike<number>,
  o: { weight?: ArrayLike<number>; ignoreIndex?: number; labelSmoothing?: number; reduction?: Red } = {}): RefLoss {
  const rows = logits.length / cols;
  const eps = o.labelSmoothing ?? 0;
  const ignore = o.ignoreIndex ?? -100;
  const w = (c: number): number => (o.weight ? o.weight[c] : 1);
  const logp = refLogSoftmax(logits, cols);
  const losses: number[] = [];
  let denominator = 0;
  for (let i = 0; i < rows; i++) {
    const y = labels[i];
    if (y === ignore) { losses.push(0); continue; }
    denominator += w(y);
    let smooth = 0;
    if (eps !== 0) for (let c = 0; c < cols; c++) smooth += w(c) * -logp[i * cols + c];
    losses.push((1 - eps) * w(y) * -logp[i * cols + y] + (eps / cols) * smooth);
  }
  return reduce(losses, o.reduction ?? "mean", denominator);
}

/** F.cross_entropy with probability targets: t_c = w_c ((1 - eps) q_c + eps / C), loss_i = -sum_c t_c log p_ic. */
export function refCrossEntropyProb(logits: ArrayLike<number>, cols: number, q: ArrayLike<number>,
  o: { weight?: ArrayLike<number>; labelSmoothing?: number; reduction?: Red } = {}): RefLoss {
  const rows = logits.length / cols;
  const eps = o.labelSmoothing ?? 0;
  const logp = refLogSoftmax(logits, cols);
  const losses: number[] = [];
  for (let i = 0; i < rows; i++) {
    let l = 0;
    for (let c = 0; c < cols; c++) {
      const t = (o.weight ? o.weight[c] : 1) * ((1 - eps) * q[i * cols + c] + eps / cols);
      if (t !== 0) l -= t * logp[i * cols + c]; // a zero target weighs nothing, even against log p = -Infinity
    }
    losses.push(l);
  }
  return reduce(losses, o.reduction ?? "mean", rows);
}

/** ln(1 + e^x) without overflow. */
export function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/**
 * F.binary_cross_entropy_with_logits: loss = -(pw y ln sigma(z) + (1 - y) ln(1 - sigma(z))), pw broadcast along the
 * last dimension (pw = 1 without pos weights); 'mean' over every element.
 */
export function refBce(z: ArrayLike<number>, y: ArrayLike<number>,
  o: { posWeight?: ArrayLike<number>; reduction?: Red } = {}): RefLoss {
  const losses: number[] = [];
  for (let i = 0; i < z.length; i++) {
    const pw = o.posWeight ? o.posWeight[i % o.posWeight.length] : 1;
    // ln sigma(z) = -softplus(-z), ln(1 - sigma(z)) = -softplus(z)
    losses.push(pw * y[i] * softplus(-z[i]) + (1 - y[i]) * softplus(z[i]));
  }
  return reduce(losses, o.reduction ?? "mean", z.length);
}

/** C = 1/(2 rows) sum over rows of ||a - y||^2. */
export function refQuadratic(a: ArrayLike<number>, y: ArrayLike<number>, cols: number): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - y[i]) ** 2;
  return s / (2 * (a.length / cols));
}

/** sum_i dy_i f(x)_i: the scalar whose gradient is the vector-Jacobian product dy^T J_f. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Central differences of a float64 scalar function at x. */
export function numericGrad(f: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-5): number[] {
  const v = Float64Array.from(x);
  const g: number[] = [];
  for (let i = 0; i < v.length; i++) {
    const x0 = v[i];
    const step = h * Math.max(1, Math.abs(x0));
    v[i] = x0 + step;
    const fp = f(v);
    v[i] = x0 - step;
    const fm = f(v);
    v[i] = x0;
    g.push((fp - fm) / (2 * step));
  }
  return g;
}

/** The VJP of softmax at x with dy, by differences of sum(dy * softmax(x)). */
export function numericSoftmaxVjp(x: ArrayLike<number>, dy: ArrayLike<number>, cols: number): number[] {
  return numericGrad((v) => dot(dy, refSoftmax(v, cols)), x);
}

/** The VJP of log-softmax at x with dy, by differences of sum(dy * logSoftmax(x)). */
export function numericLogSoftmaxVjp(x: ArrayLike<number>, dy: ArrayLike<number>, cols: number): number[] {
  return numericGrad((v) => dot(dy, refLogSoftmax(v, cols)), x);
}

/** n uniform floats in [lo, hi) from a seeded generator r. */
export function uniform(r: () => number, n: number, lo = 0, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** rows x cols probability rows (each normalised in float64, then rounded to float32). */
export function probRows(r: () => number, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    const row: number[] = [];
    for (let c = 0; c < cols; c++) { const u = r() + 0.01; row.push(u); s += u; }
    for (let c = 0; c < cols; c++) out[i * cols + c] = row[c] / s;
  }
  return out;
}

/** rows labels in [0, cols). */
export function labelsFor(r: () => number, rows: number, cols: number): Int32Array {
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) out[i] = Math.min(cols - 1, Math.floor(r() * cols));
  return out;
}
