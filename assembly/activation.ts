// Activations on the shared exp and their derivatives, for the loss kernels and the dense layers.
import { expv } from "./exp";
import { loadTail, storeTail } from "./vec";
import { Act } from "./act";

/** sigma(x) given e = e^-|x|: 1 / (1 + e) for x >= 0 and e / (1 + e) below, so nothing overflows. */
// @ts-ignore: decorator
@inline export function sigmoidFromExp(x: v128, e: v128): v128 {
  const r = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
  return v128.bitselect(r, f32x4.mul(e, r), f32x4.ge(x, f32x4.splat(0)));
}

/** sigma(-x) = 1 - sigma(x) given e = e^-|x|, computed directly (1 - sigma(x) would cancel for large x). */
// @ts-ignore: decorator
@inline export function sigmoidNegFromExp(x: v128, e: v128): v128 {
  const r = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
  return v128.bitselect(f32x4.mul(e, r), r, f32x4.ge(x, f32x4.splat(0)));
}

/** e^-|x| lane-wise: the one exp that sigmoid, softplus and BCE need, never of a positive argument. */
// @ts-ignore: decorator
@inline export function expnegabs(x: v128): v128 {
  return expv(f32x4.neg(f32x4.abs(x)));
}

/** y[i] = 1 / (1 + e^-x[i]). y may be x. */
export function sigmoid_forward(
  x: usize, // (N,)
  y: usize, // (N,) out
  n: i32,
): void {
  const len = <usize>n;
  let i: usize = 0;
  for (; i + 4 <= len; i += 4) {
    const v = v128.load(x + (i << 2));
    v128.store(y + (i << 2), sigmoidFromExp(v, expnegabs(v)));
  }
  if (i < len) {
    const v = loadTail(x + (i << 2), len - i, 0);
    storeTail(y + (i << 2), sigmoidFromExp(v, expnegabs(v)), len - i);
  }
}

// tanh: 1 - 2 / (e^{2|x|} + 1) as (1 - e) / (1 + e) with e = e^{-2|x|}, sign restored; below |x| = 0.5, where
// 1 - e cancels, its Taylor series to x^13 (truncation under 1e-7 relative).
const TANH_K: usize = memory.data<f32>([
  -0.333333333, 0.133333333, -0.0539682540, 0.0218694885, -0.00886323553, 0.00359212803, // x^3 .. x^13 over x
], 16);

/** tanh x lane-wise; exact +-1 beyond |x| ~ 9, NaN propagates. */
// @ts-ignore: decorator
@inline export function tanhv(x: v128): v128 {
  const a = f32x4.abs(x);
  const e = expv(f32x4.mul(a, f32x4.splat(-2)));
  const one = f32x4.splat(1);
  const big = f32x4.div(f32x4.sub(one, e), f32x4.add(one, e));
  const z = f32x4.mul(x, x);
  let p = f32x4.add(f32x4.mul(f32x4.splat(load<f32>(TANH_K, 20)), z), f32x4.splat(load<f32>(TANH_K, 16)));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(load<f32>(TANH_K, 12)));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(load<f32>(TANH_K, 8)));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(load<f32>(TANH_K, 4)));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(load<f32>(TANH_K, 0)));
  const small = f32x4.add(x, f32x4.mul(x, f32x4.mul(p, z)));
  // sign of x onto the large branch, then pick by |x|
  const signed = v128.or(big, v128.and(x, f32x4.splat(-0.0)));
  return v128.bitselect(small, signed, f32x4.lt(a, f32x4.splat(0.5)));
}

/** y[i] = max(x[i], 0). y may be x. */
export function relu_forward(x: usize, y: usize, n: i32): void {
  const len = <usize>n;
  const zero = f32x4.splat(0);
  let i: usize = 0;
  for (; i + 4 <= len; i += 4) v128.store(y + (i << 2), f32x4.pmax(v128.load(x + (i << 2)), zero));
  if (i < len) storeTail(y + (i << 2), f32x4.pmax(loadTail(x + (i << 2), len - i, 0), zero), len - i);
}

/** y[i] = tanh x[i]. y may be x. */
export function tanh_forward(x: usize, y: usize, n: i32): void {
  const len = <usize>n;
  let i: usize = 0;
  for (; i + 4 <= len; i += 4) v128.store(y + (i << 2), tanhv(v128.load(x + (i << 2))));
  if (i < len) storeTail(y + (i << 2), tanhv(loadTail(x + (i << 2), len - i, 0)), len - i);
}

/** act'(z) da from the activation's output a, lane-wise (kind: Relu, Sigmoid or Tanh). */
// @ts-ignore: decorator
@inline function actGrad(av: v128, dv: v128, kind: i32): v128 {
  if (kind == Act.Relu) return v128.and(dv, f32x4.gt(av, f32x4.splat(0)));
  const one = f32x4.splat(1);
  if (kind == Act.Sigmoid) return f32x4.mul(dv, f32x4.mul(av, f32x4.sub(one, av)));
  return f32x4.mul(dv, f32x4.sub(one, f32x4.mul(av, av)));
}

/**
 * dz = da * act'(z) from the activation's output a (Act.Relu: [a > 0]; Act.Sigmoid: a (1 - a); Act.Tanh: 1 - a^2),
 * for backprop through a layer that stored only its output. dz may be da. One loop per kind over whole vectors, then
 * the tail (a branch on the kind and on the tail in every step took a ReLU layer's 64 x 128 in 4.7-5.1 us, now 1.2).
 */
export function activation_backward(
  a: usize,  // (N,) activation output
  da: usize, // (N,) dL/da
  dz: usize, // (N,) out: dL/dz
  n: i32,
  kind: i32, // an Act: Relu, Sigmoid or Tanh
): void {
  const len = <usize>n;
  let i: usize = 0;
  if (kind == Act.Relu) {
    for (; i + 4 <= len; i += 4) {
      const o = i << 2;
      v128.store(dz + o, actGrad(v128.load(a + o), v128.load(da + o), Act.Relu));
    }
  } else if (kind == Act.Sigmoid) {
    for (; i + 4 <= len; i += 4) {
      const o = i << 2;
      v128.store(dz + o, actGrad(v128.load(a + o), v128.load(da + o), Act.Sigmoid));
    }
  } else {
    for (; i + 4 <= len; i += 4) {
      const o = i << 2;
      v128.store(dz + o, actGrad(v128.load(a + o), v128.load(da + o), Act.Tanh));
    }
  }
  if (i < len) {
    const o = i << 2, r = len - i;
    storeTail(dz + o, actGrad(loadTail(a + o, r, 0), loadTail(da + o, r, 0), kind), r);
  }
}
