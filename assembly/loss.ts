// The element-wise losses fused with their gradient: binary cross-entropy with logits in PyTorch's semantics
// (F.binary_cross_entropy_with_logits, with pos_weight: the f64 sum of the per-element losses, each written to
// `losses` when that is not 0, grad = d(scale * sum) / d(logits)), and Nielsen's quadratic cost
// C = 1/(2 rows) sum ||a - y||^2 with grad = (a - y) / rows. Cross-entropy over softmax is in cross-entropy.ts.
import { log1pv } from "./exp";
import { expnegabs, sigmoidFromExp, sigmoidNegFromExp } from "./activation";
import { loadTail, storeTail, tailMask, hsum, BLOCK } from "./vec";

/**
 * One vector of k (1..4) elements at byte offset p: its gradient to g (and losses), its losses returned (lanes past k
 * zero). Inlined twice, for whole vectors (k = 4: the tail's branches fold away, 4-5% faster than one loop testing k
 * each step) and the tail. An infinite logit gives PyTorch's formula's values: a NaN loss where its z y or
 * (L - 1) max(-z, 0) meets Infinity times 0 (a check for them cost 12%), a finite gradient.
 */
// @ts-ignore: decorator
@inline function bceVector(z: usize, y: usize, pw: usize, g: usize, losses: usize, p: usize, k: usize, vs: v128): v128 {
  const zero = f32x4.splat(0);
  const one = f32x4.splat(1);
  const zv = k == 4 ? v128.load(z + p) : loadTail(z + p, k, 0);
  const yv = k == 4 ? v128.load(y + p) : loadTail(y + p, k, 0);
  const e = expnegabs(zv);
  const sp = log1pv(e); // ln(1 + e^-|z|)
  const sig = sigmoidFromExp(zv, e);
  const sigNeg = sigmoidNegFromExp(zv, e);
  // PyTorch: max(z, 0) - z y + ln(1 + e^-|z|), with pos weight L = 1 + (pw - 1) y on the y = 1 part.
  // Its gradient L sigma(z) - pw y is written (1 - y) sigma(z) - pw y sigma(-z): no 1 - sigma cancellation.
  let loss = f32x4.sub(f32x4.max(zv, zero), f32x4.mul(zv, yv));
  let gv: v128;
  if (pw == 0) {
    loss = f32x4.add(loss, sp);
    gv = f32x4.sub(f32x4.mul(f32x4.sub(one, yv), sig), f32x4.mul(yv, sigNeg));
  } else {
    const w = k == 4 ? v128.load(pw + p) : loadTail(pw + p, k, 1);
    const L = f32x4.add(one, f32x4.mul(f32x4.sub(w, one), yv));
    loss = f32x4.add(loss, f32x4.add(f32x4.mul(f32x4.sub(L, one), f32x4.max(f32x4.neg(zv), zero)), f32x4.mul(L, sp)));
    gv = f32x4.sub(f32x4.mul(f32x4.sub(one, yv), sig), f32x4.mul(f32x4.mul(w, yv), sigNeg));
  }
  gv = f32x4.mul(gv, vs);
  if (k == 4) {
    v128.store(g + p, gv);
    if (losses != 0) v128.store(losses + p, loss);
    return loss;
  }
  storeTail(g + p, gv, k);
  if (losses != 0) storeTail(losses + p, loss, k);
  return v128.and(loss, tailMask(k));
}

/** Binary cross-entropy with logits of n elements, pw = 0 or pos weights aligned with z; returns the sum of losses. */
export function rbcewithlogits(z: usize, y: usize, pw: usize, g: usize, losses: usize, n: usize, scale: f32): f32 {
  const vs = f32x4.splat(scale);
  let s = f32x4.splat(0);
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) s = f32x4.add(s, bceVector(z, y, pw, g, losses, i << 2, 4, vs));
  if (i < n) s = f32x4.add(s, bceVector(z, y, pw, g, losses, i << 2, n - i, vs));
  return hsum(s);
}

export function bce_with_logits(
  logits: usize, // (N,)
  target: usize, // (N,)
  posWeight: usize, // (P,) pos weights tiled to P = period elements, or 0
  period: i32,      // a multiple of the pos weights' count, so every block starts on a row
  grad: usize,      // (N,) out
  losses: usize,    // (N,) out per-element loss, or 0
  n: i32,
  scale: f32,       // 1 / N for a mean, else 1
): f64 {
  return bceBlocks(logits, target, posWeight, period, grad, losses, n, scale, 0);
}

/** bce_with_logits storing each block's f64 sum at parts: the threads build's pool sums them in order. */
export function bce_with_logits_parts(
  logits: usize, target: usize, posWeight: usize, period: i32, grad: usize, losses: usize, n: i32, scale: f32,
  parts: usize,
): void {
  bceBlocks(logits, target, posWeight, period, grad, losses, n, scale, parts);
}

// @ts-ignore: decorator
@inline function bceBlocks(logits: usize, target: usize, posWeight: usize, period: i32, grad: usize, losses: usize,
  n: i32, scale: f32, parts: usize): f64 {
  const len = <usize>n;
  const step: usize = posWeight == 0 ? BLOCK : <usize>period; // the pool splits at these block boundaries
  let total: f64 = 0;
  for (let off: usize = 0, k: usize = 0; off < len; off += step, k++) {
    const p = off << 2;
    const block: f64 = rbcewithlogits(logits + p, target + p, posWeight, grad + p, losses == 0 ? 0 : losses + p, min(step, len - off), scale);
    if (parts != 0) store<f64>(parts + (k << 3), block);
    total += block;
  }
  return total;
}

/** g[i] = (a[i] - y[i]) * s; returns sum_i (a[i] - y[i])^2. */
export function rquadratic(a: usize, y: usize, g: usize, n: usize, s: f32): f32 {
  const vs = f32x4.splat(s);
  let acc = f32x4.splat(0);
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) {
    const p = i << 2;
    const d = f32x4.sub(v128.load(a + p), v128.load(y + p));
    v128.store(g + p, f32x4.mul(d, vs));
    acc = f32x4.add(acc, f32x4.mul(d, d));
  }
  if (i < n) {
    const p = i << 2;
    const d = f32x4.sub(loadTail(a + p, n - i, 0), loadTail(y + p, n - i, 0));
    storeTail(g + p, f32x4.mul(d, vs), n - i);
    acc = f32x4.add(acc, f32x4.mul(d, d));
  }
  return hsum(acc);
}

/** Quadratic cost C = 1/(2 rows) sum ||a - y||^2; writes grad = (a - y) / rows and returns C. */
export function quadratic_cost(
  a: usize,    // (R, C) outputs
  y: usize,    // (R, C) targets
  grad: usize, // (R, C) out
  n: i32,      // R * C
  rows: i32,
): f64 {
  return quadraticBlocks(a, y, grad, n, rows, 0) / (2.0 * <f64>rows);
}

/**
 * quadratic_cost's gradient over n elements of a batch of `rows` rows, storing each BLOCK's f64 sum of squares at
 * parts: the threads build's pool sums them in order and divides by 2 rows.
 */
export function quadratic_cost_parts(a: usize, y: usize, grad: usize, n: i32, rows: i32, parts: usize): void {
  quadraticBlocks(a, y, grad, n, rows, parts);
}

// @ts-ignore: decorator
@inline function quadraticBlocks(a: usize, y: usize, grad: usize, n: i32, rows: i32, parts: usize): f64 {
  const len = <usize>n;
  const s: f32 = <f32>(1.0 / <f64>rows);
  let total: f64 = 0;
  for (let off: usize = 0, k: usize = 0; off < len; off += BLOCK, k++) {
    const p = off << 2;
    const block: f64 = rquadratic(a + p, y + p, grad + p, min(BLOCK, len - off), s);
    if (parts != 0) store<f64>(parts + (k << 3), block);
    total += block;
  }
  return total;
}
