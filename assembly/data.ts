// Batches gathered inside Wasm from a dataset copied in once: no copies across the JS boundary per batch.
import { storeTail } from "./vec";

/** y[b, :] = src[idx[b], :] * scale for b < B: rows of D bytes (pixels) widened to floats, e.g. scale = 1/255. */
export function gather_rows_u8(
  src: usize,  // (N, D) u8 dataset
  idx: usize,  // (B,) i32 row indices
  y: usize,    // (B, D) f32 out
  B: i32, D: i32,
  scale: f32,
): void {
  const d = <usize>D;
  const vs = f32x4.splat(scale);
  for (let b = 0; b < B; b++) {
    const s = src + <usize>load<i32>(idx + (<usize>b << 2)) * d;
    const o = y + ((<usize>b * d) << 2);
    let k: usize = 0;
    for (; k + 16 <= d; k += 16) {
      const v = v128.load(s + k);
      const lo = i16x8.extend_low_i8x16_u(v);
      const hi = i16x8.extend_high_i8x16_u(v);
      v128.store(o + (k << 2), f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo)), vs));
      v128.store(o + (k << 2), f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo)), vs), 16);
      v128.store(o + (k << 2), f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi)), vs), 32);
      v128.store(o + (k << 2), f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi)), vs), 48);
    }
    for (; k + 4 <= d; k += 4) {
      const v = f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(s + k))));
      v128.store(o + (k << 2), f32x4.mul(v, vs));
    }
    if (k < d) {
      let v = f32x4.splat(0);
      v = f32x4.replace_lane(v, 0, <f32>load<u8>(s + k));
      if (k + 1 < d) v = f32x4.replace_lane(v, 1, <f32>load<u8>(s + k + 1));
      if (k + 2 < d) v = f32x4.replace_lane(v, 2, <f32>load<u8>(s + k + 2));
      storeTail(o + (k << 2), f32x4.mul(v, vs), d - k);
    }
  }
}

/** y[b, :] = src[idx[b], :] for b < B: rows of D floats. */
export function gather_rows_f32(
  src: usize, // (N, D) f32 dataset
  idx: usize, // (B,) i32 row indices
  y: usize,   // (B, D) f32 out
  B: i32, D: i32,
): void {
  const bytes = <usize>D << 2;
  for (let b = 0; b < B; b++) memory.copy(y + <usize>b * bytes, src + <usize>load<i32>(idx + (<usize>b << 2)) * bytes, bytes);
}

/** y[b, :] = one-hot of labels[b] over C classes: the target of the per-class costs (BCE, quadratic). */
export function onehot(
  labels: usize, // (B,) i32 classes in [0, C)
  y: usize,      // (B, C) out
  B: i32, C: i32,
): void {
  memory.fill(y, 0, (<usize>B * <usize>C) << 2);
  for (let b = 0; b < B; b++) store<f32>(y + ((<usize>b * <usize>C + <usize>load<i32>(labels + (<usize>b << 2))) << 2), 1);
}

/** How many rows of a (B, C) have their largest value (the first, on ties) at labels[b]. */
export function count_correct(
  a: usize,      // (B, C) outputs (logits or probabilities)
  labels: usize, // (B,) i32
  B: i32, C: i32,
): i32 {
  let correct = 0;
  for (let b = 0; b < B; b++) {
    const row = a + ((<usize>b * <usize>C) << 2);
    let best = 0;
    let m = load<f32>(row);
    for (let j = 1; j < C; j++) {
      const v = load<f32>(row + (<usize>j << 2));
      if (v > m) { m = v; best = j; }
    }
    if (best == load<i32>(labels + (<usize>b << 2))) correct++;
  }
  return correct;
}
