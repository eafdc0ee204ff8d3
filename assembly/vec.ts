// SIMD plumbing shared by the kernels: the multiply-add, partial vectors for row tails and horizontal reductions.
// Tails are read and written lane by lane: a row's neighbour may be another row of the same buffer.

/**
 * a * b + c lane-wise: the one multiply-add of the exp and the GEMM micro-kernels. In the default build (SIMD128)
 * it is f32x4.mul then f32x4.add, two roundings, the same bits on every machine. In the relaxed build
 * (asconfig target "relaxed", `--enable relaxed-simd`) it is f32x4.relaxed_madd, which the engine may run as a fused
 * multiply-add (one rounding) or as the two operations: faster where FMA exists, but the last bits may differ
 * between machines. ASC_FEATURE_RELAXED_SIMD is a compile-time constant: only one branch is compiled.
 */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Loads n (1..3) floats from p into the low lanes; the other lanes hold `fill` (a value neutral for the kernel). */
// @ts-ignore: decorator
@inline export function loadTail(p: usize, n: usize, fill: f32): v128 {
  let v = f32x4.replace_lane(f32x4.splat(fill), 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Stores the low n (1..3) lanes of v at p. */
// @ts-ignore: decorator
@inline export function storeTail(p: usize, v: v128, n: usize): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** Sum of the four lanes, in a fixed order so results are the same everywhere. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Max of the four lanes (pmax: NaN-free inputs assumed, as rmax gives). */
// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  const h = f32x4.pmax(v, f32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.pmax(h, f32x4.shuffle(h, h, 1, 0, 3, 2)), 0);
}

/** Elements per block of a long reduction: f32 lanes sum within a block, blocks add up in f64. */
export const BLOCK: usize = 4096;

/** All-ones bits in lanes [0, n), zeros above: masks the padding lanes of a tail. */
// @ts-ignore: decorator
@inline export function tailMask(n: usize): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(<i32>n));
}

/**
 * Rows x[0..4) of n floats (row stride n) into column vectors: t + 16 j holds column j of the four rows, j < n.
 * Returns the lane-wise max of the columns (each row's max, NaN-free as with pmax), which every caller needs next.
 * Reads whole vectors, so up to 12 bytes past the fourth row: buffers keep 16 bytes of slack after their end.
 */
export function transposeLoad4(x: usize, n: usize, t: usize): v128 {
  const stride = n << 2;
  let m = f32x4.splat(-Infinity);
  for (let j: usize = 0; j < n; j += 4) {
    const p = x + (j << 2);
    const a = v128.load(p);
    const b = v128.load(p + stride);
    const c = v128.load(p + 2 * stride);
    const d = v128.load(p + 3 * stride);
    const ab0 = f32x4.shuffle(a, b, 0, 4, 1, 5);
    const ab1 = f32x4.shuffle(a, b, 2, 6, 3, 7);
    const cd0 = f32x4.shuffle(c, d, 0, 4, 1, 5);
    const cd1 = f32x4.shuffle(c, d, 2, 6, 3, 7);
    const c0 = f32x4.shuffle(ab0, cd0, 0, 1, 4, 5);
    const c1 = f32x4.shuffle(ab0, cd0, 2, 3, 6, 7);
    const c2 = f32x4.shuffle(ab1, cd1, 0, 1, 4, 5);
    const c3 = f32x4.shuffle(ab1, cd1, 2, 3, 6, 7);
    const q = t + (j << 4);
    v128.store(q, c0);
    v128.store(q, c1, 16);
    v128.store(q, c2, 32);
    v128.store(q, c3, 48);
    m = f32x4.pmax(m, c0); // columns past n hold the next row's values: left out of the max
    if (j + 1 < n) m = f32x4.pmax(m, c1);
    if (j + 2 < n) m = f32x4.pmax(m, c2);
    if (j + 3 < n) m = f32x4.pmax(m, c3);
  }
  return m;
}

/**
 * The inverse of transposeLoad4, with an affine map on the way: column j becomes t_j * a + b, back into four rows
 * of n floats at y. A row's last partial vector is merged with what memory holds (read just before the write), so
 * neighbours are left as they are. (Its v128 parameters would draw AS112, a warning for Wasm exports; this is not
 * one, and asconfig.json disables that warning: inlining it instead measured slower.)
 */
export function transposeStore4(t: usize, y: usize, n: usize, a: v128, b: v128): void {
  const stride = n << 2;
  for (let j: usize = 0; j < n; j += 4) {
    const q = t + (j << 4);
    const c0 = f32x4.add(f32x4.mul(v128.load(q), a), b);
    const c1 = f32x4.add(f32x4.mul(v128.load(q, 16), a), b);
    const c2 = f32x4.add(f32x4.mul(v128.load(q, 32), a), b);
    const c3 = f32x4.add(f32x4.mul(v128.load(q, 48), a), b);
    const ab0 = f32x4.shuffle(c0, c1, 0, 4, 1, 5);
    const ab1 = f32x4.shuffle(c0, c1, 2, 6, 3, 7);
    const cd0 = f32x4.shuffle(c2, c3, 0, 4, 1, 5);
    const cd1 = f32x4.shuffle(c2, c3, 2, 6, 3, 7);
    const r0 = f32x4.shuffle(ab0, cd0, 0, 1, 4, 5);
    const r1 = f32x4.shuffle(ab0, cd0, 2, 3, 6, 7);
    const r2 = f32x4.shuffle(ab1, cd1, 0, 1, 4, 5);
    const r3 = f32x4.shuffle(ab1, cd1, 2, 3, 6, 7);
    const p = y + (j << 2);
    if (j + 4 <= n) {
      v128.store(p, r0);
      v128.store(p + stride, r1);
      v128.store(p + 2 * stride, r2);
      v128.store(p + 3 * stride, r3);
    } else {
      const m = tailMask(n - j);
      v128.store(p, v128.bitselect(r0, v128.load(p), m));
      v128.store(p + stride, v128.bitselect(r1, v128.load(p + stride), m));
      v128.store(p + 2 * stride, v128.bitselect(r2, v128.load(p + 2 * stride), m));
      v128.store(p + 3 * stride, v128.bitselect(r3, v128.load(p + 3 * stride), m));
    }
  }
}
