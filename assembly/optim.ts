// Optimizers updating parameters in place in Wasm memory, in PyTorch's formulation (torch.optim.SGD, Adam, AdamW).
// The caller applies weight decay per segment (weights decay, biases do not, as in Nielsen's network2).
import { loadTail, storeTail } from "./vec";

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
  for (let i: usize = 0; i < len; i += 4) {
    const k = min(len - i, 4);
    const o = i << 2;
    const pv = k == 4 ? v128.load(p + o) : loadTail(p + o, k, 0);
    let gv = f32x4.add(k == 4 ? v128.load(g + o) : loadTail(g + o, k, 0), f32x4.mul(vwd, pv));
    if (momentum != 0) {
      const b = f32x4.add(f32x4.mul(vmu, k == 4 ? v128.load(buf + o) : loadTail(buf + o, k, 0)), gv);
      if (k == 4) v128.store(buf + o, b);
      else storeTail(buf + o, b, k);
      gv = nesterov ? f32x4.add(gv, f32x4.mul(vmu, b)) : b;
    }
    const np = f32x4.sub(pv, f32x4.mul(vlr, gv));
    if (k == 4) v128.store(p + o, np);
    else storeTail(p + o, np, k);
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
  for (let i: usize = 0; i < len; i += 4) {
    const k = min(len - i, 4);
    const o = i << 2;
    const pv = k == 4 ? v128.load(p + o) : loadTail(p + o, k, 0);
    const gv = f32x4.add(k == 4 ? v128.load(g + o) : loadTail(g + o, k, 0), f32x4.mul(l2, pv));
    const mv = f32x4.add(f32x4.mul(b1, k == 4 ? v128.load(m + o) : loadTail(m + o, k, 0)), f32x4.mul(c1, gv));
    const vv = f32x4.add(f32x4.mul(b2, k == 4 ? v128.load(v + o) : loadTail(v + o, k, 0)), f32x4.mul(c2, f32x4.mul(gv, gv)));
    const den = f32x4.add(f32x4.mul(f32x4.sqrt(vv), ibc2), veps);
    const np = f32x4.sub(f32x4.mul(pv, decay), f32x4.div(f32x4.mul(step, mv), den));
    if (k == 4) {
      v128.store(m + o, mv);
      v128.store(v + o, vv);
      v128.store(p + o, np);
    } else {
      storeTail(m + o, mv, k);
      storeTail(v + o, vv, k);
      storeTail(p + o, np, k);
    }
  }
}
