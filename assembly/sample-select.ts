// Finding a row's candidates without sorting it, for the sampling kernels (sample.ts) and top-p's search
// (sample-nucleus.ts): an order-preserving u32 key of each float; radix selects over those keys, by mass (11 + 11 + 10
// bits, f64 weights: top-p's cut) and by count (8-bit digits: the k-th largest), so no comparison sort and a tie is
// exact; compaction of a candidate buffer to its k largest; top-k's one pass (SIMD compare against a rising threshold,
// the buffer compacted whenever it fills); and the plain gather of the elements at or above a threshold. What does not
// fit a return value (the selected key, the weight above it, where a scan stopped) is a module global: per instance,
// so per thread. The buffers and histograms are the caller's (sample.ts's work area).
import { loadTail, hmax } from "./vec";

/** Buckets of the radix select's first two levels (11 bits each; the last level takes the low 10). */
export const HIST: usize = 2048;
/**
 * First candidate buffer of top-k (at least 4k): compacted to the k largest whenever it fills, doubled while ties keep
 * it full. Small, so the threshold rises early (k = 50 over 128,256 logits: 26 µs, 35 with 1,024).
 */
const FIRST_CAP: i32 = 256;
// Results of radixSelect (globals are per instance, so per thread).
export let selKey: u32 = 0;
export let selBefore: f64 = 0;
/** An order-preserving u32 of a float (not NaN): -0 counts as +0, since they compare equal. */
// @ts-ignore: decorator
@inline export function okey(v: f32): u32 {
  const b = reinterpret<u32>(v + <f32>0);
  return b ^ (<u32>(<i32>b >> 31) | 0x80000000);
}

// @ts-ignore: decorator
@inline export function at32(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

/** The largest element of x[0..n); NaN if any element is NaN (the check rides on the same pass). */
export function maxChecked(x: usize, n: i32): f32 {
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

/**
 * Radix select over the candidates cand[0..c) (indices into x), in descending order of value: the key K where the
 * weight (w[j], or 1 each when w is 0) accumulated over keys > K stays below `target` and reaches it with K's own.
 * Sets selKey = K and selBefore = the weight of the keys above it; false when the total stays below target.
 */
export function radixSelect(x: usize, cand: usize, w: usize, c: i32, target: f64, hist: usize): bool {
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
export function compact(x: usize, cand: usize, c: i32, k: i32, hist: usize, keys: usize): i32 {
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
export function topkCandidates(x: usize, n: i32, k: i32, cand: usize, hist: usize, keys: usize): i32 {
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

/** The indices i < n with x[i] >= thr, in order, into cand; returns their count. */
export function gather(x: usize, n: i32, thr: f32, cand: usize): i32 {
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
