// Cross-entropy fused with its gradient w.r.t. the logits, in PyTorch's semantics (F.cross_entropy): class-index
// targets (cross_entropy_index, with class weights, ignore_index and label smoothing; rows narrower than NARROW four
// at a time as columns) and probability targets (cross_entropy_prob). Each driver returns the sum of its (unscaled)
// per-row losses in f64, writes them to `losses` when that is not 0, and writes
// grad = d(scale * sum of losses) / d(logits). The threads build's row-part and *_parts forms split the same sums.
import { expk, expvk, logv, logf } from "./exp";
import { loadTail, storeTail, tailMask, hsum, transposeLoadRows, storeColumns4, storePart, BLOCK } from "./vec";
import { rmax, vscale, blockedExpSum, NARROW, cols4, laneRow } from "./softmax";

/** y[i] = 0. */
export function vzero(y: usize, n: usize): void {
  memory.fill(y, 0, n << 2);
}

/** g[i] = g[i] * a - b * w[i] (w = 0: w[i] = 1): the smoothed part of a cross-entropy gradient. */
export function vscalesubw(g: usize, w: usize, n: usize, a: f32, b: f32): void {
  const va = f32x4.splat(a);
  const vb = f32x4.splat(b);
  let i: usize = 0;
  if (w == 0) {
    for (; i + 4 <= n; i += 4) v128.store(g + (i << 2), f32x4.sub(f32x4.mul(v128.load(g + (i << 2)), va), vb));
    if (i < n) storeTail(g + (i << 2), f32x4.sub(f32x4.mul(loadTail(g + (i << 2), n - i, 0), va), vb), n - i);
    return;
  }
  for (; i + 4 <= n; i += 4) {
    const p = i << 2;
    v128.store(g + p, f32x4.sub(f32x4.mul(v128.load(g + p), va), f32x4.mul(vb, v128.load(w + p))));
  }
  if (i < n) {
    const p = i << 2;
    storeTail(g + p, f32x4.sub(f32x4.mul(loadTail(g + p, n - i, 0), va), f32x4.mul(vb, loadTail(w + p, n - i, 0))), n - i);
  }
}

/** sum_i w[i] * (m - z[i]) (w = 0: w[i] = 1): the smoothing term of cross-entropy, less its log-sum part. */
export function rwsubsum(z: usize, w: usize, n: usize, m: f32): f32 {
  const vm = f32x4.splat(m);
  let s = f32x4.splat(0);
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) {
    const d = f32x4.sub(vm, v128.load(z + (i << 2)));
    s = f32x4.add(s, w == 0 ? d : f32x4.mul(d, v128.load(w + (i << 2))));
  }
  if (i < n) {
    const d = f32x4.sub(vm, loadTail(z + (i << 2), n - i, m));
    s = f32x4.add(s, w == 0 ? d : f32x4.mul(d, loadTail(w + (i << 2), n - i, 0)));
  }
  return hsum(s);
}

// Soft target t[i] = w[i] * (a1 * q[i] + a0): label smoothing mixes q with the uniform a0 = eps / C.
// @ts-ignore: decorator
@inline function softTarget(q: v128, w: v128, a1: v128, a0: v128): v128 {
  return f32x4.mul(w, f32x4.add(f32x4.mul(q, a1), a0));
}

/** sum_i t[i] and sum_i t[i] * (m - z[i]) (a term with t[i] = 0 counts 0, even against z = -Infinity); the first in *tsum. */
export function rsofttarget(z: usize, q: usize, w: usize, n: usize, m: f32, a1: f32, a0: f32, tsum: usize): f32 {
  const vm = f32x4.splat(m);
  const va1 = f32x4.splat(a1);
  const va0 = f32x4.splat(a0);
  const one = f32x4.splat(1);
  const zero = f32x4.splat(0);
  let st = zero;
  let s = zero;
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) {
    const p = i << 2;
    const t = softTarget(v128.load(q + p), w == 0 ? one : v128.load(w + p), va1, va0);
    st = f32x4.add(st, t);
    s = f32x4.add(s, v128.and(f32x4.mul(t, f32x4.sub(vm, v128.load(z + p))), f32x4.ne(t, zero)));
  }
  if (i < n) {
    const p = i << 2;
    const k = n - i;
    const t = v128.and(softTarget(loadTail(q + p, k, 0), w == 0 ? one : loadTail(w + p, k, 0), va1, va0), tailMask(k));
    st = f32x4.add(st, t);
    s = f32x4.add(s, v128.and(f32x4.mul(t, f32x4.sub(vm, loadTail(z + p, k, m))), f32x4.ne(t, zero)));
  }
  store<f32>(tsum, hsum(st));
  return hsum(s);
}

/** g[i] = g[i] * a - b * t[i], t the soft target: the gradient pass for probability targets. */
export function vsoftgrad(g: usize, q: usize, w: usize, n: usize, a: f32, b: f32, a1: f32, a0: f32): void {
  const va = f32x4.splat(a);
  const vb = f32x4.splat(b);
  const va1 = f32x4.splat(a1);
  const va0 = f32x4.splat(a0);
  const one = f32x4.splat(1);
  let i: usize = 0;
  for (; i + 4 <= n; i += 4) {
    const p = i << 2;
    const t = softTarget(v128.load(q + p), w == 0 ? one : v128.load(w + p), va1, va0);
    v128.store(g + p, f32x4.sub(f32x4.mul(v128.load(g + p), va), f32x4.mul(vb, t)));
  }
  if (i < n) {
    const p = i << 2;
    const k = n - i;
    const t = softTarget(loadTail(q + p, k, 0), w == 0 ? one : loadTail(w + p, k, 0), va1, va0);
    storeTail(g + p, f32x4.sub(f32x4.mul(loadTail(g + p, k, 0), va), f32x4.mul(vb, t)), k);
  }
}

// Where rsofttarget leaves sum_i t[i].
const TSUM_STATIC: usize = memory.data(16, 16);
let tsumArea: usize = TSUM_STATIC; // per thread in the threads build, as softmax.ts's cols4()
export function set_scratch_tsum(p: usize): void { tsumArea = p; }
// @ts-ignore: decorator
@inline function tsumPtr(): usize { return ASC_FEATURE_THREADS ? tsumArea : TSUM_STATIC; }

/** Cross-entropy of one row with class y (not ignored); writes its gradient and returns its loss. */
function crossEntropyRow(z: usize, g: usize, y: i32, weight: usize, n: usize, smoothing: f32, wsum: f32, scale: f32): f64 {
  // everything read from z comes before the exp pass, so grad may be logits itself
  const m = rmax(z, n);
  const zy = load<f32>(z + (<usize>y << 2));
  let d: f64 = 0;
  if (smoothing != 0) {
    for (let off: usize = 0; off < n; off += BLOCK) {
      d += rwsubsum(z + (off << 2), weight == 0 ? 0 : weight + (off << 2), min(BLOCK, n - off), m);
    }
  }
  const sum = blockedExpSum(z, g, n, m); // g holds e^(z - m) until scaled below
  const wy: f32 = weight == 0 ? 1 : load<f32>(weight + (<usize>y << 2));
  return crossEntropyFinish(g, weight, n, y, wy, n, m, zy, sum, d, smoothing, wsum, scale);
}

/**
 * The last pass of one row's cross-entropy over g[0, len) (the whole row, or in the threads build a segment of it
 * with its weights w): scales e^(z - m) into the gradient, takes the hard target off at y when 0 <= y < len, and
 * returns the row's loss from its max m, its logit at the class zy, its exp-sum and its smoothing term d.
 */
// @ts-ignore: decorator
@inline function crossEntropyFinish(g: usize, w: usize, len: usize, y: i32, wy: f32, n: usize, m: f32, zy: f32,
  sum: f64, d: f64, smoothing: f32, wsum: f32, scale: f32): f64 {
  const soft: f32 = smoothing / <f32>n;
  const logsum = logf(<f32>sum);
  const hard: f32 = (1 - smoothing) * wy;
  // loss = sum_c t_c (lse - z_c) with t = hard one-hot + soft * w, lse = m + logsum
  let loss = <f64>hard * ((<f64>m - <f64>zy) + <f64>logsum);
  const a = <f32>(<f64>scale * (<f64>hard + <f64>soft * <f64>wsum) / sum);
  if (smoothing == 0) {
    vscale(g, g, len, a);
  } else {
    vscalesubw(g, w, len, a, scale * soft);
    loss += <f64>soft * (<f64>wsum * <f64>logsum + d);
  }
  if (y >= 0 && <usize>y < len) {
    const gy = g + (<usize>y << 2);
    store<f32>(gy, load<f32>(gy) - scale * hard);
  }
  return loss;
}

/**
 * The threads build's share of one long row's cross-entropy, in crossEntropyRow's passes over a segment that starts
 * at a multiple of BLOCK of the row: pass 0 returns the segment's max; pass 1 stores each block's smoothing term and
 * exp-sum at parts (2 f64 a block); pass 2 finishes the segment given the row's figures and returns the row's loss.
 */
export function cross_entropy_row_part(
  z: usize, // (len,) the segment's logits
  g: usize, // (len,) its gradient, may be z
  len: i32,
  w: usize, // (len,) the segment's class weights, or 0
  y: i32,   // the class, counted from the segment's start (outside [0, len) when another segment holds it)
  wy: f32,  // the class's weight (1 without weights)
  n: i32,   // the whole row's length
  smoothing: f32, wsum: f32, scale: f32,
  pass: i32,
  m: f32, zy: f32, sum: f64, d: f64, // passes 1 and 2: the row's max and logit at y; pass 2: its sums
  parts: usize, // pass 1: (2 ceil(len / BLOCK),) f64
): f64 {
  const l = <usize>len;
  if (pass == 0) return rmax(z, l);
  if (pass == 2) return crossEntropyFinish(g, w, l, y, wy, <usize>n, m, zy, sum, d, smoothing, wsum, scale);
  for (let off: usize = 0, k: usize = 0; off < l; off += BLOCK, k++) {
    const b = min(BLOCK, l - off);
    const p = off << 2;
    const dk: f64 = smoothing != 0 ? rwsubsum(z + p, w == 0 ? 0 : w + p, b, m) : 0; // before the exp pass writes g
    store<f64>(parts + (k << 4), dk);
    store<f64>(parts + (k << 4) + 8, blockedExpSum(z + p, g + p, b, m));
  }
  return 0;
}

/** g[y] -= h: the hard target's part of a row's gradient, after the rest (the same operation a lane would do). */
// @ts-ignore: decorator
@inline function hardOff(g: usize, y: i32, h: f32): void {
  const p = g + (<usize>y << 2);
  store<f32>(p, load<f32>(p) - h);
}

/** z[y] of a row, or 0 for an ignored row (its label may be any integer). */
// @ts-ignore: decorator
@inline function logitAt(z: usize, y: i32, ignoreIndex: i32): f32 {
  return y == ignoreIndex ? 0 : load<f32>(z + (<usize>y << 2));
}

/** w[y] of a row (1 without weights or for an ignored row). */
// @ts-ignore: decorator
@inline function weightAt(w: usize, y: i32, ignoreIndex: i32): f32 {
  return w == 0 || y == ignoreIndex ? 1 : load<f32>(w + (<usize>y << 2));
}

/**
 * Lanes 0 and 1's losses in f64: hard ((m - zy) + ls), plus soft (wsum ls + d) with smoothing; 0 where not valid.
 */
// @ts-ignore: decorator
@inline function rowLosses(hard: v128, m: v128, zy: v128, ls: v128, d: v128, valid: v128, soft: f32, wsum: f32,
  smoothed: bool): v128 {
  const l = f64x2.promote_low_f32x4(ls);
  let loss = f64x2.mul(f64x2.promote_low_f32x4(hard),
    f64x2.add(f64x2.sub(f64x2.promote_low_f32x4(m), f64x2.promote_low_f32x4(zy)), l));
  if (smoothed) {
    loss = f64x2.add(loss, f64x2.mul(f64x2.splat(<f64>soft),
      f64x2.add(f64x2.mul(f64x2.splat(<f64>wsum), l), f64x2.promote_low_f32x4(d))));
  }
  return v128.and(loss, i64x2.extend_low_i32x4_s(valid));
}

/**
 * Cross-entropy of a group of k (1..4) rows of n < NARROW classes as column vectors (lane i = row i; lanes past k
 * repeat row k - 1, computed and stored again to the same place, and counted once), the same math as
 * crossEntropyRow; writes the k losses to `losses` (if not 0) and returns their sum. k0..k9: the exp's constants.
 */
// @ts-ignore: decorator
@inline function crossEntropyGroup(z: usize, g: usize, labels: usize, weight: usize, losses: usize, n: usize, k: usize,
  ignoreIndex: i32, smoothing: f32, wsum: f32, scale: f32, k0: v128, k1: v128, k2: v128, k3: v128, k4: v128, k5: v128,
  k6: v128, k7: v128, k8: v128, k9: v128): f64 {
  const stride = n << 2;
  const t = cols4();
  const z1 = laneRow(z, stride, 1, k), z2 = laneRow(z, stride, 2, k), z3 = laneRow(z, stride, 3, k);
  const m = transposeLoadRows(z, z1, z2, z3, n, t);
  const l0 = load<i32>(labels), l1 = load<i32>(laneRow(labels, 4, 1, k));
  const l2 = load<i32>(laneRow(labels, 4, 2, k)), l3 = load<i32>(laneRow(labels, 4, 3, k));
  const yv = i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(l0), 1, l1), 2, l2), 3, l3);
  const valid = i32x4.ne(yv, i32x4.splat(ignoreIndex));
  // z[y] and w[y] of each row, gathered before anything is written (grad may be logits)
  let zy = f32x4.splat(logitAt(z, l0, ignoreIndex));
  zy = f32x4.replace_lane(zy, 1, logitAt(z1, l1, ignoreIndex));
  zy = f32x4.replace_lane(zy, 2, logitAt(z2, l2, ignoreIndex));
  zy = f32x4.replace_lane(zy, 3, logitAt(z3, l3, ignoreIndex));
  let wy = f32x4.splat(weightAt(weight, l0, ignoreIndex));
  wy = f32x4.replace_lane(wy, 1, weightAt(weight, l1, ignoreIndex));
  wy = f32x4.replace_lane(wy, 2, weightAt(weight, l2, ignoreIndex));
  wy = f32x4.replace_lane(wy, 3, weightAt(weight, l3, ignoreIndex));
  const soft: f32 = smoothing / <f32>n;
  let s = f32x4.splat(0);
  let d = s; // sum_j w_j (m - z_j), for the smoothing term
  if (smoothing == 0) {
    let j: usize = 0;
    for (; j + 2 <= n; j += 2) { // two columns a step: two exps in flight (pairs of groups, as softmax, cost 6 KB)
      const q = t + (j << 4);
      const e = expvk(f32x4.sub(v128.load(q), m), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9);
      const e2 = expvk(f32x4.sub(v128.load(q, 16), m), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9);
      s = f32x4.add(f32x4.add(s, e), e2);
      v128.store(q, e);
      v128.store(q, e2, 16);
    }
    if (j < n) {
      const q = t + (j << 4);
      const e = expvk(f32x4.sub(v128.load(q), m), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9);
      s = f32x4.add(s, e);
      v128.store(q, e);
    }
  } else {
    for (let j: usize = 0; j < n; j++) {
      const q = t + (j << 4);
      const c = v128.load(q);
      const e = expvk(f32x4.sub(c, m), k0, k1, k2, k3, k4, k5, k6, k7, k8, k9);
      s = f32x4.add(s, e);
      const w = f32x4.splat(weight == 0 ? 1 : load<f32>(weight + (j << 2)));
      d = f32x4.add(d, f32x4.mul(w, f32x4.sub(m, c)));
      v128.store(q, e);
    }
  }
  const hard = f32x4.mul(f32x4.splat(1 - smoothing), wy);
  const vs = f32x4.splat(scale);
  // grad_j = e_j * scale (hard + soft wsum) / s - scale soft w_j - [j == y] scale hard, zero on ignored rows
  const a = v128.and(f32x4.div(f32x4.mul(vs, f32x4.add(hard, f32x4.splat(soft * wsum))), s), valid);
  const hy = v128.and(f32x4.mul(vs, hard), valid);
  const b = v128.and(f32x4.splat(scale * soft), valid);
  const g1 = laneRow(g, stride, 1, k), g2 = laneRow(g, stride, 2, k), g3 = laneRow(g, stride, 3, k);
  for (let j: usize = 0; j < n; j += 4) {
    const q = t + (j << 4);
    let c0 = f32x4.mul(v128.load(q), a);
    let c1 = f32x4.mul(v128.load(q, 16), a);
    let c2 = f32x4.mul(v128.load(q, 32), a);
    let c3 = f32x4.mul(v128.load(q, 48), a);
    if (smoothing != 0) { // without smoothing b = 0: e a - 0 = e a, bit for bit
      c0 = f32x4.sub(c0, f32x4.mul(b, f32x4.splat(weight == 0 ? 1 : load<f32>(weight + (j << 2)))));
      c1 = f32x4.sub(c1, f32x4.mul(b, f32x4.splat(weight == 0 || j + 1 >= n ? 1 : load<f32>(weight + (j << 2), 4))));
      c2 = f32x4.sub(c2, f32x4.mul(b, f32x4.splat(weight == 0 || j + 2 >= n ? 1 : load<f32>(weight + (j << 2), 8))));
      c3 = f32x4.sub(c3, f32x4.mul(b, f32x4.splat(weight == 0 || j + 3 >= n ? 1 : load<f32>(weight + (j << 2), 12))));
    }
    storeColumns4(c0, c1, c2, c3, g, g1, g2, g3, j, n);
  }
  // the hard target off at each counted row's class (once a row: a padded lane repeats a row, not its subtraction)
  if (l0 != ignoreIndex) hardOff(g, l0, f32x4.extract_lane(hy, 0));
  if (k > 1 && l1 != ignoreIndex) hardOff(g1, l1, f32x4.extract_lane(hy, 1));
  if (k > 2 && l2 != ignoreIndex) hardOff(g2, l2, f32x4.extract_lane(hy, 2));
  if (k > 3 && l3 != ignoreIndex) hardOff(g3, l3, f32x4.extract_lane(hy, 3));
  const logsum = logv(s);
  // each row's loss in f64 from its f32 parts, as crossEntropyFinish computes a wide row's: one rule for every shape
  // (m - zy = 3e38 + 3e38 overflows f32, not the f64 loss); lanes 0, 1 then 2, 3 as f64 pairs, zero on ignored rows
  const lo = rowLosses(hard, m, zy, logsum, d, valid, soft, wsum, smoothing != 0);
  const hi = rowLosses(f32x4.shuffle(hard, hard, 2, 3, 2, 3), f32x4.shuffle(m, m, 2, 3, 2, 3),
    f32x4.shuffle(zy, zy, 2, 3, 2, 3), f32x4.shuffle(logsum, logsum, 2, 3, 2, 3), f32x4.shuffle(d, d, 2, 3, 2, 3),
    i32x4.shuffle(valid, valid, 2, 3, 2, 3), soft, wsum, smoothing != 0);
  if (losses != 0) {
    const l4 = f32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
    if (k == 4) v128.store(losses, l4);
    else storePart(losses, l4, k);
  }
  // the row losses added in order from 0, as one row at a time would
  let total: f64 = 0 + f64x2.extract_lane(lo, 0);
  if (k > 1) total += f64x2.extract_lane(lo, 1);
  if (k > 2) total += f64x2.extract_lane(hi, 0);
  if (k > 3) total += f64x2.extract_lane(hi, 1);
  return total;
}

// Buffers need 16 bytes of slack after their end (the narrow path reads whole vectors past a row).
export function cross_entropy_index(
  logits: usize, // (R, C)
  labels: usize, // (R,) i32 class of each row
  weight: usize, // (C,) per-class weight, or 0 for none
  grad: usize,   // (R, C) out, may be logits
  losses: usize, // (R,) out per-row loss, or 0
  rows: i32, cols: i32,
  ignoreIndex: i32, // rows with this label count nothing and get a zero gradient
  smoothing: f32,   // label smoothing eps: the target is (1 - eps) one-hot + eps uniform
  wsum: f32,        // sum of the class weights (cols without weights)
  scale: f32,       // 1 / summed weight of the counted rows for a mean, else 1
): f64 {
  return crossEntropyIndexRows(logits, labels, weight, grad, losses, rows, cols, ignoreIndex, smoothing, wsum, scale, 0);
}

/**
 * cross_entropy_index for the threads build: each summand of its total (a group of four narrow rows' loss, or one
 * row's) is stored as an f64 at parts, in order, and their count returned; adding every thread's parts in row order
 * from 0 gives the single-threaded total bit for bit.
 */
export function cross_entropy_index_parts(
  logits: usize, labels: usize, weight: usize, grad: usize, losses: usize, rows: i32, cols: i32,
  ignoreIndex: i32, smoothing: f32, wsum: f32, scale: f32, parts: usize,
): i32 {
  crossEntropyIndexRows(logits, labels, weight, grad, losses, rows, cols, ignoreIndex, smoothing, wsum, scale, parts);
  return <usize>cols < NARROW ? (rows + 3) >> 2 : rows;
}

// @ts-ignore: decorator
@inline function crossEntropyIndexRows(logits: usize, labels: usize, weight: usize, grad: usize, losses: usize,
  rows: i32, cols: i32, ignoreIndex: i32, smoothing: f32, wsum: f32, scale: f32, parts: usize): f64 {
  const n = <usize>cols;
  let total: f64 = 0;
  if (n < NARROW) {
    const k0 = expk(0), k1 = expk(1), k2 = expk(2), k3 = expk(3), k4 = expk(4);
    const k5 = expk(5), k6 = expk(6), k7 = expk(7), k8 = expk(8), k9 = expk(9);
    for (let r: usize = 0, p: usize = 0; r < <usize>rows; r += 4, p++) {
      const o = (r * n) << 2;
      const part = crossEntropyGroup(logits + o, grad + o, labels + (r << 2), weight, losses == 0 ? 0 : losses + (r << 2),
        n, min(<usize>rows - r, 4), ignoreIndex, smoothing, wsum, scale, k0, k1, k2, k3, k4, k5, k6, k7, k8, k9);
      if (parts != 0) store<f64>(parts + (p << 3), part);
      total += part;
    }
    return total;
  }
  for (let r = 0; r < rows; r++) {
    const z = logits + ((<usize>r * n) << 2);
    const g = grad + ((<usize>r * n) << 2);
    const y = load<i32>(labels + (<usize>r << 2));
    let loss: f64 = 0;
    if (y == ignoreIndex) vzero(g, n);
    else loss = crossEntropyRow(z, g, y, weight, n, smoothing, wsum, scale);
    if (losses != 0) store<f32>(losses + (<usize>r << 2), <f32>loss);
    if (parts != 0) store<f64>(parts + (<usize>r << 3), loss);
    total += loss;
  }
  return total;
}

export function cross_entropy_prob(
  logits: usize, // (R, C)
  target: usize, // (R, C) probability target q
  weight: usize, // (C,) per-class weight, or 0 for none
  grad: usize,   // (R, C) out, may be logits
  losses: usize, // (R,) out per-row loss, or 0
  rows: i32, cols: i32,
  smoothing: f32, // the target becomes (1 - eps) q + eps / C
  scale: f32,     // 1 / rows for a mean, else 1
): f64 {
  return crossEntropyProbRows(logits, target, weight, grad, losses, rows, cols, smoothing, scale, 0);
}

/** cross_entropy_prob storing each row's f64 loss at parts (R,): the threads build's pool sums them in row order. */
export function cross_entropy_prob_parts(
  logits: usize, target: usize, weight: usize, grad: usize, losses: usize, rows: i32, cols: i32, smoothing: f32,
  scale: f32, parts: usize,
): void {
  crossEntropyProbRows(logits, target, weight, grad, losses, rows, cols, smoothing, scale, parts);
}

// @ts-ignore: decorator
@inline function crossEntropyProbRows(logits: usize, target: usize, weight: usize, grad: usize, losses: usize,
  rows: i32, cols: i32, smoothing: f32, scale: f32, parts: usize): f64 {
  const n = <usize>cols;
  const a1: f32 = 1 - smoothing;
  const a0: f32 = smoothing / <f32>cols;
  let total: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const o = (<usize>r * n) << 2;
    const z = logits + o;
    const q = target + o;
    const g = grad + o;
    const m = rmax(z, n);
    let tsum: f64 = 0;
    let d: f64 = 0;
    for (let off: usize = 0; off < n; off += BLOCK) {
      d += rsofttarget(z + (off << 2), q + (off << 2), weight == 0 ? 0 : weight + (off << 2), min(BLOCK, n - off), m, a1, a0, tsumPtr());
      tsum += load<f32>(tsumPtr());
    }
    const sum = blockedExpSum(z, g, n, m); // after every read of z: grad may be logits
    // loss = sum_c t_c (lse - z_c), grad = (softmax * sum_c t_c - t) * scale
    const loss = d + tsum * <f64>logf(<f32>sum);
    vsoftgrad(g, q, weight, n, <f32>(<f64>scale * tsum / sum), scale, a1, a0);
    if (losses != 0) store<f32>(losses + (<usize>r << 2), <f32>loss);
    if (parts != 0) store<f64>(parts + (<usize>r << 3), loss);
    total += loss;
  }
  return total;
}

/**
 * The threads build's share of one long row's cross-entropy against probabilities, in crossEntropyProbRows' passes
 * over a segment that starts at a multiple of BLOCK of the row: pass 0 returns the segment's max; pass 1 stores each
 * block's smoothed-target term, target sum and exp-sum at parts (3 f64 a block); pass 2 writes the segment's gradient
 * given the row's figures and returns the row's loss.
 */
export function cross_entropy_prob_row_part(
  z: usize, q: usize, // (len,) the segment's logits and targets
  w: usize,           // (len,) its class weights, or 0
  g: usize,           // (len,) its gradient, may be z
  len: i32, n: i32,   // the segment's length, the whole row's
  smoothing: f32, scale: f32,
  pass: i32,
  m: f32, tsum: f64, sum: f64, d: f64, // pass 1: the row's max; pass 2: it and the row's sums
  parts: usize,       // pass 1: (3 ceil(len / BLOCK),) f64
): f64 {
  const l = <usize>len;
  const a1: f32 = 1 - smoothing;
  const a0: f32 = smoothing / <f32>n;
  if (pass == 0) return rmax(z, l);
  if (pass == 2) {
    vsoftgrad(g, q, w, l, <f32>(<f64>scale * tsum / sum), scale, a1, a0);
    return d + tsum * <f64>logf(<f32>sum);
  }
  for (let off: usize = 0, k: usize = 0; off < l; off += BLOCK, k++) {
    const b = min(BLOCK, l - off);
    const p = off << 2;
    const at = parts + k * 24;
    store<f64>(at, rsofttarget(z + p, q + p, w == 0 ? 0 : w + p, b, m, a1, a0, tsumPtr())); // reads z before g is written
    store<f64>(at + 8, <f64>load<f32>(tsumPtr()));
    store<f64>(at + 16, blockedExpSum(z + p, g + p, b, m));
  }
  return 0;
}
