// The GEMM specs' scalar reference arithmetic (gemm-blocked.spec.ts, gemm-sparse.spec.ts): one lane of the kernels'
// own vector operations, so a plain loop over it gives their bits.
import { madd } from "../vec";
import { sigmoidFromExp, expnegabs, tanhv } from "../activation";

/** c + x w in the kernels' arithmetic (madd: mul then add, or the relaxed build's fused form), one lane. */
export function step(c: f32, x: f32, w: f32): f32 {
  return f32x4.extract_lane(madd(f32x4.splat(x), f32x4.splat(w), f32x4.splat(c)), 0);
}

/** The activation `act` (an Act: 0 none, 1 ReLU, 2 sigmoid, 3 tanh) as the kernels apply it, one lane. */
export function activate(z: f32, act: i32): f32 {
  const v = f32x4.splat(z);
  if (act == 1) return f32x4.extract_lane(f32x4.pmax(v, f32x4.splat(0)), 0);
  if (act == 2) return f32x4.extract_lane(sigmoidFromExp(v, expnegabs(v)), 0);
  if (act == 3) return f32x4.extract_lane(tanhv(v), 0);
  return z;
}
