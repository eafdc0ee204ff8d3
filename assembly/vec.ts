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
  return transposeLoadRows(x, x + stride, x + 2 * stride, x + 3 * stride, n, t);
}

/**
 * transposeLoad4 of four rows anywhere (p0..p3, n floats each; a padded group of narrow rows repeats one): lane i of
 * column j is row p_i's x[j]. Reads up to 12 bytes past each row.
 */
// @ts-ignore: decorator
@inline export function transposeLoadRows(p0: usize, p1: usize, p2: usize, p3: usize, n: usize, t: usize): v128 {
  let m = f32x4.splat(-Infinity);
  for (let j: usize = 0; j < n; j += 4) {
    const o = j << 2;
    const a = v128.load(p0 + o);
    const b = v128.load(p1 + o);
    const c = v128.load(p2 + o);
    const d = v128.load(p3 + o);
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
    m = f32x4.pmax(m, c0); // columns past n hold whatever follows the row: left out of the max
    if (j + 1 < n) m = f32x4.pmax(m, c1);
    if (j + 2 < n) m = f32x4.pmax(m, c2);
    if (j + 3 < n) m = f32x4.pmax(m, c3);
  }
  return m;
}

/**
 * Columns j..j+3 of four rows (c0..c3, lane i = row i) back into the rows at y0..y3, from their float j: whole vectors
 * while j + 4 <= n, then only the floats left (never a byte past a row: another thread may own the next one).
 */
// @ts-ignore: decorator
@inline export function storeColumns4(c0: v128, c1: v128, c2: v128, c3: v128, y0: usize, y1: usize, y2: usize,
  y3: usize, j: usize, n: usize): void {
  const ab0 = f32x4.shuffle(c0, c1, 0, 4, 1, 5);
  const ab1 = f32x4.shuffle(c0, c1, 2, 6, 3, 7);
  const cd0 = f32x4.shuffle(c2, c3, 0, 4, 1, 5);
  const cd1 = f32x4.shuffle(c2, c3, 2, 6, 3, 7);
  const r0 = f32x4.shuffle(ab0, cd0, 0, 1, 4, 5);
  const r1 = f32x4.shuffle(ab0, cd0, 2, 3, 6, 7);
  const r2 = f32x4.shuffle(ab1, cd1, 0, 1, 4, 5);
  const r3 = f32x4.shuffle(ab1, cd1, 2, 3, 6, 7);
  const o = j << 2;
  if (j + 4 <= n) {
    v128.store(y0 + o, r0);
    v128.store(y1 + o, r1);
    v128.store(y2 + o, r2);
    v128.store(y3 + o, r3);
  } else {
    const k = n - j;
    storePart(y0 + o, r0, k);
    storePart(y1 + o, r1, k);
    storePart(y2 + o, r2, k);
    storePart(y3 + o, r3, k);
  }
}

/** Stores the low k (1..3) lanes of v at p, as lane stores (no read of what follows). */
// @ts-ignore: decorator
@inline export function storePart(p: usize, v: v128, k: usize): void {
  if (k == 1) v128.store32_lane(p, v, 0);
  else {
    v128.store64_lane(p, v, 0);
    if (k == 3) v128.store32_lane(p, v, 2, 8);
  }
}

/**
 * The inverse of transposeLoad4, with an affine map on the way: column j becomes t_j * a + b, back into four rows
 * of n floats at y, through storeColumns4 (nothing written past a row). (Its v128 parameters would draw AS112, a
 * warning for Wasm exports; this is not one, and asconfig.json disables that warning.)
 */
export function transposeStore4(t: usize, y: usize, n: usize, a: v128, b: v128): void {
  const stride = n << 2;
  for (let j: usize = 0; j < n; j += 4) {
    const q = t + (j << 4);
    const c0 = f32x4.add(f32x4.mul(v128.load(q), a), b);
    const c1 = f32x4.add(f32x4.mul(v128.load(q, 16), a), b);
    const c2 = f32x4.add(f32x4.mul(v128.load(q, 32), a), b);
    const c3 = f32x4.add(f32x4.mul(v128.load(q, 48), a), b);
    storeColumns4(c0, c1, c2, c3, y, y + stride, y + 2 * stride, y + 3 * stride, j, n);
  }
}
