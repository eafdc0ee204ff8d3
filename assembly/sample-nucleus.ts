// Top-p's cut without sorting, for sample.ts: Z is needed only to place the cut. One SIMD pass of a cheap exp bounds it
// (approxSum), a compare of x gathers the elements above e^-4 of the max, and a radix select of their mass
// (sample-select.ts) finds the cut at both ends of the bound: where they agree (almost every row) that is the cut of
// the exact Z (nucleusBounded, settle); else the row takes the exact path, one pass summing e^x with the mass under
// three thresholds (expSum), then the same gather and select. nucleus() then applies top-p and min-p to the kept
// candidates' weights. Results that do not fit a return value are module globals: per instance, so per thread.
import { expv, expf } from "./exp";
import { loadTail, hsum, madd } from "./vec";
import { at32, okey, selKey, selBefore, radixSelect, gather } from "./sample-select";

/**
 * Elements per f32 block of a sum added in f64: expSum's and approxSum's here, and sample.ts's expPass, whose block
 * sums the plain draw (no filter) scans to find the block first, then the element.
 */
export const DRAW_BLOCK: usize = 256;

/**
 * Thresholds of e^((x - max) / T) for top-p's first filter (e^-4, e^-8, e^-13): the largest whose whole mass below
 * stays under (1 - p) Z leaves out elements that cannot be in the nucleus. (Three: more spill registers in the pass.)
 */
export const EPS0: f32 = 0.01831564, EPS1: f32 = 0.00033546, EPS2: f32 = 2.2603294e-6;
// The mass under each threshold, from expSum (globals, not static data, which threads share).
export let below0: f64 = 0, below1: f64 = 0, below2: f64 = 0;

/** Z = sum of e^((x[i] - m) s) over i < n, and the mass under each threshold (below0 .. below2); nothing stored. */
export function expSum(x: usize, n: i32, m: f32, s: f32): f64 {
  const vm = f32x4.splat(m);
  const vs = f32x4.splat(s);
  const t0 = f32x4.splat(EPS0), t1 = f32x4.splat(EPS1), t2 = f32x4.splat(EPS2);
  let z: f64 = 0;
  let u0: f64 = 0, u1: f64 = 0, u2: f64 = 0;
  let i = 0;
  while (i < n) {
    const end = min(n, i + <i32>DRAW_BLOCK) & ~3;
    let acc = f32x4.splat(0);
    let a0 = acc, a1 = acc, a2 = acc;
    for (; i < end; i += 4) {
      const e = expv(f32x4.mul(f32x4.sub(v128.load(at32(x, i)), vm), vs));
      acc = f32x4.add(acc, e);
      a0 = f32x4.add(a0, v128.and(e, f32x4.lt(e, t0)));
      a1 = f32x4.add(a1, v128.and(e, f32x4.lt(e, t1)));
      a2 = f32x4.add(a2, v128.and(e, f32x4.lt(e, t2)));
    }
    if (end == (n & ~3) && i < n) { // the last 1 .. 3
      const e = expv(f32x4.mul(f32x4.sub(loadTail(at32(x, i), <usize>(n - i), -Infinity), vm), vs));
      acc = f32x4.add(acc, e);
      a0 = f32x4.add(a0, v128.and(e, f32x4.lt(e, t0)));
      a1 = f32x4.add(a1, v128.and(e, f32x4.lt(e, t1)));
      a2 = f32x4.add(a2, v128.and(e, f32x4.lt(e, t2)));
      i = n;
    }
    z += <f64>hsum(acc);
    u0 += <f64>hsum(a0);
    u1 += <f64>hsum(a1);
    u2 += <f64>hsum(a2);
  }
  below0 = u0; below1 = u1; below2 = u2;
  return z;
}

/**
 * The candidates whose e = e^((x - m) s) is >= eps (0 < eps <= 1), in index order, into cand and their e into cw;
 * returns the count. A compare of x against m + (ln eps - 0.01) / s, a margin far above the rounding of (x - m) s
 * and of the exp, finds them without an exp; the exact test on e follows for those few.
 */
export function gatherAbove(x: usize, n: i32, m: f32, s: f32, eps: f32, cand: usize, cw: usize): i32 {
  return refine(x, gather(x, n, gatherThreshold(m, s, eps), cand), m, s, eps, cand, cw);
}

/** m + (ln eps - 0.01) / s rounded down: every x whose e^((x - m) s) is >= eps is at or above it. */
export function gatherThreshold(m: f32, s: f32, eps: f32): f32 {
  const t64 = <f64>m + (Math.log(<f64>eps) - 0.01) / <f64>s;
  let thr = <f32>t64;
  if (<f64>thr > t64) thr = reinterpret<f32>(thr > 0 ? reinterpret<u32>(thr) - 1 : reinterpret<u32>(thr) + 1); // round down
  return thr;
}

/** Of the c gathered candidates, those whose e = e^((x - m) s) is >= eps, in order, with their e into cw; the count. */
export function refine(x: usize, c: i32, m: f32, s: f32, eps: f32, cand: usize, cw: usize): i32 {
  const vm = f32x4.splat(m), vs = f32x4.splat(s);
  let o = 0;
  let j = 0;
  for (; j + 4 <= c; j += 4) { // four candidates' exps at once: lane for lane expf's bits (o <= j: read before written)
    const k0 = load<i32>(at32(cand, j)), k1 = load<i32>(at32(cand, j), 4);
    const k2 = load<i32>(at32(cand, j), 8), k3 = load<i32>(at32(cand, j), 12);
    let v = f32x4.splat(load<f32>(at32(x, k0)));
    v = f32x4.replace_lane(v, 1, load<f32>(at32(x, k1)));
    v = f32x4.replace_lane(v, 2, load<f32>(at32(x, k2)));
    v = f32x4.replace_lane(v, 3, load<f32>(at32(x, k3)));
    const e = expv(f32x4.mul(f32x4.sub(v, vm), vs));
    const e0 = f32x4.extract_lane(e, 0), e1 = f32x4.extract_lane(e, 1);
    const e2 = f32x4.extract_lane(e, 2), e3 = f32x4.extract_lane(e, 3);
    if (e0 >= eps) { store<i32>(at32(cand, o), k0); store<f32>(at32(cw, o++), e0); }
    if (e1 >= eps) { store<i32>(at32(cand, o), k1); store<f32>(at32(cw, o++), e1); }
    if (e2 >= eps) { store<i32>(at32(cand, o), k2); store<f32>(at32(cw, o++), e2); }
    if (e3 >= eps) { store<i32>(at32(cand, o), k3); store<f32>(at32(cw, o++), e3); }
  }
  for (; j < c; j++) {
    const k = load<i32>(at32(cand, j));
    const e = expf((load<f32>(at32(x, k)) - m) * s);
    if (e < eps) continue;
    store<i32>(at32(cand, o), k);
    store<f32>(at32(cw, o++), e);
  }
  return o;
}

/**
 * Bound on the relative error of approxSum against expSum's Z: the cheap exp's 7.5e-5 (2^f of degree 3 on [-1/2, 1/2],
 * measured in f32), the rounding of (x - m) s, and both sums' f32 rounding, with room to spare. Below 2^-125 the cheap
 * exp is clamped there: at most n 2^-125 over a Z >= 1 (the max's own e^0). Tested in __tests__/sample.spec.ts.
 */
const APPROX_ERR: f64 = 4e-4;
const APPROX_K: usize = memory.data<f32>([
  12582912.0, 12582912.0, 12582912.0, 12582912.0, // 0: 1.5 * 2^23: t + it rounds t to an integer in the low bits
  -125.0, -125.0, -125.0, -125.0, // 16: t is clamped here, where 2^t is still normal (its weight in Z is nil)
  0.05517188, 0.05517188, 0.05517188, 0.05517188, // 32: c3
  0.24261168, 0.24261168, 0.24261168, 0.24261168, // 48: c2
  0.69326097, 0.69326097, 0.69326097, 0.69326097, // 64: c1
  0.99992800, 0.99992800, 0.99992800, 0.99992800, // 80: c0
], 16);

/** 2^t lane-wise for t <= 0, within APPROX_ERR (7.5e-5 measured): t = n + f with n an integer, f in [-1/2, 1/2]. */
// @ts-ignore: decorator
@inline function exp2Approx(t: v128): v128 {
  t = f32x4.pmax(t, v128.load(APPROX_K, 16));
  const nm = f32x4.add(t, v128.load(APPROX_K));
  const f = f32x4.sub(t, f32x4.sub(nm, v128.load(APPROX_K)));
  let q = madd(v128.load(APPROX_K, 32), f, v128.load(APPROX_K, 48));
  q = madd(q, f, v128.load(APPROX_K, 64));
  q = madd(q, f, v128.load(APPROX_K, 80));
  return i32x4.add(q, i32x4.shl(nm, 23));
}

/** Z within APPROX_ERR: the sum of e^((x[i] - m) s) over i < n by exp2Approx, in f32 blocks of DRAW_BLOCK added in f64. */
export function approxSum(x: usize, n: i32, m: f32, s: f32): f64 {
  const c = <f32>(<f64>s * 1.4426950408889634);
  const vm = f32x4.splat(m), vc = f32x4.splat(c);
  let z: f64 = 0;
  let i = 0;
  for (; i + <i32>DRAW_BLOCK <= n; i += <i32>DRAW_BLOCK) {
    let a0 = f32x4.splat(0), a1 = a0;
    for (let j = i; j < i + <i32>DRAW_BLOCK; j += 8) {
      const p = at32(x, j);
      a0 = f32x4.add(a0, exp2Approx(f32x4.mul(f32x4.sub(v128.load(p), vm), vc)));
      a1 = f32x4.add(a1, exp2Approx(f32x4.mul(f32x4.sub(v128.load(p, 16), vm), vc)));
    }
    z += <f64>hsum(f32x4.add(a0, a1));
  }
  for (; i < n; i++) z += <f64>expf((load<f32>(at32(x, i)) - m) * s);
  return z;
}

// The target nucleusBounded settled on (a global: per instance, so per thread).
export let boundTarget: f64 = 0;

/** Of the candidates at key K (after `before`, the weight above it), how many the target takes, as nucleus counts. */
function tiesTaken(x: usize, cand: usize, cw: usize, c: i32, key: u32, before: f64, target: f64): i32 {
  let acc = before;
  let t = 0;
  for (let j = 0; j < c; j++) {
    if (okey(load<f32>(at32(x, load<i32>(at32(cand, j))))) != key) continue;
    if (!(acc < target)) break;
    acc += <f64>load<f32>(at32(cw, j));
    t++;
  }
  return t;
}

/**
 * Top-p's candidates without Z itself: Z is known within APPROX_ERR by a cheap exp (half of expSum's work), and the
 * kept set is the same for every target in [p Z_lo, p Z_hi] in most rows: then it is the set p Z (as expSum sums it)
 * keeps, since the set grows with the target, so the tokens are exactly those of the exact path. Gathers the elements
 * at or above e^-4 (then e^-8) with their weights into cand / cw and sets boundTarget (a target giving that
 * set); returns their count, or -1 when the bound cannot settle the cut or the nucleus is wide (the caller then
 * sums Z exactly).
 */
export function nucleusBounded(x: usize, n: i32, m: f32, s: f32, p: f64, cand: usize, cw: usize, hist: usize): i32 {
  const za = approxSum(x, n, m, s);
  for (let e = 0; e < 2; e++) { // e^-13 would gather a wide nucleus: the exact path chooses its own eps then
    const eps = e == 0 ? EPS0 : EPS1;
    const raw = gather(x, n, gatherThreshold(m, s, eps), cand);
    if (raw > (n >> 4) + 64) return -1; // a flat row: its exps are the exact path's work, not to be done twice
    const c = refine(x, raw, m, s, eps, cand, cw);
    if (settle(x, cand, cw, c, za, p, hist)) return c;
    if (boundTarget < 0) return -1; // not a lower eps's matter: the bound is too loose here
  }
  return -1;
}

/**
 * Whether the candidates (weights cw, every element at or above some eps) settle top-p's cut for Z anywhere in za's
 * bound: the same key and the same number of ties taken at p Z_lo and p Z_hi. Sets boundTarget to p Z_hi if so, else
 * to 0 when the candidates' mass is under p Z_hi (a lower eps may settle it) or -1 when the cut moves in the bound.
 */
export function settle(x: usize, cand: usize, cw: usize, c: i32, za: f64, p: f64, hist: usize): bool {
  const lo = p * za * (1 - APPROX_ERR), hi = p * za * (1 + APPROX_ERR);
  boundTarget = 0;
  if (!radixSelect(x, cand, cw, c, hi, hist)) return false;
  const key = selKey;
  const ties = tiesTaken(x, cand, cw, c, key, selBefore, hi);
  radixSelect(x, cand, cw, c, lo, hist);
  boundTarget = -1;
  if (selKey != key || tiesTaken(x, cand, cw, c, key, selBefore, lo) != ties) return false;
  boundTarget = hi;
  return true;
}

/**
 * Top-p then min-p over the candidates (weights cw = e^(x - max); target = p Z, Z the mass of all survivors of top-k,
 * or -1 for no top-p): a candidate stays while the mass before it, in descending order of value with ties in index
 * order, is below the target (so the token that crosses p stays, and the largest always does); then while its weight
 * is >= minP (prob >= minP * max prob). Zeroes the weights of the rest; returns the kept mass.
 */
export function nucleus(x: usize, cand: usize, cw: usize, c: i32, target: f64, minP: f32, hist: usize): f64 {
  const cut = target >= 0 && radixSelect(x, cand, cw, c, target, hist);
  const kStar = selKey;
  let acc = selBefore;
  let kept: f64 = 0;
  for (let j = 0; j < c; j++) {
    let w = load<f32>(at32(cw, j));
    if (cut) {
      const key = okey(load<f32>(at32(x, load<i32>(at32(cand, j)))));
      if (key < kStar) w = 0;
      else if (key == kStar) {
        if (acc < target) acc += <f64>w;
        else w = 0;
      }
    }
    if (w < minP) w = 0;
    store<f32>(at32(cw, j), w);
    kept += <f64>w;
  }
  return kept;
}
