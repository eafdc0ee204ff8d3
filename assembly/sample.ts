// The last step of a language model's decode loop, per row of `n` logits: repetition penalty, temperature, top-k,
// top-p, min-p (Hugging Face transformers' processors, in that order), then one draw. The vocabulary is never sorted:
// greedy is one SIMD pass (each block's max, then a scan of the first block holding the row's); top-k a bounded
// candidate buffer (SIMD compare against a rising threshold, compacted by a radix select of counts over the float
// bits), then e^x of the few survivors only; top-p (without top-k) needs Z only to place its cut: one SIMD pass of a
// cheap exp bounds it, a compare of x gathers the elements above e^-4 of the max, and a radix select of their mass
// (11 + 11 + 10 bits of the key, so no comparison sort and a tie is exact) finds the cut at both ends of the bound:
// where they agree (almost every row) that is the cut of the exact Z; else the row takes the exact path, one pass
// summing e^x with the mass under three thresholds, then the same gather and select. min-p alone needs no sum, only
// the compare. The draw is one cumulative scan. Every scratch area lives in the caller's `work` (sample_work_bytes),
// so each thread of a pool has its own; a pool splits one long row by blocks (sample_row_part, sample_row_finish).
import { expv, expf } from "./exp";
import { rng_next } from "./rng";
import { loadTail, hsum, hmax, madd } from "./vec";

/** Buckets of the radix select's first two levels (11 bits each; the last level takes the low 10). */
const HIST: usize = 2048;
/** Elements per f64 block sum of the plain draw (no filter): the scan finds the block first, then the element. */
const DRAW_BLOCK: usize = 256;
/**
 * First candidate buffer of top-k (at least 4k): compacted to the k largest whenever it fills, doubled while ties keep
 * it full. Small, so the threshold rises early (k = 50 over 128,256 logits: 26 µs, 35 with 1,024).
 */
const FIRST_CAP: i32 = 256;
// Results of radixSelect (globals are per instance, so per thread).
let selKey: u32 = 0;
let selBefore: f64 = 0;
/** An order-preserving u32 of a float (not NaN): -0 counts as +0, since they compare equal. */
// @ts-ignore: decorator
@inline function okey(v: f32): u32 {
  const b = reinterpret<u32>(v + <f32>0);
  return b ^ (<u32>(<i32>b >> 31) | 0x80000000);
}

// @ts-ignore: decorator
@inline function at32(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

/** Bytes from the start of a work area of n-wide rows: cand (u32), cw (f32), ev (f32), pen (f32), hist, blocks. */
// @ts-ignore: decorator
@inline function vecBytes(n: i32): usize {
  return (((<usize>n + 8) << 2) + 15) & ~<usize>15;
}

/** Bytes of work area sample_rows, topk_rows and argmax_rows need for rows of n logits. */
export function sample_work_bytes(n: i32): usize {
  return 4 * vecBytes(n) + (HIST << 3) + (((<usize>n + DRAW_BLOCK - 1) / DRAW_BLOCK) << 3) + 16;
}

/** The largest element of x[0..n); NaN if any element is NaN (the check rides on the same pass). */
function maxChecked(x: usize, n: i32): f32 {
  let m0 = f32x4.splat(-Infinity);
  let m1 = m0;
  let nan = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const a = v128.load(at32(x, i));
    const b = v128.load(at32(x, i), 16);
    m0 = f32x4.pmax(m0, a);
    m1 = f32x4.pmax(m1, b);
    nan = v128.or(nan, v128.or(f32x4.ne(a, a), f32x4.ne(b, b)));
  }
  if (i + 4 <= n) {
    const a = v128.load(at32(x, i));
    m0 = f32x4.pmax(m0, a);
    nan = v128.or(nan, f32x4.ne(a, a));
    i += 4;
  }
  if (i < n) {
    const a = loadTail(at32(x, i), <usize>(n - i), -Infinity);
    m1 = f32x4.pmax(m1, a);
    nan = v128.or(nan, f32x4.ne(a, a));
  }
  if (v128.any_true(nan)) return NaN;
  const m = f32x4.pmax(m0, m1);
  const h = f32x4.pmax(m, f32x4.shuffle(m, m, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.pmax(h, f32x4.shuffle(h, h, 1, 0, 3, 2)), 0);
}

/** Elements per block of argmaxRow: the scan for the first index of the maximum reads one block. */
const AM_BLOCK: i32 = 256;
// The maximum argmaxRow found (a global: per instance, so per thread).
let amMax: f32 = 0;

/**
 * The first index of the maximum of x[0..n), with amMax = the maximum; -1 if x holds NaN. One pass: each block's max,
 * the first block reaching the row's kept, then a scan of that block alone. NaN rides on a lane sum (NaN + anything
 * is NaN, one add where a compare and an or would be two); maxChecked confirms it, since +Infinity meeting -Infinity
 * or an overflow also gives NaN.
 */
function argmaxRow(x: usize, n: i32): i32 {
  let best: f32 = -Infinity;
  let at = 0;
  let s0 = f32x4.splat(0), s1 = s0;
  let i = 0;
  for (; i + AM_BLOCK <= n; i += AM_BLOCK) {
    let m0 = f32x4.splat(-Infinity), m1 = m0, m2 = m0, m3 = m0;
    for (let j = i; j < i + AM_BLOCK; j += 16) {
      const p = at32(x, j);
      const a = v128.load(p), b = v128.load(p, 16), c = v128.load(p, 32), d = v128.load(p, 48);
      m0 = f32x4.pmax(m0, a);
      m1 = f32x4.pmax(m1, b);
      m2 = f32x4.pmax(m2, c);
      m3 = f32x4.pmax(m3, d);
      s0 = f32x4.add(s0, f32x4.add(a, b));
      s1 = f32x4.add(s1, f32x4.add(c, d));
    }
    const bm = hmax(f32x4.pmax(f32x4.pmax(m0, m1), f32x4.pmax(m2, m3)));
    if (bm > best) {
      best = bm;
      at = i;
    }
  }
  if (i < n) { // the last block, 1 .. AM_BLOCK - 1
    const start = i;
    let m0 = f32x4.splat(-Infinity);
    for (; i + 4 <= n; i += 4) {
      const a = v128.load(at32(x, i));
      m0 = f32x4.pmax(m0, a);
      s0 = f32x4.add(s0, a);
    }
    if (i < n) {
      const a = loadTail(at32(x, i), <usize>(n - i), -Infinity);
      m0 = f32x4.pmax(m0, a);
      s1 = f32x4.add(s1, a);
    }
    const bm = hmax(m0);
    if (bm > best) {
      best = bm;
      at = start;
    }
  }
  const s = f32x4.add(s0, s1);
  if (v128.any_true(f32x4.ne(s, s))) {
    const m = maxChecked(x, n);
    if (m != m) return -1;
    amMax = m;
    return firstIndexOf(x, n, m);
  }
  amMax = best;
  return at + firstIndexOf(at32(x, at), min(n - at, AM_BLOCK), best);
}

/** The first i with x[i] == m (m is an element of x[0..n)). */
function firstIndexOf(x: usize, n: i32, m: f32): i32 {
  const vm = f32x4.splat(m);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const bits = i32x4.bitmask(f32x4.eq(v128.load(at32(x, i)), vm));
    if (bits) return i + <i32>ctz(bits);
  }
  for (; i < n; i++) if (load<f32>(at32(x, i)) == m) return i;
  return 0;
}

/**
 * Radix select over the candidates cand[0..c) (indices into x), in descending order of value: the key K where the
 * weight (w[j], or 1 each when w is 0) accumulated over keys > K stays below `target` and reaches it with K's own.
 * Sets selKey = K and selBefore = the weight of the keys above it; false when the total stays below target.
 */
function radixSelect(x: usize, cand: usize, w: usize, c: i32, target: f64, hist: usize): bool {
  let prefix: u32 = 0;
  let fixed: u32 = 0;
  let before: f64 = 0;
  for (let level = 0; level < 3; level++) {
    const shift: u32 = level == 0 ? 21 : level == 1 ? 10 : 0;
    const width: u32 = level == 2 ? 1024 : <u32>HIST;
    memory.fill(hist, 0, <usize>width << 3);
    for (let j = 0; j < c; j++) {
      const key = okey(load<f32>(at32(x, load<i32>(at32(cand, j)))));
      if ((key & fixed) != prefix) continue;
      const h = hist + (<usize>((key >>> shift) & (width - 1)) << 3);
      store<f64>(h, load<f64>(h) + (w ? <f64>load<f32>(at32(w, j)) : 1.0));
    }
    let b = <i32>width - 1;
    for (; b >= 0; b--) {
      const hb = load<f64>(hist + (<usize>b << 3));
      if (before + hb >= target) break;
      before += hb;
    }
    if (b < 0) return false;
    prefix |= <u32>b << shift;
    fixed |= (width - 1) << shift;
  }
  selKey = prefix;
  selBefore = before;
  return true;
}

/**
 * The k-th largest of the keys[0..c) (0 < k <= c), all of whose bits above `top` are those of `first`: a radix select by
 * counts over 8-bit digits from bit `top` down (so no level is spent on the sign and exponent bits every candidate
 * shares, and a count needs no f64: 256 buckets clear in a quarter of a microsecond). It stops as soon as the k-th is
 * the largest or the smallest key of its bucket: one plain pass then finds it.
 */
function kthKey(keys: usize, c: i32, k: i32, first: u32, top: i32, hist: usize): u32 {
  let fixed: u32 = top >= 31 ? 0 : <u32>0xffffffff << <u32>(top + 1);
  let prefix: u32 = first & fixed;
  let need = <u32>k;
  let shift = 0;
  do {
    shift = max(top - 7, 0);
    const width = <u32>1 << <u32>(top - shift + 1);
    memory.fill(hist, 0, <usize>width << 2);
    for (let j = 0; j < c; j++) {
      const key = load<u32>(at32(keys, j));
      if ((key & fixed) != prefix) continue;
      const h = hist + (<usize>((key >>> <u32>shift) & (width - 1)) << 2);
      store<u32>(h, load<u32>(h) + 1);
    }
    let b = <i32>width - 1;
    let hb: u32 = 0;
    for (; b > 0; b--) {
      hb = load<u32>(hist + (<usize>b << 2));
      if (hb >= need) break;
      need -= hb;
    }
    if (b == 0) hb = load<u32>(hist);
    prefix |= <u32>b << <u32>shift;
    fixed |= (width - 1) << <u32>shift;
    if (shift > 0 && (need == 1 || need == hb)) { // the bucket's largest or smallest key
      let r: u32 = need == 1 ? 0 : 0xffffffff;
      for (let j = 0; j < c; j++) {
        const key = load<u32>(at32(keys, j));
        if ((key & fixed) != prefix) continue;
        r = need == 1 ? max(r, key) : min(r, key);
      }
      return r;
    }
    top = shift - 1;
  } while (shift > 0);
  return prefix;
}

/**
 * Keeps the candidates whose key is >= the k-th largest (all ties), in order; returns their count. Sets selKey. The
 * keys are computed once into `keys` (c u32; any scratch the caller does not need now) and read in order from there.
 */
function compact(x: usize, cand: usize, c: i32, k: i32, hist: usize, keys: usize): i32 {
  const first = okey(load<f32>(at32(x, load<i32>(cand))));
  let diff: u32 = 0;
  for (let j = 0; j < c; j++) {
    const key = okey(load<f32>(at32(x, load<i32>(at32(cand, j)))));
    store<u32>(at32(keys, j), key);
    diff |= key ^ first;
  }
  const kth = diff == 0 ? first : kthKey(keys, c, k, first, 31 - <i32>clz(diff), hist); // c >= k: always found
  selKey = kth;
  let o = 0;
  for (let j = 0; j < c; j++) {
    if (load<u32>(at32(keys, j)) >= kth) store<i32>(at32(cand, o++), load<i32>(at32(cand, j)));
  }
  return o;
}

/** The float whose okey is `key` (+0 for -0's). */
// @ts-ignore: decorator
@inline function ofKey(key: u32): f32 {
  return reinterpret<f32>(key & 0x80000000 ? key ^ 0x80000000 : ~key);
}

// @ts-ignore: decorator
@inline function append(cand: usize, c: i32, bits: i32, i: i32): i32 {
  while (bits) {
    store<i32>(at32(cand, c++), i + <i32>ctz(bits));
    bits &= bits - 1;
  }
  return c;
}

// Where appendAbove stopped and the lane sum of what it read (globals: per instance, so per thread).
let scanAt: i32 = 0;
let scanSum: v128 = f32x4.splat(0);

/**
 * Appends to cand[c..) the indices i in [from, n) with x[i] >= thr, 16 elements at a time (the last n % 16 are the
 * caller's), until c reaches cap or the 16s end; returns c, with scanAt where it stopped and what it read added into
 * scanSum's lanes (a NaN compares false and is never appended: the sum finds it). A vector of 16 that holds nothing
 * at or above thr costs three pmax and one compare. Its own function: no call in the loop, so nothing spills there.
 */
function appendAbove(x: usize, from: i32, n: i32, thr: f32, cand: usize, c: i32, cap: i32): i32 {
  const vt = f32x4.splat(thr);
  let sum = scanSum;
  let i = from;
  for (; i + 16 <= n && c < cap; i += 16) {
    const p = at32(x, i);
    const a = v128.load(p), b = v128.load(p, 16), d = v128.load(p, 32), e = v128.load(p, 48);
    sum = f32x4.add(sum, f32x4.add(f32x4.add(a, b), f32x4.add(d, e)));
    if (!v128.any_true(f32x4.ge(f32x4.pmax(f32x4.pmax(a, b), f32x4.pmax(d, e)), vt))) continue;
    c = append(cand, c, i32x4.bitmask(f32x4.ge(a, vt)), i);
    c = append(cand, c, i32x4.bitmask(f32x4.ge(b, vt)), i + 4);
    c = append(cand, c, i32x4.bitmask(f32x4.ge(d, vt)), i + 8);
    c = append(cand, c, i32x4.bitmask(f32x4.ge(e, vt)), i + 12);
  }
  scanAt = i;
  scanSum = sum;
  return c;
}

/**
 * Top-k's first threshold: the k-th largest of the maxima of the first g groups of 16 (k <= g), where the row holds
 * that many, else -Infinity. k groups hold an element at or above it, so the row's k-th largest is too: the scan
 * starts where it would be after several compactions, for the price of one select over g keys. (A NaN may make it
 * anything: the scan's lane sum refuses that row whatever it keeps.)
 */
function firstThreshold(x: usize, n: i32, k: i32, g: i32, hist: usize, keys: usize): f32 {
  if (n < g << 4) return -Infinity;
  let lo: u32 = 0xffffffff, hi: u32 = 0;
  for (let j = 0; j < g; j++) {
    const p = at32(x, j << 4);
    const m = f32x4.pmax(f32x4.pmax(v128.load(p), v128.load(p, 16)), f32x4.pmax(v128.load(p, 32), v128.load(p, 48)));
    const key = okey(hmax(m));
    store<u32>(at32(keys, j), key);
    lo = min(lo, key);
    hi = max(hi, key);
  }
  return ofKey(hi == lo ? lo : kthKey(keys, g, k, lo, 31 - <i32>clz(hi ^ lo), hist));
}

/**
 * The indices of x[0..n) whose value is >= the k-th largest (every tie at the k-th value kept), in index order, into
 * cand; returns their count, or -1 if x holds a NaN. 0 < k < n. One pass (appendAbove) against a rising threshold:
 * the buffer is compacted to its k largest whenever it fills, the threshold raised to their k-th value. `keys`:
 * scratch for compact (n u32).
 */
function topkCandidates(x: usize, n: i32, k: i32, cand: usize, hist: usize, keys: usize): i32 {
  let c = 0;
  let cap = max(4 * k, FIRST_CAP);
  let thr = firstThreshold(x, n, k, cap, hist, keys);
  let i = 0;
  scanSum = f32x4.splat(0);
  for (;;) {
    c = appendAbove(x, i, n, thr, cand, c, cap);
    i = scanAt;
    if (c < cap) break;
    c = compact(x, cand, c, k, hist, keys);
    thr = ofKey(selKey); // the smallest kept value (or a zero of the other sign: they compare equal)
    if (c > cap >> 1) cap <<= 1;
  }
  // a NaN in the lane sum: a NaN in x, or +Infinity meeting -Infinity (maxChecked tells which)
  if (v128.any_true(f32x4.ne(scanSum, scanSum)) && isNaN(maxChecked(x, n))) return -1;
  for (; i < n; i++) {
    const v = load<f32>(at32(x, i));
    if (v != v) return -1;
    if (v >= thr) store<i32>(at32(cand, c++), i);
  }
  return compact(x, cand, c, k, hist, keys);
}

/** ev[i] = e^((x[i] - m) s) for i < n; block sums of DRAW_BLOCK elements into blocks (f64); returns their sum. */
function expPass(x: usize, ev: usize, n: i32, m: f32, s: f32, blocks: usize): f64 {
  const vm = f32x4.splat(m);
  const vs = f32x4.splat(s);
  let z: f64 = 0;
  let k = 0;
  let b0 = 0;
  for (; b0 + <i32>DRAW_BLOCK <= n; b0 += <i32>DRAW_BLOCK, k++) {
    let a0 = f32x4.splat(0);
    let a1 = a0;
    for (let i = b0; i < b0 + <i32>DRAW_BLOCK; i += 8) {
      const e0 = expv(f32x4.mul(f32x4.sub(v128.load(at32(x, i)), vm), vs));
      const e1 = expv(f32x4.mul(f32x4.sub(v128.load(at32(x, i), 16), vm), vs));
      v128.store(at32(ev, i), e0);
      v128.store(at32(ev, i), e1, 16);
      a0 = f32x4.add(a0, e0);
      a1 = f32x4.add(a1, e1);
    }
    const bs = <f64>hsum(f32x4.add(a0, a1));
    store<f64>(blocks + (<usize>k << 3), bs);
    z += bs;
  }
  if (b0 < n) {
    let t: f32 = 0;
    for (let i = b0; i < n; i++) {
      const e = expf((load<f32>(at32(x, i)) - m) * s);
      store<f32>(at32(ev, i), e);
      t += e;
    }
    store<f64>(blocks + (<usize>k << 3), <f64>t);
    z += <f64>t;
  }
  return z;
}

/**
 * Thresholds of e^((x - max) / T) for top-p's first filter (e^-4, e^-8, e^-13): the largest whose whole mass below
 * stays under (1 - p) Z leaves out elements that cannot be in the nucleus. (Three: more spill registers in the pass.)
 */
const EPS0: f32 = 0.01831564, EPS1: f32 = 0.00033546, EPS2: f32 = 2.2603294e-6;
// The mass under each threshold, from expSum (globals, not static data, which threads share).
let below0: f64 = 0, below1: f64 = 0, below2: f64 = 0;

/** Z = sum of e^((x[i] - m) s) over i < n, and the mass under each threshold (below0 .. below2); nothing stored. */
function expSum(x: usize, n: i32, m: f32, s: f32): f64 {
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
function gatherAbove(x: usize, n: i32, m: f32, s: f32, eps: f32, cand: usize, cw: usize): i32 {
  return refine(x, gather(x, n, gatherThreshold(m, s, eps), cand), m, s, eps, cand, cw);
}

/** m + (ln eps - 0.01) / s rounded down: every x whose e^((x - m) s) is >= eps is at or above it. */
function gatherThreshold(m: f32, s: f32, eps: f32): f32 {
  const t64 = <f64>m + (Math.log(<f64>eps) - 0.01) / <f64>s;
  let thr = <f32>t64;
  if (<f64>thr > t64) thr = reinterpret<f32>(thr > 0 ? reinterpret<u32>(thr) - 1 : reinterpret<u32>(thr) + 1); // round down
  return thr;
}

/** The indices i < n with x[i] >= thr, in order, into cand; returns their count. */
function gather(x: usize, n: i32, thr: f32, cand: usize): i32 {
  const vt = f32x4.splat(thr);
  let c = 0;
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = at32(x, i);
    const ga = f32x4.ge(v128.load(p), vt), gb = f32x4.ge(v128.load(p, 16), vt);
    const gd = f32x4.ge(v128.load(p, 32), vt), ge = f32x4.ge(v128.load(p, 48), vt);
    if (!v128.any_true(v128.or(v128.or(ga, gb), v128.or(gd, ge)))) continue;
    c = append(cand, c, i32x4.bitmask(ga), i);
    c = append(cand, c, i32x4.bitmask(gb), i + 4);
    c = append(cand, c, i32x4.bitmask(gd), i + 8);
    c = append(cand, c, i32x4.bitmask(ge), i + 12);
  }
  for (; i < n; i++) if (load<f32>(at32(x, i)) >= thr) store<i32>(at32(cand, c++), i);
  return c;
}

/** Of the c gathered candidates, those whose e = e^((x - m) s) is >= eps, in order, with their e into cw; the count. */
function refine(x: usize, c: i32, m: f32, s: f32, eps: f32, cand: usize, cw: usize): i32 {
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
function approxSum(x: usize, n: i32, m: f32, s: f32): f64 {
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
let boundTarget: f64 = 0;

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
function nucleusBounded(x: usize, n: i32, m: f32, s: f32, p: f64, cand: usize, cw: usize, hist: usize): i32 {
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
function settle(x: usize, cand: usize, cw: usize, c: i32, za: f64, p: f64, hist: usize): bool {
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
function nucleus(x: usize, cand: usize, cw: usize, c: i32, target: f64, minP: f32, hist: usize): f64 {
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

/** The first candidate where the running kept mass passes u * kept (u in [0, 1)); the last kept one if rounding never does. */
function drawFrom(cand: usize, cw: usize, c: i32, kept: f64, u: f64): i32 {
  const t = u * kept;
  let cum: f64 = 0;
  let last = 0;
  for (let j = 0; j < c; j++) {
    const w = load<f32>(at32(cw, j));
    if (w > 0) {
      cum += <f64>w;
      last = j;
      if (cum > t) break;
    }
  }
  return load<i32>(at32(cand, last));
}

/** The draw over every element (no filter): the block sums find the block, a scan inside it the element. */
function drawAll(ev: usize, blocks: usize, n: i32, z: f64, u: f64): i32 {
  const t = u * z;
  let cum: f64 = 0;
  const nb = (n + <i32>DRAW_BLOCK - 1) / <i32>DRAW_BLOCK;
  for (let k = 0; k < nb; k++) {
    const bs = load<f64>(blocks + (<usize>k << 3));
    if (cum + bs > t) {
      const end = min(n, (k + 1) * <i32>DRAW_BLOCK);
      let last = -1;
      for (let i = k * <i32>DRAW_BLOCK; i < end; i++) {
        const e = load<f32>(at32(ev, i));
        if (e > 0) {
          cum += <f64>e;
          last = i;
          if (cum > t) return i;
        }
      }
      if (last >= 0) return last;
      break;
    }
    cum += bs;
  }
  let i = n - 1;
  while (i > 0 && !(load<f32>(at32(ev, i)) > 0)) i--;
  return i;
}

/** A uniform in [0, 1) on the 2^-53 grid, from two draws (27 + 26 bits). */
// @ts-ignore: decorator
@inline function uniform53(state: usize): f64 {
  const a = rng_next(state) >>> 5;
  const b = rng_next(state) >>> 6;
  return (<f64>a * 67108864.0 + <f64>b) * (1.0 / 9007199254740992.0);
}

/**
 * One token per row of x (rows x n logits): ids[r] (i32), drawn with the generator at `state`, two draws a row; or,
 * where probs is not 0, the distribution the draw would use, into probs (rows x n). scale = 1 / temperature, 0 for
 * greedy (the first index of the maximum, no draw); k = 0 or >= n is no top-k, p = 1 no top-p, minP = 0 no min-p;
 * ntok > 0 penalizes the tokens at `tokens` (i32, in range, the caller checked): a logit v becomes v / penalty,
 * or v * penalty if negative. Returns -1, or the first row that holds NaN or +Infinity or is all -Infinity.
 */
export function sample_rows(x: usize, rows: i32, n: i32, ids: usize, probs: usize, scale: f32, k: i32, p: f64,
  minP: f32, penalty: f32, tokens: usize, ntok: i32, state: usize, work: usize): i32 {
  const vb = vecBytes(n);
  const cand = work, cw = work + vb, ev = work + 2 * vb, pen = work + 3 * vb;
  const hist = work + 4 * vb;
  const blocks = hist + (HIST << 3);
  for (let r = 0; r < rows; r++) {
    let row = x + (<usize>r * <usize>n << 2);
    if (ntok > 0) {
      memory.copy(pen, row, <usize>n << 2);
      for (let t = 0; t < ntok; t++) {
        const i = load<i32>(at32(tokens, t));
        const v = load<f32>(at32(row, i)); // from the row, so a repeated token is penalized once
        store<f32>(at32(pen, i), v < 0 ? v * penalty : v / penalty);
      }
      row = pen;
    }
    const outRow = probs + (<usize>r * <usize>n << 2);
    if (scale == 0) {
      const i = argmaxRow(row, n);
      if (i < 0 || !(amMax > -Infinity && amMax < Infinity)) return r;
      if (ids) store<i32>(at32(ids, r), i);
      if (probs) {
        memory.fill(outRow, 0, <usize>n << 2);
        store<f32>(at32(outRow, i), 1);
      }
      continue;
    }
    let c: i32;
    let kept: f64;
    if (k > 0 && k < n) {
      c = topkCandidates(row, n, k, cand, hist, cw);
      if (c < 0) return r;
      kept = topkRest(row, cand, cw, c, scale, p, minP, hist);
      if (kept < 0) return r;
    } else {
      const m = maxChecked(row, n);
      if (!(m > -Infinity && m < Infinity)) return r;
      if (p == 1 && minP == 0) {
        const z = expPass(row, ev, n, m, scale, blocks);
        if (ids) store<i32>(at32(ids, r), drawAll(ev, blocks, n, z, uniform53(state)));
        if (probs) for (let i = 0; i < n; i++) store<f32>(at32(outRow, i), <f32>(<f64>load<f32>(at32(ev, i)) / z));
        continue;
      }
      if (p < 1) {
        c = nucleusBounded(row, n, m, scale, p, cand, cw, hist);
        if (c >= 0) {
          kept = nucleus(row, cand, cw, c, boundTarget, minP, hist);
          if (ids) store<i32>(at32(ids, r), drawFrom(cand, cw, c, kept, uniform53(state)));
          if (probs) deliverProbs(outRow, n, cand, cw, c, kept);
          continue;
        }
      }
      // the candidates: every element at or above eps, the largest threshold that provably loses no kept token
      let z: f64 = 0;
      let eps = minP;
      if (p < 1) {
        z = expSum(row, n, m, scale);
        const room = (1 - p) * z - 1e-5 * z; // less a margin for the rounding of the sums
        eps = max(eps, below0 < room ? EPS0 : below1 < room ? EPS1 : below2 < room ? EPS2 : 0);
      }
      if (eps > 0) {
        c = gatherAbove(row, n, m, scale, eps, cand, cw);
      } else { // p so close to 1 that every element may count
        z = expPass(row, ev, n, m, scale, blocks);
        for (let i = 0; i < n; i++) {
          store<i32>(at32(cand, i), i);
          store<f32>(at32(cw, i), load<f32>(at32(ev, i)));
        }
        c = n;
      }
      kept = nucleus(row, cand, cw, c, p < 1 ? p * z : -1, minP, hist);
    }
    if (ids) store<i32>(at32(ids, r), drawFrom(cand, cw, c, kept, uniform53(state)));
    if (probs) deliverProbs(outRow, n, cand, cw, c, kept);
  }
  return -1;
}

/** Top-p and min-p over top-k's c candidates (weights into cw); the kept mass, or -1 if their max is not finite. */
function topkRest(x: usize, cand: usize, cw: usize, c: i32, scale: f32, p: f64, minP: f32, hist: usize): f64 {
  let m: f32 = -Infinity;
  for (let j = 0; j < c; j++) m = max(m, load<f32>(at32(x, load<i32>(at32(cand, j)))));
  if (!(m > -Infinity && m < Infinity)) return -1;
  let z: f64 = 0;
  for (let j = 0; j < c; j++) {
    const e = expf((load<f32>(at32(x, load<i32>(at32(cand, j)))) - m) * scale);
    store<f32>(at32(cw, j), e);
    z += <f64>e;
  }
  return nucleus(x, cand, cw, c, p < 1 ? p * z : -1, minP, hist);
}

/**
 * One block of a single long row (n here: the block's length) for a pool's split (src/threads.ts), in its own work
 * area (sample_work_bytes(n)); indices are the block's own. mode 0: argmaxRow, returning the index (-1: NaN) with
 * the max at out (f32); mode 1: top-k's candidates of the block (every element >= its k-th largest, or all of them
 * when k >= n) into the work area's start, returning their count (-1: NaN); mode 2: given the row's max m, the
 * block's approxSum (f64 at out) and the elements at or above top-p's first gather threshold (e^-4) into the work
 * area's start, returning their count.
 */
export function sample_row_part(x: usize, n: i32, mode: i32, m: f32, scale: f32, k: i32, out: usize, work: usize): i32 {
  const cand = work, hist = work + 4 * vecBytes(n);
  if (mode == 0) {
    const i = argmaxRow(x, n);
    store<f32>(out, amMax);
    return i;
  }
  if (mode == 1) {
    if (k < n) return topkCandidates(x, n, k, cand, hist, work + vecBytes(n));
    if (isNaN(maxChecked(x, n))) return -1;
    for (let i = 0; i < n; i++) store<i32>(at32(cand, i), i);
    return n;
  }
  store<f64>(out, approxSum(x, n, m, scale));
  return gather(x, n, gatherThreshold(m, scale, EPS0), cand);
}

/**
 * The rest of sample_rows for one row of n whose blocks a pool ran sample_row_part over, the candidates merged in
 * index order at the start of work (sample_work_bytes(n)): mode 1 top-k's (c of them), mode 2 top-p's gather at e^-4
 * (c), with m the row's max and za the blocks' approxSum added. Draws ids[0] (or writes probs) as sample_rows would;
 * returns 0, 1 when the row must run whole (top-p's bound could not settle the cut), or 2 when the row is refused.
 */
export function sample_row_finish(x: usize, n: i32, mode: i32, m: f32, za: f64, c: i32, ids: usize, probs: usize,
  scale: f32, k: i32, p: f64, minP: f32, state: usize, work: usize): i32 {
  const vb = vecBytes(n);
  const cand = work, cw = work + vb, hist = work + 4 * vb;
  let kept: f64;
  if (mode == 1) {
    c = compact(x, cand, c, k, hist, cw); // every block's k largest hold the row's: the same set topkCandidates keeps
    kept = topkRest(x, cand, cw, c, scale, p, minP, hist);
    if (kept < 0) return 2;
  } else {
    c = refine(x, c, m, scale, EPS0, cand, cw);
    if (!settle(x, cand, cw, c, za, p, hist)) return 1;
    kept = nucleus(x, cand, cw, c, boundTarget, minP, hist);
  }
  if (ids) store<i32>(ids, drawFrom(cand, cw, c, kept, uniform53(state)));
  if (probs) deliverProbs(probs, n, cand, cw, c, kept);
  return 0;
}

/** The distribution a row draws from into out (n): the candidates' kept weights over their sum, zeros elsewhere. */
function deliverProbs(out: usize, n: i32, cand: usize, cw: usize, c: i32, kept: f64): void {
  memory.fill(out, 0, <usize>n << 2);
  for (let j = 0; j < c; j++) store<f32>(at32(out, load<i32>(at32(cand, j))), <f32>(<f64>load<f32>(at32(cw, j)) / kept));
}

/** Advances the generator at `state` by `draws` draws (where a pool's share of rows starts). */
export function rng_skip(state: usize, draws: i32): void {
  for (let i = 0; i < draws; i++) rng_next(state);
}

/** Sorts the u64 keys a[0..c) in descending order (heapsort: in place, O(c log c), no recursion). */
function sortDesc(a: usize, c: i32): void {
  // a min-heap, popped to the end: the end gets the smallest
  for (let i = (c >> 1) - 1; i >= 0; i--) siftDown(a, i, c);
  for (let end = c - 1; end > 0; end--) {
    const t = load<u64>(a);
    store<u64>(a, load<u64>(a + (<usize>end << 3)));
    store<u64>(a + (<usize>end << 3), t);
    siftDown(a, 0, end);
  }
}

function siftDown(a: usize, i: i32, c: i32): void {
  const v = load<u64>(a + (<usize>i << 3));
  for (;;) {
    let ch = 2 * i + 1;
    if (ch >= c) break;
    if (ch + 1 < c && load<u64>(a + (<usize>(ch + 1) << 3)) < load<u64>(a + (<usize>ch << 3))) ch++;
    const cv = load<u64>(a + (<usize>ch << 3));
    if (cv >= v) break;
    store<u64>(a + (<usize>i << 3), cv);
    i = ch;
  }
  store<u64>(a + (<usize>i << 3), v);
}

/**
 * The k largest of each row of x (rows x n), sorted descending, ties by lower index: values (f32) and indices (i32),
 * rows x k. 0 <= k <= n. Returns -1, or the first row that holds NaN.
 */
export function topk_rows(x: usize, rows: i32, n: i32, k: i32, values: usize, indices: usize, work: usize): i32 {
  const vb = vecBytes(n);
  const cand = work, keys = work + 2 * vb; // keys (u64) take the ev and pen areas
  const hist = work + 4 * vb;
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>r * <usize>n << 2);
    let c: i32;
    if (k < n) {
      if (k > 0) c = topkCandidates(row, n, k, cand, hist, work + vb);
      else c = isNaN(maxChecked(row, n)) ? -1 : 0;
      if (c < 0) return r;
    } else {
      if (isNaN(maxChecked(row, n))) return r;
      for (let i = 0; i < n; i++) store<i32>(at32(cand, i), i);
      c = n;
    }
    // the candidates are the k largest plus any ties at the k-th value: those tied keep their lower indices
    const kth = c > k ? selKey : 0;
    let above = 0;
    for (let j = 0; j < c; j++) if (okey(load<f32>(at32(row, load<i32>(at32(cand, j))))) > kth) above++;
    let ties = k - above;
    let o = 0;
    for (let j = 0; j < c && o < k; j++) {
      const i = load<i32>(at32(cand, j));
      const key = okey(load<f32>(at32(row, i)));
      if (key < kth || (key == kth && ties-- <= 0)) continue;
      store<u64>(keys + (<usize>o << 3), (<u64>key << 32) | <u64>(~<u32>i));
      o++;
    }
    sortDesc(keys, o);
    const vr = values + (<usize>r * <usize>k << 2), ir = indices + (<usize>r * <usize>k << 2);
    for (let j = 0; j < o; j++) {
      const i = <i32>(~<u32>load<u64>(keys + (<usize>j << 3)));
      store<i32>(at32(ir, j), i);
      store<f32>(at32(vr, j), load<f32>(at32(row, i)));
    }
  }
  return -1;
}

/** The first index of each row's maximum (rows x n) into out (i32). Returns -1, or the first row that holds NaN. */
export function argmax_rows(x: usize, rows: i32, n: i32, out: usize): i32 {
  for (let r = 0; r < rows; r++) {
    const row = x + (<usize>r * <usize>n << 2);
    const i = argmaxRow(row, n);
    if (i < 0) return r;
    store<i32>(at32(out, r), i);
  }
  return -1;
}
