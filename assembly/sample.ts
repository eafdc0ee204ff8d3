// The last step of a language model's decode loop, per row of `n` logits: repetition penalty, temperature, top-k,
// top-p, min-p (Hugging Face transformers' processors, in that order), then one draw; and topk_rows, argmax_rows. This
// file holds the entry points, the work area's layout, greedy's argmax and the draw. The vocabulary is never sorted:
// greedy is one SIMD pass (each block's max, then a scan of the first block holding the row's); top-k a bounded
// candidate buffer (sample-select.ts: SIMD compare against a rising threshold, compacted by a radix select of counts
// over the float bits), then e^x of the few survivors only; top-p (without top-k) needs Z only to place its cut
// (sample-nucleus.ts: a cheap exp's bound on Z, a gather and a radix select of the mass, the exact Z where the bound
// cannot settle the cut). min-p alone needs no sum, only the compare. The draw is one cumulative scan. Every scratch
// area lives in the caller's `work` (sample_work_bytes), so each thread of a pool has its own; a pool splits one long
// row by blocks (sample_row_part, sample_row_finish).
import { expv, expf } from "./exp";
import { rng_next } from "./rng";
import { loadTail, hsum, hmax } from "./vec";
import { HIST, at32, okey, selKey, maxChecked, compact, topkCandidates, gather } from "./sample-select";
import {
  DRAW_BLOCK, EPS0, EPS1, EPS2, below0, below1, below2, expSum, gatherAbove, gatherThreshold, refine, approxSum,
  boundTarget, nucleusBounded, settle, nucleus,
} from "./sample-nucleus";

/** Bytes from the start of a work area of n-wide rows: cand (u32), cw (f32), ev (f32), pen (f32), hist, blocks. */
// @ts-ignore: decorator
@inline function vecBytes(n: i32): usize {
  return (((<usize>n + 8) << 2) + 15) & ~<usize>15;
}

/** Bytes of work area sample_rows, topk_rows and argmax_rows need for rows of n logits. */
export function sample_work_bytes(n: i32): usize {
  return 4 * vecBytes(n) + (HIST << 3) + (((<usize>n + DRAW_BLOCK - 1) / DRAW_BLOCK) << 3) + 16;
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
