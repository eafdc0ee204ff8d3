// The dense layers' forms that skip the zero inputs of a sparse X (MNIST's first layer): the forward pass and the
// weight gradient (and the threads build's row-range form of the latter), a zero x[b, k] skipped, not multiplied. They
// hold one row of C, 32 columns, in eight accumulators and sum over a list of the nonzero inputs; they read only the
// rows of W their nonzeros name, 128 contiguous bytes at a time (the forward pass over groups of images, those rows of
// W packed block by block: below). They accumulate with madd (vec.ts) as the dense products do, store through
// gemm.ts's epilogue (activate, storeRow) and pack into its panel; the lists, their building and their scratch area
// are this file's own concern.
//
// Inputs are read a whole vector at a time, so up to 12 bytes past the last column of a row of W (of dY for dW), of
// C's initial values and of the bias: every buffer keeps 16 bytes of slack after its end. Outputs are written lane by
// lane past the last full vector, as in gemm.ts.
import { loadTail, madd } from "./vec";
import { Act } from "./act";
import { activate, storeRow, panel, PANEL_BYTES } from "./gemm";

// The sparse forms: a vector's nonzeros are first gathered into lists of the matching row of B (its byte offset) and
// of the value, four at a time and branch-free; then each 32-column block of the output row sums over the lists alone.
// A list holds LIST_CAP entries; longer vectors take several passes, accumulating into the output row (the partial
// sums stored as f32 and loaded back: exact, so the pass boundaries do not change the bits).
//
// The forward pass is blocked for the caches (lscpu, as for the dense blocking in gemm.ts: L1d 32 KiB, L2 1 MiB per core,
// L3 32 MiB shared). Row by row, every image streamed the rows of W its nonzeros name across all O columns: ~150 rows
// of 3.2 KiB at O = 800, W (2.5 MiB) past L2, so each image read them from L3 (per output column 30% slower at O = 800
// than at O = 256, and two threads sharing L3 gained 1.6x). Now a group of up to GROUP images is done together, one
// chunk of CHUNK inputs at a time: the union of the group's nonzero inputs in the chunk is found (union()), each
// image's list names its rows by their place in the union (gatherAt()), and for each 32-column block of W the union's
// rows of that block are copied into the panel, 128 contiguous bytes a row, and all the group's lists run over it. So
// W comes from L3 once per group, and the lists read the panel from L1 (at most CHUNK x 128 bytes = 32 KiB; in place,
// a block's rows are O floats apart: at O = 1024 or 2048 every row fell in the same few L1 and L2 sets).
// - CHUNK = 256 inputs (a list's capacity): a panel of at most 32 KiB; 128 measured no faster.
// - GROUP = 32 images: each block's copy serves more images, and the threads build's split of a batch of 64 (32 rows a
//   thread) is one whole group; 16 measured ~5% slower, 64 within the noise. The lists of 32 images are 65 KiB: past
//   the static data (lists()), not zeros in the module.
// - PACK_MIN = 4: fewer images (a batch of 1..3, a group's remainder) read W in place, where the copy would cost as
//   much as it saves.
// Measured (B = 64, I = 784, CPU ns per output column, row by row -> grouped in place -> grouped and packed, one
// process, two batches of the real MNIST): O = 800 1,130-1,170 -> 1,050-1,070 -> 810-870; O = 1024 1,290-1,390 ->
// 1,320-1,340 -> 860-900; O = 2048 1,540-1,850 -> 1,500-1,720 -> 900-1,050; O = 128 and 256 within 3% in all three
// (W in L2 already). MNIST's digits move about: a group's union is most of a chunk's rows, so grouping alone, with W
// read in place, gained little; with synthetic centred digits (22% nonzeros) it gained more (O = 800: 1,310 -> 970).
// Each output element still sums in the one order, k ascending within a chunk, chunks in order, from the same initial
// value, with the activation after the last chunk: the bits of the row-by-row loop, for any split of the rows.
const LIST_CAP: usize = 256;
const CHUNK: usize = 256; // <= LIST_CAP; CHUNK rows of 128 bytes fit the panel (PANEL_BYTES)
const GROUP: usize = 32;
const PACK_MIN: usize = 4;
/** Bytes of one list (+ 4 entries: a whole vector is stored at the last one), offsets or values. */
const LIST_BYTES: usize = (LIST_CAP + 4) << 2;
// Image t's offsets at lists() + t LIST_PAIR, its values LIST_BYTES after them; the GROUP counts after the last; then
// the union's tables: each input's place in it (a whole vector read at the last: + 4), and each place's row of W.
const LIST_PAIR: usize = LIST_BYTES << 1;
const COUNTS: usize = GROUP * LIST_PAIR;
const POS: usize = COUNTS + (GROUP << 2);
const UROWS: usize = POS + ((CHUNK + 4) << 2);
/** Bytes of the sparse forms' lists and the union's tables: the threads build's scratch_bytes counts them. */
export const LISTS_BYTES: usize = (UROWS + (CHUNK << 2) + 63) & ~63;

// The lists live past the static data, after the dense panel (no zeros carried in the module, as for panel()); the
// threads build points each worker's instance at its own with set_scratch_lists; under as-pect they come from its heap.
// static_end() (heap_base() in index.ts) is the first byte past them.
let listsArea: usize = 0;
function lists(): usize {
  if (!listsArea) {
    if (ASC_RUNTIME == 0) listsArea = ((__heap_base + 63) & ~63) + PANEL_BYTES;
    else listsArea = (heap.alloc(LISTS_BYTES + 64) + 63) & ~63;
  }
  return listsArea;
}
export function set_scratch_lists(p: usize): void { listsArea = p; }
/** First byte past the static data and the calling instance's panel (gemm.ts) and sparse lists (lists()). */
export function static_end(): usize { return ((__heap_base + 63) & ~63) + PANEL_BYTES + LISTS_BYTES; }

/** For each 4-bit mask of nonzero lanes, the swizzle that moves those lanes (4 bytes each) to the front. */
const COMPACT: usize = memory.data<u32>([
  0x03020100, 0x03020100, 0x03020100, 0x03020100, // 0000
  0x03020100, 0x03020100, 0x03020100, 0x03020100, // 0001
  0x07060504, 0x03020100, 0x03020100, 0x03020100, // 0010
  0x03020100, 0x07060504, 0x03020100, 0x03020100, // 0011
  0x0b0a0908, 0x03020100, 0x03020100, 0x03020100, // 0100
  0x03020100, 0x0b0a0908, 0x03020100, 0x03020100, // 0101
  0x07060504, 0x0b0a0908, 0x03020100, 0x03020100, // 0110
  0x03020100, 0x07060504, 0x0b0a0908, 0x03020100, // 0111
  0x0f0e0d0c, 0x03020100, 0x03020100, 0x03020100, // 1000
  0x03020100, 0x0f0e0d0c, 0x03020100, 0x03020100, // 1001
  0x07060504, 0x0f0e0d0c, 0x03020100, 0x03020100, // 1010
  0x03020100, 0x07060504, 0x0f0e0d0c, 0x03020100, // 1011
  0x0b0a0908, 0x0f0e0d0c, 0x03020100, 0x03020100, // 1100
  0x03020100, 0x0b0a0908, 0x0f0e0d0c, 0x03020100, // 1101
  0x07060504, 0x0b0a0908, 0x0f0e0d0c, 0x03020100, // 1110
  0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c, // 1111
], 16);

/** Appends the nonzero lanes of v (NaN included) with their offsets to the list at l at entry m; returns the new count. */
// @ts-ignore: decorator
@inline function append(v: v128, offsets: v128, m: usize, l: usize): usize {
  const mask = i32x4.bitmask(f32x4.ne(v, f32x4.splat(0)));
  const s = v128.load(COMPACT + (<usize>mask << 4));
  v128.store(l + (m << 2), i8x16.swizzle(offsets, s));
  v128.store(l + LIST_BYTES + (m << 2), i8x16.swizzle(v, s));
  return m + <usize>popcnt(mask);
}

/**
 * Gathers the nonzeros of the n (<= LIST_CAP) floats at x, xs bytes apart, with offsets k ldb, into the list at l
 * (offsets, values LIST_BYTES after them); returns their count.
 */
function gather(x: usize, xs: usize, n: usize, ldb: usize, l: usize): usize {
  let offsets = i32x4.mul(i32x4(0, 1, 2, 3), i32x4.splat(<i32>ldb));
  const step = i32x4.splat(<i32>(ldb << 2));
  let m: usize = 0;
  let k: usize = 0;
  if (xs == 4) {
    for (; k + 4 <= n; k += 4) {
      m = append(v128.load(x + (k << 2)), offsets, m, l);
      offsets = i32x4.add(offsets, step);
    }
    if (k < n) m = append(loadTail(x + (k << 2), n - k, 0), offsets, m, l);
    return m;
  }
  for (; k + 4 <= n; k += 4) {
    const p = x + k * xs;
    let v = v128.load32_zero(p);
    v = v128.load32_lane(p + xs, v, 1);
    v = v128.load32_lane(p + 2 * xs, v, 2);
    v = v128.load32_lane(p + 3 * xs, v, 3);
    m = append(v, offsets, m, l);
    offsets = i32x4.add(offsets, step);
  }
  if (k < n) {
    const p = x + k * xs;
    let v = v128.load32_zero(p);
    if (k + 1 < n) v = v128.load32_lane(p + xs, v, 1);
    if (k + 2 < n) v = v128.load32_lane(p + 2 * xs, v, 2);
    m = append(v, offsets, m, l);
  }
  return m;
}

/**
 * Row c = act(init + sum over the m entries (offset, x) of the list at l of x B(offset)) over nv (1..4, or 8) vectors
 * of columns, n (4 nv - 3 .. 4 nv) of them stored; B(offset) is the row at b + offset; init 0: zeros.
 */
// @ts-ignore: decorator
@inline function sparseRow(nv: i32, m: usize, l: usize, b: usize, c: usize, n: usize, init: usize, act: i32): void {
  let c0 = f32x4.splat(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  if (init) {
    c0 = v128.load(init);
    if (nv > 1) c1 = v128.load(init, 16);
    if (nv > 2) c2 = v128.load(init, 32);
    if (nv > 3) c3 = v128.load(init, 48);
    if (nv > 4) {
      c4 = v128.load(init, 64); c5 = v128.load(init, 80); c6 = v128.load(init, 96); c7 = v128.load(init, 112);
    }
  }
  for (let e = l, end = l + (m << 2); e < end; e += 4) {
    const x = v128.load32_splat(e, LIST_BYTES);
    const p = b + load<u32>(e);
    c0 = madd(x, v128.load(p), c0);
    if (nv > 1) c1 = madd(x, v128.load(p, 16), c1);
    if (nv > 2) c2 = madd(x, v128.load(p, 32), c2);
    if (nv > 3) c3 = madd(x, v128.load(p, 48), c3);
    if (nv > 4) {
      c4 = madd(x, v128.load(p, 64), c4);
      c5 = madd(x, v128.load(p, 80), c5);
      c6 = madd(x, v128.load(p, 96), c6);
      c7 = madd(x, v128.load(p, 112), c7);
    }
  }
  if (nv > 4) {
    v128.store(c, activate(c0, act)); v128.store(c, activate(c1, act), 16);
    v128.store(c, activate(c2, act), 32); v128.store(c, activate(c3, act), 48);
    v128.store(c, activate(c4, act), 64); v128.store(c, activate(c5, act), 80);
    v128.store(c, activate(c6, act), 96); v128.store(c, activate(c7, act), 112);
  } else {
    storeRow(nv, c, n, c0, c1, c2, c3, act);
  }
}

function sparseRow32(m: usize, l: usize, b: usize, c: usize, init: usize, act: i32): void { sparseRow(8, m, l, b, c, 32, init, act); }
function sparseRow16(m: usize, l: usize, b: usize, c: usize, n: usize, init: usize, act: i32): void { sparseRow(4, m, l, b, c, n, init, act); }
function sparseRow12(m: usize, l: usize, b: usize, c: usize, n: usize, init: usize, act: i32): void { sparseRow(3, m, l, b, c, n, init, act); }
function sparseRow8(m: usize, l: usize, b: usize, c: usize, n: usize, init: usize, act: i32): void { sparseRow(2, m, l, b, c, n, init, act); }
function sparseRow4(m: usize, l: usize, b: usize, c: usize, n: usize, init: usize, act: i32): void { sparseRow(1, m, l, b, c, n, init, act); }

/** Row c(N) = act(init + sum over the m entries of the list at l of x B(offset)), 32 columns at a time; init 0: zeros. */
function sparseRows(m: usize, l: usize, b: usize, c: usize, N: usize, init: usize, act: i32): void {
  let j: usize = 0;
  for (; j + 32 <= N; j += 32) sparseRow32(m, l, b + (j << 2), c + (j << 2), init ? init + (j << 2) : 0, act);
  for (; j < N; j += 16) {
    const n = min(N - j, 16);
    const bj = b + (j << 2), cj = c + (j << 2), ij = init ? init + (j << 2) : 0;
    if (n > 12) sparseRow16(m, l, bj, cj, n, ij, act);
    else if (n > 8) sparseRow12(m, l, bj, cj, n, ij, act);
    else if (n > 4) sparseRow8(m, l, bj, cj, n, ij, act);
    else sparseRow4(m, l, bj, cj, n, ij, act);
  }
}

/**
 * The union of the nonzeros of g rows of kn inputs at x (ldx bytes apart): for each input k in it, in order, its
 * packed row's byte offset (u 128) at pos + 4 k and its row's offset in W (k ldw) at rows + 4 u; returns u.
 */
function union(x: usize, ldx: usize, g: usize, kn: usize, ldw: usize, pos: usize, rows: usize): usize {
  let u: usize = 0;
  for (let k: usize = 0; k < kn; k += 4) {
    const n = min(kn - k, 4);
    let any = i32x4.splat(0);
    for (let t: usize = 0; t < g; t++) {
      const p = x + t * ldx + (k << 2);
      any = v128.or(any, f32x4.ne(n == 4 ? v128.load(p) : loadTail(p, n, 0), f32x4.splat(0)));
    }
    let mask = i32x4.bitmask(any);
    while (mask) {
      const lane = <usize>ctz(mask);
      mask &= mask - 1;
      store<u32>(pos + ((k + lane) << 2), <u32>(u << 7));
      store<u32>(rows + (u << 2), <u32>((k + lane) * ldw));
      u++;
    }
  }
  return u;
}

/** Gathers the nonzeros of the n (<= LIST_CAP) floats at x into the list at l, their offsets from pos (union). */
function gatherAt(x: usize, n: usize, pos: usize, l: usize): usize {
  let m: usize = 0;
  let k: usize = 0;
  for (; k + 4 <= n; k += 4) m = append(v128.load(x + (k << 2)), v128.load(pos + (k << 2)), m, l);
  if (k < n) m = append(loadTail(x + (k << 2), n - k, 0), v128.load(pos + (k << 2)), m, l);
  return m;
}

/** Copies nv (1..4, or 8) vectors of each of the u rows of W at w + rows[r] to p, 128 bytes a row. */
function packRows(w: usize, rows: usize, u: usize, nv: i32, p: usize): void {
  for (let r: usize = 0; r < u; r++, p += 128) {
    const s = w + <usize>load<u32>(rows + (r << 2));
    v128.store(p, v128.load(s));
    if (nv > 1) v128.store(p, v128.load(s, 16), 16);
    if (nv > 2) v128.store(p, v128.load(s, 32), 32);
    if (nv > 3) v128.store(p, v128.load(s, 48), 48);
    if (nv > 4) {
      v128.store(p, v128.load(s, 64), 64); v128.store(p, v128.load(s, 80), 80);
      v128.store(p, v128.load(s, 96), 96); v128.store(p, v128.load(s, 112), 112);
    }
  }
}

/**
 * Rows t = 0..g-1 of C, at c + t ldc (N columns), = act(init + sum over list t's entries of x B(offset)): 32 columns at
 * a time, each block of columns run for all g lists before the next; init rows at init + t irs (0: zeros). The lists
 * and their counts as gathered at L (lists()). pack: the lists' offsets index the u rows of the union (union(),
 * gatherAt()), whose block of columns is first copied into the panel, 128 bytes a row; else they are offsets in B.
 */
function sparseGroup(
  g: usize, L: usize, b: usize, pack: bool, u: usize, c: usize, ldc: usize, N: usize, init: usize, irs: usize, act: i32,
): void {
  const P = pack ? panel() : 0;
  let j: usize = 0;
  for (; j + 32 <= N; j += 32) {
    let bj = b + (j << 2);
    if (pack) { packRows(bj, L + UROWS, u, 8, P); bj = P; }
    for (let t: usize = 0; t < g; t++) {
      const m = <usize>load<u32>(L + COUNTS + (t << 2));
      sparseRow32(m, L + t * LIST_PAIR, bj, c + t * ldc + (j << 2), init ? init + t * irs + (j << 2) : 0, act);
    }
  }
  for (; j < N; j += 16) {
    const n = min(N - j, 16);
    let bj = b + (j << 2);
    if (pack) { packRows(bj, L + UROWS, u, <i32>((n + 3) >> 2), P); bj = P; }
    for (let t: usize = 0; t < g; t++) {
      const m = <usize>load<u32>(L + COUNTS + (t << 2)), l = L + t * LIST_PAIR;
      const cj = c + t * ldc + (j << 2), ij = init ? init + t * irs + (j << 2) : 0;
      if (n > 12) sparseRow16(m, l, bj, cj, n, ij, act);
      else if (n > 8) sparseRow12(m, l, bj, cj, n, ij, act);
      else if (n > 4) sparseRow8(m, l, bj, cj, n, ij, act);
      else sparseRow4(m, l, bj, cj, n, ij, act);
    }
  }
}

/**
 * gemm_forward for an X that is mostly zeros: a zero x[b, k] is skipped, not multiplied (the same sum for finite W).
 * Blocked over groups of images as above. y must not overlap x, w or bias. The lists are the instance's: one call at a
 * time per instance (the threads build gives each thread its own).
 */
export function gemm_forward_sparse(
  x: usize,    // (B, I)
  w: usize,    // (I, O)
  bias: usize, // (O,), or 0 for none
  y: usize,    // (B, O) out
  B: i32, I: i32, O: i32,
  act: i32,    // an Act (act.ts): None, Relu, Sigmoid or Tanh
): void {
  const ldx = <usize>I << 2, ldw = <usize>O << 2;
  const L = lists();
  for (let b0: usize = 0; b0 < <usize>B; b0 += GROUP) {
    const g = min(<usize>B - b0, GROUP);
    const xg = x + b0 * ldx, yg = y + b0 * ldw;
    let k: usize = 0;
    do { // at least once: with I = 0, Y = act(bias)
      const kn = min(<usize>I - k, CHUNK);
      const xk = xg + (k << 2);
      const pack = g >= PACK_MIN;
      const u = pack ? union(xk, ldx, g, kn, ldw, L + POS, L + UROWS) : 0;
      for (let t: usize = 0; t < g; t++) {
        const l = L + t * LIST_PAIR;
        store<u32>(L + COUNTS + (t << 2), <u32>(pack ? gatherAt(xk + t * ldx, kn, L + POS, l) : gather(xk + t * ldx, 4, kn, ldw, l)));
      }
      // the first chunk starts from the bias (every row), the next ones from the partial sums stored in Y
      sparseGroup(g, L, w + k * ldw, pack, u, yg, ldw, <usize>O, k == 0 ? bias : yg, k == 0 ? 0 : ldw,
        k + kn == <usize>I ? act : Act.None);
      k += kn;
    } while (k < <usize>I);
  }
}

/** Rows i0..i1 of gemm_dw_sparse's dW (input features i0..i1): one list, one row of dW at a time. */
function dwSparse(x: usize, dy: usize, dw: usize, B: usize, I: usize, O: usize, accumulate: i32, i0: usize, i1: usize): void {
  const ldx = I << 2, ldo = O << 2;
  const L = lists();
  for (let i = i0; i < i1; i++) {
    const dwi = dw + i * ldo;
    let b: usize = 0;
    do { // at least once: with B = 0, dW = 0 unless accumulating
      const bn = min(B - b, LIST_CAP);
      const m = gather(x + b * ldx + (i << 2), ldx, bn, ldo, L);
      const init: usize = b == 0 && !accumulate ? 0 : dwi;
      if (m > 0 || init != dwi) sparseRows(m, L, dy + b * ldo, dwi, O, init, Act.None); // else nothing to add
      b += bn;
    } while (b < B);
  }
}

/** gemm_dw for an X that is mostly zeros: a zero x[b, i] is skipped, not multiplied. The instance's lists, as above. */
export function gemm_dw_sparse(
  x: usize,  // (B, I) the layer's input
  dy: usize, // (B, O) gradient of its output
  dw: usize, // (I, O) out
  B: i32, I: i32, O: i32,
  accumulate: i32, // 0: dW = X^T dY; 1: dW += X^T dY
): void {
  dwSparse(x, dy, dw, <usize>B, <usize>I, <usize>O, accumulate, 0, <usize>I);
}

// The threads build's row-range form (assembly/threads.ts exports it; the other builds do not compile it): each row of
// dW is computed whole by one call, by the same loop, so any split of the rows gives the single-threaded bits.

/** Rows i0..i1 of gemm_dw_sparse's dW, the same loop as there. */
export function gemm_dw_sparse_rows(x: usize, dy: usize, dw: usize, B: i32, I: i32, O: i32, accumulate: i32, i0: i32, i1: i32): void {
  dwSparse(x, dy, dw, <usize>B, <usize>I, <usize>O, accumulate, <usize>i0, <usize>i1);
}
