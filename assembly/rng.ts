// The project's seeded generator (xoshiro128**, seeded by splitmix32), inside Wasm so every engine draws the
// same numbers: Math.random is unseeded and Math.log/cos may differ between engines, AS's Math.log is Wasm code.
// The state is 16 bytes the caller owns (a network keeps its own), so generators never share state.

// @ts-ignore: decorator
@inline function rotl(x: u32, k: u32): u32 {
  return (x << k) | (x >>> (32 - k));
}

/** Fills the 4-word state at `s` from a 32-bit seed (splitmix32, so no seed gives the all-zero state). */
export function rng_seed(s: usize, seed: u32): void {
  let z = seed;
  for (let i: usize = 0; i < 4; i++) {
    z += 0x9e3779b9;
    let t = z;
    t = (t ^ (t >>> 16)) * 0x85ebca6b;
    t = (t ^ (t >>> 13)) * 0xc2b2ae35;
    store<u32>(s + (i << 2), t ^ (t >>> 16));
  }
}

/** The next 32 random bits. */
export function rng_next(s: usize): u32 {
  const s0 = load<u32>(s), s1 = load<u32>(s, 4), s2 = load<u32>(s, 8), s3 = load<u32>(s, 12);
  const result = rotl(s1 * 5, 7) * 9;
  const t = s1 << 9;
  const n2 = s2 ^ s0;
  const n3 = s3 ^ s1;
  store<u32>(s, s0 ^ n3);
  store<u32>(s, s1 ^ n2, 4);
  store<u32>(s, n2 ^ t, 8);
  store<u32>(s, rotl(n3, 11), 12);
  return result;
}

/**
 * n draws of rng_next into out (32 bits each), the state held in locals meanwhile and stored back once: the draws of n
 * calls, without a load and a store of the state per draw (a mask or a field draws thousands at a time).
 */
export function rng_fill(s: usize, out: usize, n: usize): void {
  let s0 = load<u32>(s), s1 = load<u32>(s, 4), s2 = load<u32>(s, 8), s3 = load<u32>(s, 12);
  for (let i: usize = 0; i < n; i++) {
    store<u32>(out + (i << 2), rotl(s1 * 5, 7) * 9);
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    s0 ^= n3;
    s1 ^= n2;
    s2 = n2 ^ t;
    s3 = rotl(n3, 11);
  }
  store<u32>(s, s0);
  store<u32>(s, s1, 4);
  store<u32>(s, s2, 8);
  store<u32>(s, s3, 12);
}

/**
 * Rejection loops draw at most this many times. Each draw is accepted with probability over 1/2 (π/4 in rng_normal),
 * so a working generator passes the bound with probability under 2^-64: only a state it cannot leave (all zero, which
 * no seed gives and Network.load refuses) reaches it, and then the loop traps instead of spinning forever.
 */
const MAX_DRAWS = 64;

/** A uniform integer in [0, range), unbiased (Lemire's multiply-and-reject). */
export function rng_below(s: usize, range: u32): u32 {
  let m = <u64>rng_next(s) * <u64>range;
  if (<u32>m < range) {
    const t: u32 = (<u32>0 - range) % range;
    for (let draws = 1; <u32>m < t; draws++) {
      if (draws == MAX_DRAWS) unreachable();
      m = <u64>rng_next(s) * <u64>range;
    }
  }
  return <u32>(m >>> 32);
}

/** y[i] = std * N(0, 1) for i < n (Marsaglia's polar method: only log and sqrt, both exact Wasm code). */
export function rng_normal(s: usize, y: usize, n: i32, std: f32): void {
  let i = 0;
  let draws = 0;
  while (i < n) {
    const u = <f64>(rng_next(s) >>> 8) * (1.0 / 8388608.0) - 1.0; // [-1, 1) on a 2^-23 grid
    const v = <f64>(rng_next(s) >>> 8) * (1.0 / 8388608.0) - 1.0;
    const q = u * u + v * v;
    if (q >= 1.0 || q == 0.0) {
      if (++draws == MAX_DRAWS) unreachable();
      continue;
    }
    draws = 0;
    const k = Math.sqrt(-2.0 * Math.log(q) / q) * <f64>std;
    store<f32>(y + (<usize>i << 2), <f32>(u * k));
    if (++i < n) store<f32>(y + (<usize>i << 2), <f32>(v * k));
    i++;
  }
}

/** p = a uniformly random permutation of 0 .. n-1 (Fisher-Yates inside-out: no initial order needed). */
export function rng_permutation(s: usize, p: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const j = rng_below(s, <u32>(i + 1));
    const pj = p + (<usize>j << 2);
    store<i32>(p + (<usize>i << 2), load<i32>(pj));
    store<i32>(pj, i);
  }
}
