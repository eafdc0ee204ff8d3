// Row-wise softmax and log-softmax, forward and backward, and the inverse softmax.
// Microkernels (one job each, one row of n floats, pointers in bytes) followed by the row drivers that Wasm exports.
import { expv, expk, expvk, logv, logf } from "./exp";
import { loadTail, storeTail, hsum, hmax, transposeLoadRows, storeColumns4, BLOCK } from "./vec";

/**
 * max_i x[i], ignoring NaN: pmax is one instruction where NaN-propagating max is a sequence that made this pass
 * 10x slower. A NaN still poisons its row, through the exp pass that follows every max.
 */
export function rmax(x: usize, n: usize): f32 {
  let m0 = f32x4.splat(-Infinity);
  let m1 = m0;
  let m2 = m0;
  let m3 = m0;
  let i: usize = 0;
  for (; i + 16 <= n; i += 16) {
    m0 = f32x4.pmax(m0, v128.load(x + (i << 2)));
    m1 = f32x4.pmax(m1, v128.load(x + (i << 2), 16));
    m2 = f32x4.pmax(m2, v128.load(x + (i << 2), 32));
    m3 = f32x4.pmax(m3, v128.load(x + (i << 2), 48));
  }
  for (; i + 4 <= n; i += 4) m0 = f32x4.pmax(m0, v128.load(x + (i << 2)));
  if (i < n) m1 = f32x4.pmax(m1, loadTail(x + (i << 2), n - i, -Infinity));
  return hmax(f32x4.pmax(f32x4.pmax(m0, m1), f32x4.pmax(m2, m3)));
}

/** y[i] = e^(x[i] - max); returns the sum of the y[i]. y may be x. */
export function raddstoreexpminusmax(x: usize, y: usize, n: usize, max: f32): f32 {
  const vm = f32x4.splat(max);
  let s0 = f32x4.splat(0);
  let s1 = s0;
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) {
    const p = i << 2;
    const e0 = expv(f32x4.sub(v128.load(x + p), vm));
    const e1 = expv(f32x4.sub(v128.load(x + p, 16), vm));
    v128.store(y + p, e0);
    v128.store(y + p, e1, 16);
    s0 = f32x4.add(s0, e0);
    s1 = f32x4.add(s1, e1);
  }
  if (i + 4 <= n) {
    const e = expv(f32x4.sub(v128.load(x + (i << 2)), vm));
    v128.store(y + (i << 2), e);
    s0 = f32x4.add(s0, e);
    i += 4;
  }
  if (i < n) {
    const e = expv(f32x4.sub(loadTail(x + (i << 2), n - i, -Infinity), vm));
    storeTail(y + (i << 2), e, n - i);
    s1 = f32x4.add(s1, e);
  }
  return hsum(f32x4.add(s0, s1));
}

/** Sum of e^(x[i] - max), nothing stored. */
export function raddexpminusmax(x: usize, n: usize, max: f32): f32 {
  const vm = f32x4.splat(max);
  let s0 = f32x4.splat(0);
  let s1 = s0;
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) {
    s0 = f32x4.add(s0, expv(f32x4.sub(v128.load(x + (i << 2)), vm)));
    s1 = f32x4.add(s1, expv(f32x4.sub(v128.load(x + (i << 2), 16), vm)));
  }
  if (i + 4 <= n) {
    s0 = f32x4.add(s0, expv(f32x4.sub(v128.load(x + (i << 2)), vm)));
    i += 4;
  }
  if (i < n) s1 = f32x4.add(s1, expv(f32x4.sub(loadTail(x + (i << 2), n - i, -Infinity), vm)));
  return hsum(f32x4.add(s0, s1));
}

/** y[i] = x[i] * s. y may be x. */
export function vscale(x: usize, y: usize, n: usize, s: f32): void {
  const vs = f32x4.splat(s);
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) {
    v128.store(y + (i << 2), f32x4.mul(v128.load(x + (i << 2)), vs));
    v128.store(y + (i << 2), f32x4.mul(v128.load(x + (i << 2), 16), vs), 16);
  }
  if (i + 4 <= n) { v128.store(y + (i << 2), f32x4.mul(v128.load(x + (i << 2)), vs)); i += 4; }
  if (i < n) storeTail(y + (i << 2), f32x4.mul(loadTail(x + (i << 2), n - i, 0), vs), n - i);
}

/** y[i] = (x[i] - a) * s - b: log-softmax's output pass, and a plain shift with a = 0, s = 1. */
export function vsubmulsub(x: usize, y: usize, n: usize, a: f32, s: f32, b: f32): void {
  const va = f32x4.splat(a);
  const vs = f32x4.splat(s);
  const vb = f32x4.splat(b);
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) {
    v128.store(y + (i << 2), f32x4.sub(f32x4.mul(f32x4.sub(v128.load(x + (i << 2)), va), vs), vb));
  }
  if (i < n) storeTail(y + (i << 2), f32x4.sub(f32x4.mul(f32x4.sub(loadTail(x + (i << 2), n - i, 0), va), vs), vb), n - i);
}

/** sum_i a[i] * b[i]. */
export function rdot(a: usize, b: usize, n: usize): f32 {
  let s0 = f32x4.splat(0);
  let s1 = s0;
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) {
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + (i << 2)), v128.load(b + (i << 2))));
    s1 = f32x4.add(s1, f32x4.mul(v128.load(a + (i << 2), 16), v128.load(b + (i << 2), 16)));
  }
  if (i + 4 <= n) { s0 = f32x4.add(s0, f32x4.mul(v128.load(a + (i << 2)), v128.load(b + (i << 2)))); i += 4; }
  if (i < n) s1 = f32x4.add(s1, f32x4.mul(loadTail(a + (i << 2), n - i, 0), loadTail(b + (i << 2), n - i, 0)));
  return hsum(f32x4.add(s0, s1));
}

/** sum_i x[i]. */
export function rsum(x: usize, n: usize): f32 {
  let s0 = f32x4.splat(0);
  let s1 = s0;
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) {
    s0 = f32x4.add(s0, v128.load(x + (i << 2)));
    s1 = f32x4.add(s1, v128.load(x + (i << 2), 16));
  }
  if (i + 4 <= n) { s0 = f32x4.add(s0, v128.load(x + (i << 2))); i += 4; }
  if (i < n) s1 = f32x4.add(s1, loadTail(x + (i << 2), n - i, 0));
  return hsum(f32x4.add(s0, s1));
}

/** dx[i] = y[i] * (dy[i] - dot): softmax's backward pass, dot = sum_j dy[j] y[j]. */
export function vsoftmaxbackward(y: usize, dy: usize, dx: usize, n: usize, dot: f32): void {
  const vd = f32x4.splat(dot);
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) {
    const p = i << 2;
    v128.store(dx + p, f32x4.mul(v128.load(y + p), f32x4.sub(v128.load(dy + p), vd)));
  }
  if (i < n) {
    const p = i << 2;
    storeTail(dx + p, f32x4.mul(loadTail(y + p, n - i, 0), f32x4.sub(loadTail(dy + p, n - i, 0), vd)), n - i);
  }
}

/** dx[i] = dy[i] - e^logp[i] * sum: log-softmax's backward pass, sum = sum_j dy[j]. */
export function vlogsoftmaxbackward(logp: usize, dy: usize, dx: usize, n: usize, sum: f32): void {
  const vs = f32x4.splat(sum);
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) {
    const p = i << 2;
    v128.store(dx + p, f32x4.sub(v128.load(dy + p), f32x4.mul(expv(v128.load(logp + p)), vs)));
  }
  if (i < n) {
    const p = i << 2;
    const e = expv(loadTail(logp + p, n - i, -Infinity));
    storeTail(dx + p, f32x4.sub(loadTail(dy + p, n - i, 0), f32x4.mul(e, vs)), n - i);
  }
}

/** y[i] = ln x[i]. y may be x. */
export function vlog(x: usize, y: usize, n: usize): void {
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) v128.store(y + (i << 2), logv(v128.load(x + (i << 2))));
  if (i < n) storeTail(y + (i << 2), logv(loadTail(x + (i << 2), n - i, 1)), n - i);
}

/** Sum of the finite x[i] (infinities and NaN left out). */
export function rsumfinite(x: usize, n: usize): f32 {
  const inf = f32x4.splat(Infinity);
  let s = f32x4.splat(0);
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (i << 2));
    s = f32x4.add(s, v128.and(v, f32x4.lt(f32x4.abs(v), inf)));
  }
  if (i < n) {
    const v = loadTail(x + (i << 2), n - i, 0);
    s = f32x4.add(s, v128.and(v, f32x4.lt(f32x4.abs(v), inf)));
  }
  return hsum(s);
}

/** How many x[i] are finite. */
export function rcountfinite(x: usize, n: usize): i32 {
  const inf = f32x4.splat(Infinity);
  let c = i32x4.splat(0);
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) c = i32x4.sub(c, f32x4.lt(f32x4.abs(v128.load(x + (i << 2))), inf));
  if (i < n) c = i32x4.sub(c, f32x4.lt(f32x4.abs(loadTail(x + (i << 2), n - i, Infinity)), inf));
  return i32x4.extract_lane(c, 0) + i32x4.extract_lane(c, 1) + i32x4.extract_lane(c, 2) + i32x4.extract_lane(c, 3);
}

// ---- row drivers: x is (rows, cols) row-major; long rows reduce in f32 blocks added up in f64 ----

/** Row sum of e^(x - max) stored into y, over blocks (the exp-sum pass of softmaxRow, for the losses). */
export function blockedExpSum(x: usize, y: usize, n: usize, max: f32): f64 {
  return rowExpSum(x, y, n, 1, max, false, 0);
}

// Below this scale (temperature above ~1e30) x - max could overflow before the scaling: scale first.
const TINY_SCALE: f32 = 1e-30;

// Rows narrower than this go four at a time as column vectors, lane i holding row i: no horizontal reductions, no
// partial vectors in the exp, and every lane through the same operations, so a row's bits do not depend on where it
// sits or on how many rows the call has (or how the threads build splits them). A last group of k < 4 rows repeats
// its last row in the missing lanes: read, computed and stored again to the same place, the same bits.
export const NARROW: usize = 32;
// Column vectors of four rows (a group), a partial last block transposed whole, hence the 4 extra; an area holds two
// groups' columns, and softmaxNarrow fills two areas in turn (a pair of groups stored while the next is computed).
const GROUP_BYTES: usize = (32 + 4) << 4;
export const COLS_BYTES: usize = 2 * GROUP_BYTES;
const COLS4_STATIC: usize = memory.data(2 * ((32 + 4) << 4), 16);
const COLS4B_STATIC: usize = memory.data(2 * ((32 + 4) << 4), 16);
// The threads build (dist/softmax-threads.wasm) points each instance (one per thread, globals are per instance) at
// its own areas with set_scratch_cols; the other builds fold cols4() / cols4b() to the static areas at compile time.
let colsA: usize = COLS4_STATIC;
let colsB: usize = COLS4B_STATIC;
export function set_scratch_cols(a: usize, b: usize): void { colsA = a; colsB = b; }
// @ts-ignore: decorator
@inline export function cols4(): usize { return ASC_FEATURE_THREADS ? colsA : COLS4_STATIC; }
// @ts-ignore: decorator
@inline function cols4b(): usize { return ASC_FEATURE_THREADS ? colsB : COLS4B_STATIC; }

/** The row of lane i (0..3) in a group of k (1..4) rows from x, stride bytes apart: lanes past k repeat the last. */
// @ts-ignore: decorator
@inline export function laneRow(x: usize, stride: usize, i: usize, k: usize): usize {
  return x + min(i, k - 1) * stride;
}

/**
 * A group of k rows of n floats from x into columns at t; returns their max. With a huge temperature the columns and
 * the max are scaled first (x - max could overflow), the exp pass then takes them as they are.
 */
// @ts-ignore: decorator
@inline function loadGroup(x: usize, stride: usize, k: usize, n: usize, t: usize, scale: f32): v128 {
  const m = transposeLoadRows(x, laneRow(x, stride, 1, k), laneRow(x, stride, 2, k), laneRow(x, stride, 3, k), n, t);
  if (scale >= TINY_SCALE) return m;
  const vs = f32x4.splat(scale);
  for (let j: usize = 0; j < n; j++) v128.store(t + (j << 4), f32x4.mul(v128.load(t + (j << 4)), vs));
  return f32x4.mul(m, vs);
}

/** A group's columns at t back into its k rows at y: softmax e * f with f = 1 / sum, log-softmax d + f with f = -ln sum. */
// @ts-ignore: decorator
@inline function storeGroup(t: usize, y: usize, stride: usize, k: usize, n: usize, f: v128, log: bool): void {
  const y1 = laneRow(y, stride, 1, k), y2 = laneRow(y, stride, 2, k), y3 = laneRow(y, stride, 3, k);
  for (let j: usize = 0; j < n; j += 4) {
    const q = t + (j << 4);
    const c0 = log ? f32x4.add(v128.load(q), f) : f32x4.mul(v128.load(q), f);
    const c1 = log ? f32x4.add(v128.load(q, 16), f) : f32x4.mul(v128.load(q, 16), f);
    const c2 = log ? f32x4.add(v128.load(q, 32), f) : f32x4.mul(v128.load(q, 32), f);
    const c3 = log ? f32x4.add(v128.load(q, 48), f) : f32x4.mul(v128.load(q, 48), f);
    storeColumns4(c0, c1, c2, c3, y, y1, y2, y3, j, n);
  }
}

/** What storeGroup adds (log-softmax) or multiplies by (softmax), from a group's exp-sum. */
// @ts-ignore: decorator
@inline function finishFactor(sum: v128, log: bool): v128 {
  return log ? f32x4.neg(logv(sum)) : f32x4.div(f32x4.splat(1), sum);
}

/**
 * Softmax (or log-softmax) of rows rows of n < NARROW floats at x into y (may be x), in groups of four rows as
 * columns: pairs of groups side by side, three columns a step (one's dependency chain, transpose, max, exp, sum, fills
 * the other's latency), each pair stored once the next pair's exps are done (the reciprocal or the log of its sums
 * then costs no wait: log-softmax ran 1.3x faster so), then the last one or two groups, the last padded. Each column's
 * d = (x - max) * scale goes to the exp. The pairs' six exps a step read the exp's constants from memory at each use
 * (expv): with them in locals too (expvk) V8's 16 vector registers spilled about 30 loads and stores a step, and the
 * pairs ran 1.07-1.09x slower at every width 2..31 (log-softmax 1.0-1.06x; four exps a step with locals: between);
 * the last groups' single exps keep theirs in locals (expvk). Every lane of every path does the same operations, in
 * the same order (the spec softmax-narrow checks each row against one row at a time, bit for bit). In place (y = x)
 * each group is read before it is written, and stores only its rows.
 */
// @ts-ignore: decorator
@inline function softmaxNarrow(x: usize, y: usize, rows: usize, n: usize, scale: f32, log: bool): void {
  const k0 = expk(0), k1 = expk(1), k2 = expk(2), k3 = expk(3), k4 = expk(4);
  const k5 = expk(5), k6 = expk(6), k7 = expk(7), k8 = expk(8), k9 = expk(9);
  const ta = cols4();
  const tb = ta + GROUP_BYTES;
  const tc = cols4b();
  const stride = n << 2;
  const vs = f32x4.splat(scale);
  const unit = scale == 1 || scale < TINY_SCALE; // (x - max) * 1 is x - max: no multiply
  // pairs of groups, each stored one pair late (columns at ta, tb then tc, tc + GROUP_BYTES in turn)
  let r: usize = 0;
  let pa: usize = 0;
  let pya: usize = 0;
  let pfa = f32x4.splat(0);
  let pfb = pfa;
  for (; r + 8 <= rows; r += 8) {
    const t1 = (r & 8) != 0 ? tc : ta;
    const t2 = t1 + GROUP_BYTES;
    const xa = x + r * stride;
    const ma = loadGroup(xa, stride, 4, n, t1, scale);
    const mb = loadGroup(xa + 4 * stride, stride, 4, n, t2, scale);
    let sa = f32x4.splat(0);
    let sb = sa;
    let j: usize = 0;
    for (; j + 3 <= n; j += 3) { // three columns of each group a step, then the one or two left
      const qa = t1 + (j << 4);
      const qb = t2 + (j << 4);
      let da0 = f32x4.sub(v128.load(qa), ma);
      let db0 = f32x4.sub(v128.load(qb), mb);
      let da1 = f32x4.sub(v128.load(qa, 16), ma);
      let db1 = f32x4.sub(v128.load(qb, 16), mb);
      let da2 = f32x4.sub(v128.load(qa, 32), ma);
      let db2 = f32x4.sub(v128.load(qb, 32), mb);
      if (!unit) {
        da0 = f32x4.mul(da0, vs);
        db0 = f32x4.mul(db0, vs);
        da1 = f32x4.mul(da1, vs);
        db1 = f32x4.mul(db1, vs);
        da2 = f32x4.mul(da2, vs);
        db2 = f32x4.mul(db2, vs);
      }
      const ea0 = expv(da0);
      const eb0 = expv(db0);
      const ea1 = expv(da1);
      const eb1 = expv(db1);
      const ea2 = expv(da2);
      const eb2 = expv(db2);
      sa = f32x4.add(f32x4.add(f32x4.add(sa, ea0), ea1), ea2);
      sb = f32x4.add(f32x4.add(f32x4.add(sb, eb0), eb1), eb2);
      v128.store(qa, log ? da0 : ea0);
      v128.store(qb, log ? db0 : eb0);
      v128.store(qa, log ? da1 : ea1, 16);
      v128.store(qb, log ? db1 : eb1, 16);
      v128.store(qa, log ? da2 : ea2, 32);
      v128.store(qb, log ? db2 : eb2, 32);
    }
    for (; j < n; j++) {
      const qa = t1 + (j << 4);
      const qb = t2 + (j << 4);
      let da = f32x4.sub(v128.load(qa), ma);
      let db = f32x4.sub(v128.load(qb), mb);
      if (!unit) {
        da = f32x4.mul(da, vs);
        db = f32x4.mul(db, vs);
      }
      const ea = expv(da);
      const eb = expv(db);
      sa = f32x4.add(sa, ea);
      sb = f32x4.add(sb, eb);
      v128.store(qa, log ? da : ea);
      v128.store(qb, log ? db : eb);
    }
    if (r > 0) {
      storeGroup(pa, pya, stride, 4, n, pfa, log);
      storeGroup(pa + GROUP_BYTES, pya + 4 * stride, stride, 4, n, pfb, log);
    }
    pa = t1;
    pya = y + r * stride;
    pfa = finishFactor(sa, log);
    pfb = finishFactor(sb, log);
  }
  if (r > 0) {
    storeGroup(pa, pya, stride, 4, n, pfa, log);
    storeGroup(pa + GROUP_BYTES, pya + 4 * stride, stride, 4, n, pfb, log);
  }
  // the last one or two groups (the last padded), the first stored after the second's exp pass
  let pt: usize = 0;
  let py: usize = 0;
  let pk: usize = 0;
  let pf = f32x4.splat(0);
  for (let g: usize = 0; r < rows; r += 4, g++) {
    const k = min(rows - r, 4);
    const t = g != 0 ? tb : ta;
    const m = loadGroup(x + r * stride, stride, k, n, t, scale);
    let sum = f32x4.splat(0);
    for (let j: usize = 0; j < n; j++) {
      const q = t + (j << 4);
      let d = f32x4.sub(v128.load(q), m);
      if (!unit) d = f32x4.mul(d, vs);
      const e = expvk(d, k0, k1, k2, k3, k4, k5, k6, k7, k8, k9);
      sum = f32x4.add(sum, e);
      v128.store(q, log ? d : e);
    }
    if (g > 0) storeGroup(pt, py, stride, pk, n, pf, log);
    pt = t;
    py = y + r * stride;
    pk = k;
    pf = finishFactor(sum, log);
  }
  if (pk > 0) storeGroup(pt, py, stride, pk, n, pf, log);
}

// One row in three passes: the max, the exp-sum over blocks, the scaling (or the log's shift). The threads build runs
// them on segments of one long row (softmax_row_part), segments starting at multiples of BLOCK: the same block sums.

/** Pass 1: max x, or with a huge temperature max of y = x * scale (scaled first: x - max could overflow). */
// @ts-ignore: decorator
@inline function rowMax(x: usize, y: usize, n: usize, scale: f32): f32 {
  if (scale < TINY_SCALE) {
    vscale(x, y, n, scale);
    return rmax(y, n);
  }
  return rmax(x, n);
}

/**
 * Pass 2: with a temperature y = (x - max) * scale first (the difference before the scaling: exact for close logits,
 * and the exp passes stay scale-free), then the sum of e^(row - max) over blocks, stored into y for softmax; each
 * block's f64 sum also goes to parts when that is not 0.
 */
// @ts-ignore: decorator
@inline function rowExpSum(x: usize, y: usize, n: usize, scale: f32, max: f32, log: bool, parts: usize): f64 {
  let src = x;
  let m = max;
  if (scale != 1) {
    if (scale < TINY_SCALE) vsubmulsub(y, y, n, max, 1, 0);
    else vsubmulsub(x, y, n, max, scale, 0);
    src = y;
    m = 0;
  }
  let sum: f64 = 0;
  for (let off: usize = 0, k: usize = 0; off < n; off += BLOCK, k++) {
    const len = min(BLOCK, n - off);
    const block: f64 = log ? raddexpminusmax(src + (off << 2), len, m) : raddstoreexpminusmax(src + (off << 2), y + (off << 2), len, m);
    if (parts != 0) store<f64>(parts + (k << 3), block);
    sum += block;
  }
  return sum;
}

/** Pass 3: y = e^(row - max) / sum, or y = row - max - ln sum for log-softmax. */
// @ts-ignore: decorator
@inline function rowFinish(x: usize, y: usize, n: usize, scale: f32, max: f32, sum: f64, log: bool): void {
  if (log) vsubmulsub(scale != 1 ? y : x, y, n, scale != 1 ? 0 : max, 1, logf(<f32>sum));
  else vscale(y, y, n, <f32>(1.0 / sum));
}

/** Softmax (or log-softmax) of one row of n floats at x into y (may be x). */
// @ts-ignore: decorator
@inline function softmaxRow(x: usize, y: usize, n: usize, scale: f32, log: bool): void {
  const max = rowMax(x, y, n, scale);
  rowFinish(x, y, n, scale, max, rowExpSum(x, y, n, scale, max, log, 0), log);
}

/**
 * The threads build's share of one long row: pass 0 returns the segment's max, pass 1 stores its block sums at parts,
 * pass 2 scales it given the whole row's max and sum. Segments start at multiples of BLOCK of the row.
 */
export function softmax_row_part(
  x: usize, // (n,) a segment of the row
  y: usize, // (n,) out, may be x
  n: i32, scale: f32, log: i32,
  pass: i32,  // 0, 1 or 2
  max: f32,   // passes 1 and 2: the whole row's max (of the scaled row for a huge temperature)
  sum: f64,   // pass 2: the whole row's sum
  parts: usize, // pass 1: (ceil(n / BLOCK),) f64 block sums
): f32 {
  const len = <usize>n;
  if (pass == 0) return rowMax(x, y, len, scale);
  if (pass == 1) rowExpSum(x, y, len, scale, max, log != 0, parts);
  else rowFinish(x, y, len, scale, max, sum, log != 0);
  return 0;
}

/** Rows under NARROW floats four at a time as columns (softmaxNarrow), wider ones one by one. */
// @ts-ignore: decorator
@inline function softmaxRows(x: usize, y: usize, rows: i32, n: usize, scale: f32, log: bool): void {
  if (n < NARROW) {
    softmaxNarrow(x, y, <usize>rows, n, scale, log);
    return;
  }
  for (let r = 0; r < rows; r++) softmaxRow(x + ((<usize>r * n) << 2), y + ((<usize>r * n) << 2), n, scale, log);
}

// Buffers need 16 bytes of slack after their end (the narrow path reads whole vectors past a row).
export function softmax_forward(
  x: usize, // (R, C)
  y: usize, // (R, C) out, may be x
  rows: i32, cols: i32,
  scale: f32, // 1 / temperature
): void {
  softmaxRows(x, y, rows, <usize>cols, scale, false);
}

export function log_softmax_forward(
  x: usize, // (R, C)
  y: usize, // (R, C) out, may be x
  rows: i32, cols: i32,
  scale: f32, // 1 / temperature
): void {
  softmaxRows(x, y, rows, <usize>cols, scale, true);
}

export function softmax_backward(
  y: usize,  // (R, C) softmax output
  dy: usize, // (R, C) upstream gradient
  dx: usize, // (R, C) out, may alias dy
  rows: i32, cols: i32,
): void {
  const n = <usize>cols;
  for (let r = 0; r < rows; r++) {
    const o = (<usize>r * n) << 2;
    let dot: f64 = 0;
    for (let off: usize = 0; off < n; off += BLOCK) {
      dot += rdot(y + o + (off << 2), dy + o + (off << 2), min(BLOCK, n - off));
    }
    vsoftmaxbackward(y + o, dy + o, dx + o, n, <f32>dot);
  }
}

export function log_softmax_backward(
  logp: usize, // (R, C) log-softmax output
  dy: usize,   // (R, C) upstream gradient
  dx: usize,   // (R, C) out, may alias dy
  rows: i32, cols: i32,
): void {
  const n = <usize>cols;
  for (let r = 0; r < rows; r++) {
    const o = (<usize>r * n) << 2;
    let sum: f64 = 0;
    for (let off: usize = 0; off < n; off += BLOCK) sum += rsum(dy + o + (off << 2), min(BLOCK, n - off));
    vlogsoftmaxbackward(logp + o, dy + o, dx + o, n, <f32>sum);
  }
}

/**
 * The index of the first x[i] that is not a finite probability (negative, +Infinity or NaN), or -1: the argument
 * check of logits_from_probs, a SIMD pass instead of a JavaScript loop twice as long as the kernel.
 */
export function first_not_probability(x: usize, n: i32): i32 {
  const len = <usize>n;
  const zero = f32x4.splat(0);
  const inf = f32x4.splat(Infinity);
  let i: usize = 0;
  for (; i + 16 <= len; i += 16) {
    const p = x + (i << 2);
    const a = v128.and(f32x4.ge(v128.load(p), zero), f32x4.ne(v128.load(p), inf)); // NaN fails the >=
    const b = v128.and(f32x4.ge(v128.load(p, 16), zero), f32x4.ne(v128.load(p, 16), inf));
    const c = v128.and(f32x4.ge(v128.load(p, 32), zero), f32x4.ne(v128.load(p, 32), inf));
    const d = v128.and(f32x4.ge(v128.load(p, 48), zero), f32x4.ne(v128.load(p, 48), inf));
    if (!i32x4.all_true(v128.and(v128.and(a, b), v128.and(c, d)))) break;
  }
  for (; i < len; i++) {
    const v = load<f32>(x + (i << 2));
    if (!(v >= 0 && v != Infinity)) return <i32>i;
  }
  return -1;
}

/** Inverse softmax: z = ln p + c, c making the mean of each row's finite logits 0 (p = 0 gives -Infinity). */
export function logits_from_probs(
  p: usize, // (R, C) probabilities
  z: usize, // (R, C) out, may be p
  rows: i32, cols: i32,
): void {
  const n = <usize>cols;
  for (let r = 0; r < rows; r++) {
    const o = (<usize>r * n) << 2;
    vlog(p + o, z + o, n);
    let sum: f64 = 0;
    let count = 0;
    for (let off: usize = 0; off < n; off += BLOCK) {
      const len = min(BLOCK, n - off);
      sum += rsumfinite(z + o + (off << 2), len);
      count += rcountfinite(z + o + (off << 2), len);
    }
    if (count > 0) vsubmulsub(z + o, z + o, n, 0, 1, <f32>(sum / count));
  }
}

