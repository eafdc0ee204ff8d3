// SIMD plumbing shared by the kernels: partial vectors for row tails and horizontal reductions.
// Tails are read and written lane by lane: a row's neighbour may be another row of the same buffer.

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
