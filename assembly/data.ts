// Batches gathered inside Wasm from a dataset copied in once: no copies across the JS boundary per batch.
import { storeTail } from "./vec";

/** 16 pixels at s widened to floats times vs, at o. */
// @ts-ignore: decorator
@inline function widen16(s: usize, o: usize, vs: v128): void {
  const v = v128.load(s);
  const lo = i16x8.extend_low_i8x16_u(v);
  const hi = i16x8.extend_high_i8x16_u(v);
  v128.store(o, f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo)), vs));
  v128.store(o, f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo)), vs), 16);
  v128.store(o, f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi)), vs), 32);
  v128.store(o, f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi)), vs), 48);
}

/** Pixels k..d of the row at s widened to floats times vs, into the row at o (what whole groups of 16 left). */
function widenTail(s: usize, o: usize, k: usize, d: usize, vs: v128): void {
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

/** The d pixels at s widened to floats times vs, at o. */
function widenRow(s: usize, o: usize, d: usize, vs: v128): void {
  let k: usize = 0;
  for (; k + 16 <= d; k += 16) widen16(s + k, o + (k << 2), vs);
  widenTail(s, o, k, d, vs);
}

/**
 * y[b, :] = src[idx[b], :] * scale for b < B: rows of D bytes (pixels) widened to floats, e.g. scale = 1/255. Four
 * rows side by side, 16 pixels of each a step: a shuffled batch's rows are scattered over the dataset (misses in the
 * caches, 13 lines a 784-byte row), and four streams in flight take a fit's batch of 64 MNIST rows in 24-25 us where
 * one row after another took 41-43. Four rows that follow each other in the dataset (an evaluation's batches, a fit
 * without shuffling) are one stream already: they are widened as one row of 4 D pixels (side by side they took 1.4x
 * the time of one row after another).
 */
export function gather_rows_u8(
  src: usize,  // (N, D) u8 dataset
  idx: usize,  // (B,) i32 row indices
  y: usize,    // (B, D) f32 out
  B: i32, D: i32,
  scale: f32,
): void {
  const d = <usize>D, ld = d << 2;
  const vs = f32x4.splat(scale);
  let b = 0;
  for (; b + 4 <= B; b += 4) {
    const i = idx + (<usize>b << 2);
    const s0 = src + <usize>load<i32>(i) * d, s1 = src + <usize>load<i32>(i, 4) * d;
    const s2 = src + <usize>load<i32>(i, 8) * d, s3 = src + <usize>load<i32>(i, 12) * d;
    const o = y + <usize>b * ld;
    if (s1 == s0 + d && s2 == s1 + d && s3 == s2 + d) {
      widenRow(s0, o, d << 2, vs);
      continue;
    }
    let k: usize = 0;
    for (; k + 16 <= d; k += 16) {
      const ok = o + (k << 2);
      widen16(s0 + k, ok, vs);
      widen16(s1 + k, ok + ld, vs);
      widen16(s2 + k, ok + 2 * ld, vs);
      widen16(s3 + k, ok + 3 * ld, vs);
    }
    widenTail(s0, o, k, d, vs);
    widenTail(s1, o + ld, k, d, vs);
    widenTail(s2, o + 2 * ld, k, d, vs);
    widenTail(s3, o + 3 * ld, k, d, vs);
  }
  for (; b < B; b++) widenRow(src + <usize>load<i32>(idx + (<usize>b << 2)) * d, y + <usize>b * ld, d, vs);
}

/** y[b, :] = src[idx[b], :] for b < B: rows of D floats. */
export function gather_rows_f32(
  src: usize, // (N, D) f32 dataset
  idx: usize, // (B,) i32 row indices
  y: usize,   // (B, D) f32 out
  B: i32, D: i32,
): void {
  if (D == 1) { // a batch's labels: a load and a store a row, not a memory.copy of 4 bytes
    for (let b = 0; b < B; b++) {
      const r = <usize>load<i32>(idx + (<usize>b << 2));
      store<i32>(y + (<usize>b << 2), load<i32>(src + (r << 2)));
    }
    return;
  }
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

/**
 * How many rows of a (B, C) have their largest value (the first, on ties) at labels[b]; a row holding a NaN has no
 * largest value and is not counted (NaN compares false, so its argmax would read as class 0).
 */
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
    let nan = m != m;
    for (let j = 1; j < C; j++) {
      const v = load<f32>(row + (<usize>j << 2));
      nan = nan || v != v;
      if (v > m) { m = v; best = j; }
    }
    if (!nan && best == load<i32>(labels + (<usize>b << 2))) correct++;
  }
  return correct;
}
