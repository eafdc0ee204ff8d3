// Activations on the shared exp. (Dense layers' ReLU and tanh will join sigmoid here.)
import { expv } from "./exp";
import { loadTail, storeTail } from "./vec";

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
