// Optimizers updating parameters in place in Wasm memory, in PyTorch's formulation (torch.optim.SGD, Adam, AdamW).
// The caller applies weight decay per segment (weights decay, biases do not, as in Nielsen's network2).
import { loadTail, storeTail } from "./vec";

// Each optimizer runs its whole vectors in a loop chosen once per call (no per-vector test of the tail or of the
// options: V8 does not unswitch loops, and those tests made the step 2-3x slower than its arithmetic), then the last
// 1-3 elements through the same vector formula. Every element gets the same operations in the same order either way.

/** SGD's step for one vector: updates buf (when momentum != 0) and returns the new p. */
// @ts-ignore: decorator
@inline function sgdVec(pv: v128, g: v128, bufv: v128, vlr: v128, vmu: v128, vwd: v128, momentum: bool, nesterov: bool,
  buf: usize, k: usize): v128 {
  let gv = f32x4.add(g, f32x4.mul(vwd, pv));
  if (momentum) {
    const b = f32x4.add(f32x4.mul(vmu, bufv), gv);
    if (k == 4) v128.store(buf, b);
    else storeTail(buf, b, k);
    gv = nesterov ? f32x4.add(gv, f32x4.mul(vmu, b)) : b;
  }
  return f32x4.sub(pv, f32x4.mul(vlr, gv));
}

/** sgd_update's whole vectors, bytes 0..end, with the options fixed for the loop. */
// @ts-ignore: decorator
@inline function sgdLoop(p: usize, g: usize, buf: usize, end: usize, vlr: v128, vmu: v128, vwd: v128, momentum: bool,
  nesterov: bool): void {
  for (let o: usize = 0; o < end; o += 16) {
    const bufv = momentum ? v128.load(buf + o) : vmu;
    v128.store(p + o, sgdVec(v128.load(p + o), v128.load(g + o), bufv, vlr, vmu, vwd, momentum, nesterov, buf + o, 4));
  }
}

/**
 * SGD with momentum: g += wd p; buf = momentum buf + g; step = nesterov ? g + momentum buf : buf; p -= lr step.
 * With momentum 0 the buffer is not touched (it may be 0).
 */
export function sgd_update(
  p: usize,   // (N,) parameters, updated
  g: usize,   // (N,) gradients
  buf: usize, // (N,) momentum buffer, updated (zeros at the start, as PyTorch's first step)
  n: i32,
  lr: f32, momentum: f32, nesterov: bool, wd: f32,
): void {
  const len = <usize>n;
  const vlr = f32x4.splat(lr);
  const vmu = f32x4.splat(momentum);
  const vwd = f32x4.splat(wd);
  const end = (len & ~3) << 2;
  if (momentum == 0) sgdLoop(p, g, buf, end, vlr, vmu, vwd, false, false);
  else if (nesterov) sgdLoop(p, g, buf, end, vlr, vmu, vwd, true, true);
  else sgdLoop(p, g, buf, end, vlr, vmu, vwd, true, false);
  const k = len & 3;
  if (k == 0) return;
  const pv = loadTail(p + end, k, 0);
  const bufv = momentum != 0 ? loadTail(buf + end, k, 0) : vmu;
  storeTail(p + end, sgdVec(pv, loadTail(g + end, k, 0), bufv, vlr, vmu, vwd, momentum != 0, nesterov, buf + end, k), k);
}

/** Adam's step for one vector: returns the new p, m and v in np, mv, vv (written through the pointers given). */
// @ts-ignore: decorator
@inline function adamVec(pv: v128, g: v128, m0: v128, v0: v128, b1: v128, c1: v128, b2: v128, c2: v128, step: v128,
  ibc2: v128, veps: v128, decay: v128, l2: v128, p: usize, m: usize, v: usize, k: usize): void {
  const gv = f32x4.add(g, f32x4.mul(l2, pv));
  const mv = f32x4.add(f32x4.mul(b1, m0), f32x4.mul(c1, gv));
  const vv = f32x4.add(f32x4.mul(b2, v0), f32x4.mul(c2, f32x4.mul(gv, gv)));
  const den = f32x4.add(f32x4.mul(f32x4.sqrt(vv), ibc2), veps);
  const np = f32x4.sub(f32x4.mul(pv, decay), f32x4.div(f32x4.mul(step, mv), den));
  if (k == 4) {
    v128.store(m, mv);
    v128.store(v, vv);
    v128.store(p, np);
  } else {
    storeTail(m, mv, k);
    storeTail(v, vv, k);
    storeTail(p, np, k);
  }
}

/**
 * Adam (decoupled = false: g += wd p) or AdamW (decoupled: p *= 1 - lr wd): m = b1 m + (1 - b1) g,
 * v = b2 v + (1 - b2) g^2, p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps), with bc = 1 - beta^t for step t.
 */
export function adam_update(
  p: usize, // (N,) parameters, updated
  g: usize, // (N,) gradients
  m: usize, // (N,) first moment, updated
  v: usize, // (N,) second moment, updated
  n: i32,
  lr: f32, beta1: f32, beta2: f32, eps: f32, wd: f32, decoupled: bool,
  bc1: f32, bc2: f32, // bias corrections 1 - beta1^t, 1 - beta2^t
): void {
  const len = <usize>n;
  const b1 = f32x4.splat(beta1);
  const c1 = f32x4.splat(1 - beta1);
  const b2 = f32x4.splat(beta2);
  const c2 = f32x4.splat(1 - beta2);
  const step = f32x4.splat(lr / bc1);
  const ibc2 = f32x4.splat(1 / Mathf.sqrt(bc2)); // PyTorch: sqrt(v) / sqrt(bc2) + eps
  const veps = f32x4.splat(eps);
  const decay = f32x4.splat(decoupled ? 1 - lr * wd : 1);
  const l2 = f32x4.splat(decoupled ? 0 : wd);
  const end = (len & ~3) << 2;
  for (let o: usize = 0; o < end; o += 16) {
    adamVec(v128.load(p + o), v128.load(g + o), v128.load(m + o), v128.load(v + o), b1, c1, b2, c2, step, ibc2, veps,
      decay, l2, p + o, m + o, v + o, 4);
  }
  const k = len & 3;
  if (k == 0) return;
  adamVec(loadTail(p + end, k, 0), loadTail(g + end, k, 0), loadTail(m + end, k, 0), loadTail(v + end, k, 0), b1, c1,
    b2, c2, step, ibc2, veps, decay, l2, p + end, m + end, v + end, k);
}
