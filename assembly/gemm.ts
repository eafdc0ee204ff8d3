// Dense layers' matrix products over flat row-major f32 buffers (pointers in bytes): the forward pass with bias and
// activation fused into the store, the weight, input and bias gradients, and forms of the forward pass and the weight
// gradient that skip the zero inputs of a sparse X (MNIST's first layer).
//
// The dense products run on one register-tiled micro-kernel, C(2 rows, 16 columns) += A(2, K) B(K, 16), whose A is
// read through strides: X row by row for the forward pass, dY row by row for dX, X column by column (X^T, packed in
// pairs of rows) for dW, and whose B is a packed panel (the cache blocking below). Eight f32x4 accumulators: wider
// tiles spill out of V8's 15 xmm registers (and unrolling its K loop by two measured 30% slower). The sparse products
// hold one row of C, 32 columns, in eight accumulators and sum over a list of the nonzero inputs; they read only the
// rows of W their nonzeros name, 128 contiguous bytes at a time (the forward pass over groups of images, those rows of
// W packed block by block: below). Both accumulate with madd (vec.ts): f32x4.mul then f32x4.add in the default build,
// f32x4.relaxed_madd (a fused multiply-add where the CPU has one) in the relaxed-SIMD build.
//
// Inputs are read a whole vector at a time, so up to 12 bytes past the last column of B (or of a row of W for dX), of
// C's initial values and of the bias, and 4 bytes past the last column of dW's X: every buffer keeps 16 bytes of
// slack after its end. Outputs are written lane by lane past the last full vector: a row's neighbour is the next row
// of the same buffer.
import { sigmoidFromExp, expnegabs, tanhv } from "./activation";
import { loadTail, storeTail, madd } from "./vec";
import { Act } from "./act";

/** The activations that need the exp, kept out of line: the epilogue of every tile calls them once per vector. */
function smooth(v: v128, act: i32): v128 {
  return act == Act.Sigmoid ? sigmoidFromExp(v, expnegabs(v)) : tanhv(v);
}

/** act(v) for an Act (ReLU lets NaN pass through). */
// @ts-ignore: decorator
@inline function activate(v: v128, act: i32): v128 {
  if (act == Act.None) return v;
  if (act == Act.Relu) return f32x4.pmax(v, f32x4.splat(0));
  return smooth(v, act);
}

/** Stores the first n (1..4) lanes of v at p. */
// @ts-ignore: decorator
@inline function storeUpTo4(p: usize, v: v128, n: usize): void {
  if (n >= 4) v128.store(p, v);
  else storeTail(p, v, n);
}

/** act of the nv (1..4) vectors v0..v3 into the first n (4 nv - 3 .. 4 nv) floats at c. */
// @ts-ignore: decorator
@inline function storeRow(nv: i32, c: usize, n: usize, v0: v128, v1: v128, v2: v128, v3: v128, act: i32): void {
  v0 = activate(v0, act);
  if (nv == 1) { storeUpTo4(c, v0, n); return; }
  v128.store(c, v0);
  v1 = activate(v1, act);
  if (nv == 2) { storeUpTo4(c + 16, v1, n - 4); return; }
  v128.store(c, v1, 16);
  v2 = activate(v2, act);
  if (nv == 3) { storeUpTo4(c + 32, v2, n - 8); return; }
  v128.store(c, v2, 32);
  storeUpTo4(c + 48, activate(v3, act), n - 12);
}

/**
 * C rows c0, c1 = act(init + A B) over nv (1..4) vectors of columns, n (4 nv - 3 .. 4 nv) of them stored. Row r of
 * A is the K floats at a_r, a_r + ak, a_r + 2 ak, ...; row k of B is at b + k ldb; init rows i0, i1 (0: zeros).
 * One row is done by passing the same pointers twice (the row is computed twice, stored twice alike).
 */
// @ts-ignore: decorator
@inline function tile2(
  nv: i32, a0: usize, a1: usize, ak: usize, b: usize, ldb: usize, kc: usize,
  c0: usize, c1: usize, n: usize, i0: usize, i1: usize, act: i32,
): void {
  let c00 = f32x4.splat(0), c01 = c00, c02 = c00, c03 = c00;
  let c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  if (i0) {
    c00 = v128.load(i0); c10 = v128.load(i1);
    if (nv > 1) { c01 = v128.load(i0, 16); c11 = v128.load(i1, 16); }
    if (nv > 2) { c02 = v128.load(i0, 32); c12 = v128.load(i1, 32); }
    if (nv > 3) { c03 = v128.load(i0, 48); c13 = v128.load(i1, 48); }
  }
  for (let k: usize = 0; k < kc; k++) {
    const x0 = v128.load32_splat(a0);
    const x1 = v128.load32_splat(a1);
    const w0 = v128.load(b);
    c00 = madd(x0, w0, c00);
    c10 = madd(x1, w0, c10);
    if (nv > 1) {
      const w1 = v128.load(b, 16);
      c01 = madd(x0, w1, c01);
      c11 = madd(x1, w1, c11);
    }
    if (nv > 2) {
      const w2 = v128.load(b, 32);
      c02 = madd(x0, w2, c02);
      c12 = madd(x1, w2, c12);
    }
    if (nv > 3) {
      const w3 = v128.load(b, 48);
      c03 = madd(x0, w3, c03);
      c13 = madd(x1, w3, c13);
    }
    a0 += ak; a1 += ak; b += ldb;
  }
  storeRow(nv, c0, n, c00, c01, c02, c03, act);
  storeRow(nv, c1, n, c10, c11, c12, c13, act);
}

function tile2x16(a0: usize, a1: usize, ak: usize, b: usize, ldb: usize, kc: usize, c0: usize, c1: usize, n: usize, i0: usize, i1: usize, act: i32): void {
  tile2(4, a0, a1, ak, b, ldb, kc, c0, c1, n, i0, i1, act);
}
function tile2x12(a0: usize, a1: usize, ak: usize, b: usize, ldb: usize, kc: usize, c0: usize, c1: usize, n: usize, i0: usize, i1: usize, act: i32): void {
  tile2(3, a0, a1, ak, b, ldb, kc, c0, c1, n, i0, i1, act);
}
function tile2x8(a0: usize, a1: usize, ak: usize, b: usize, ldb: usize, kc: usize, c0: usize, c1: usize, n: usize, i0: usize, i1: usize, act: i32): void {
  tile2(2, a0, a1, ak, b, ldb, kc, c0, c1, n, i0, i1, act);
}
function tile2x4(a0: usize, a1: usize, ak: usize, b: usize, ldb: usize, kc: usize, c0: usize, c1: usize, n: usize, i0: usize, i1: usize, act: i32): void {
  tile2(1, a0, a1, ak, b, ldb, kc, c0, c1, n, i0, i1, act);
}

// Cache blocking, Goto / BLIS style. This machine (lscpu -C, getconf -a: AMD EPYC family 25, Zen 4): L1d 32 KiB
// 8-way, L2 1 MiB 8-way per core, L3 32 MiB shared (lscpu's "64 KiB (2 instances)" is the two cores' sum). Unblocked,
// a tile's 16 columns of B were K rows ldb bytes apart: at N = 1024 a 4 KiB stride maps every row to one L1 set (and a
// new page each row), so B came from L3 and the rate fell by half past the caches.
// - KC = 256 rows of K per block: a panel of B, KC rows x 16 columns packed 64 contiguous bytes a row, is 16 KiB, half
//   of L1, which leaves the other half for the two rows of A (2 x 1 KiB) and C that stream past it tile after tile.
// - MC = 256 rows of A per block: MC x KC floats are 256 KiB, a quarter of L2, so the A block stays in L2 while every
//   panel of B for that K block is packed and run over it (C's partial sums, touched once a tile, stream).
// - dW's A is X^T, read down columns of X (I floats apart: at I = 1024 again one L1 set and one page a row): there the
//   A block is packed too, each pair of rows interleaved (x(k, i), x(k, i + 1)) in KC x 8 contiguous bytes, so a
//   tile reads its A as it reads its panel. MC x KC floats: 256 KiB, packed once per block, read once per panel.
// - dX's B is W^T: its panels are packed from W directly, 4 x 4 blocks transposed (no whole W^T written first).
// Each output element still sums its products in one sequence, k = 0..K-1, from the same initial value: a K block
// stores the partial sums to C as f32 and the next block loads them back as its initial values (exact), and the
// activation is applied after the last block only, so the bits are the unblocked loop's, for every split of rows.
const KC: usize = 256;
const MC: usize = 256;
/** Bytes of one packed panel of B (KC rows of 16 floats) and of one packed A block (MC x KC floats), together. */
export const PANEL_BYTES: usize = (KC << 6) + ((MC * KC) << 2);

// The panel and the A block live past the static data (no zeros carried in the module): heap_base() (index.ts)
// reports static_end(), so the TS arena starts after them. The threads build points each worker's instance at its own
// with set_scratch_panel; as-pect's runtime owns __heap_base, so there they are allocated from its heap.
let panelArea: usize = 0;
function panel(): usize {
  if (!panelArea) {
    if (ASC_RUNTIME == 0) panelArea = (__heap_base + 63) & ~63; // the stub runtime: nothing else is there
    else panelArea = (heap.alloc(PANEL_BYTES + 64) + 63) & ~63;
  }
  return panelArea;
}
export function set_scratch_panel(p: usize): void { panelArea = p; }
/** First byte past the static data and the calling instance's panel and sparse lists (lists()). */
export function static_end(): usize { return ((__heap_base + 63) & ~63) + PANEL_BYTES + LISTS_BYTES; }

/**
 * Packs kc rows of B's columns at b (row stride ldb), the nv (1..4) vectors that cover its n columns, into kc rows of
 * 64 bytes at p. Reads what the tiles would have read in place (whole vectors: up to 12 bytes past column n).
 */
function packPanel(b: usize, ldb: usize, kc: usize, nv: i32, p: usize): void {
  const end = p + (kc << 6);
  if (nv == 4) {
    for (; p < end; p += 64, b += ldb) {
      v128.store(p, v128.load(b)); v128.store(p, v128.load(b, 16), 16);
      v128.store(p, v128.load(b, 32), 32); v128.store(p, v128.load(b, 48), 48);
    }
  } else {
    for (; p < end; p += 64, b += ldb) {
      v128.store(p, v128.load(b));
      if (nv > 1) v128.store(p, v128.load(b, 16), 16);
      if (nv > 2) v128.store(p, v128.load(b, 32), 32);
    }
  }
}

/**
 * Packs kc rows of B = W^T into a panel as packPanel does, from W(N, K) itself: B's columns j.. are W's rows at w (row
 * stride ldw), n (1..16) of them (a missing row repeats the first); 4 x 4 blocks transposed, kc rounded up to 4 (the
 * panel has room: KC is a multiple of 4). Reads up to 12 bytes past a row's kc floats, as the tiles read B.
 */
function packPanelT(w: usize, ldw: usize, kc: usize, n: usize, p: usize): void {
  for (let q: usize = 0; q < n; q += 4) {
    const r0 = w + q * ldw;
    const r1 = q + 1 < n ? r0 + ldw : r0, r2 = q + 2 < n ? r0 + 2 * ldw : r0, r3 = q + 3 < n ? r0 + 3 * ldw : r0;
    let t = p + (q << 2);
    for (let k: usize = 0; k < kc; k += 4, t += 256) {
      const o = k << 2;
      const a = v128.load(r0 + o), b = v128.load(r1 + o), c = v128.load(r2 + o), d = v128.load(r3 + o);
      const ab0 = f32x4.shuffle(a, b, 0, 4, 1, 5), ab1 = f32x4.shuffle(a, b, 2, 6, 3, 7);
      const cd0 = f32x4.shuffle(c, d, 0, 4, 1, 5), cd1 = f32x4.shuffle(c, d, 2, 6, 3, 7);
      v128.store(t, f32x4.shuffle(ab0, cd0, 0, 1, 4, 5));
      v128.store(t, f32x4.shuffle(ab0, cd0, 2, 3, 6, 7), 64);
      v128.store(t, f32x4.shuffle(ab1, cd1, 0, 1, 4, 5), 128);
      v128.store(t, f32x4.shuffle(ab1, cd1, 2, 3, 6, 7), 192);
    }
  }
}

/**
 * Packs A(i, k) = the float at a + i 4 + k aks, mc rows by kc, as pairs of rows: pair t's kc (A(2t, k), A(2t + 1, k))
 * at p + t kc 8 + k 8 (a last single row reads its neighbour, which its tile never uses).
 */
function packPairs(a: usize, aks: usize, kc: usize, mc: usize, p: usize): void {
  const ps = kc << 3;
  for (let k: usize = 0; k < kc; k++, a += aks, p += 8) {
    let q = p;
    for (let i: usize = 0; i < mc; i += 2, q += ps) store<u64>(q, load<u64>(a + (i << 2)));
  }
}

/**
 * C(M, n) = act(init + A(M, kc) B(kc, n)) for one block of rows and n (1..16) columns, two rows a tile; A as in gemm,
 * or packed by packPairs (pairs: ars, aks unused).
 */
function tiles(
  a: usize, ars: usize, aks: usize, pairs: bool, b: usize, ldb: usize, kc: usize, c: usize, ldc: usize,
  M: usize, n: usize, init: usize, irs: usize, act: i32,
): void {
  if (pairs) aks = 8;
  for (let i: usize = 0; i < M; i += 2) {
    const i1 = i + 1 < M ? i + 1 : i;
    let a0 = a + i * ars, a1 = a + i1 * ars;
    if (pairs) { a0 = a + (i >> 1) * (kc << 3); a1 = i1 > i ? a0 + 4 : a0; }
    const c0 = c + i * ldc, c1 = c + i1 * ldc;
    const p0 = init ? init + i * irs : 0, p1 = init ? init + i1 * irs : 0;
    if (n > 12) tile2x16(a0, a1, aks, b, ldb, kc, c0, c1, n, p0, p1, act);
    else if (n > 8) tile2x12(a0, a1, aks, b, ldb, kc, c0, c1, n, p0, p1, act);
    else if (n > 4) tile2x8(a0, a1, aks, b, ldb, kc, c0, c1, n, p0, p1, act);
    else tile2x4(a0, a1, aks, b, ldb, kc, c0, c1, n, p0, p1, act);
  }
}

/**
 * C(M, N) = act(init + A(M, K) B(K, N)), all strides in bytes: A(i, k) at a + i ars + k aks, B row-major with row
 * stride ldb, C with ldc, init rows at init + i irs (init = 0: none; init = c, irs = ldc: accumulate; irs = 0: bias).
 * bmode: B_ROWS, B as above (a block of at most 4 rows reads it in place: packing would cost as much as it saves);
 * B_PACKED, gemm_pack_b's panels (K rows of 64 bytes each, panel after panel; ldb unused); B_TRANSPOSED, B^T(N, K)
 * row-major with row stride ldb (packed by packPanelT). Blocked for the caches as above.
 */
export const B_ROWS = 0, B_PACKED = 1, B_TRANSPOSED = 2;
export function gemm(
  a: usize, ars: usize, aks: usize, b: usize, ldb: usize, c: usize, ldc: usize,
  M: usize, N: usize, K: usize, init: usize, irs: usize, act: i32, bmode: i32 = B_ROWS,
): void {
  for (let i0: usize = 0; i0 < M; i0 += MC) {
    const mc = min(M - i0, MC);
    const pack = bmode == B_TRANSPOSED || (bmode == B_ROWS && mc > 4);
    const p = pack ? panel() : 0;
    const pairs = aks != 4 && ars == 4 && mc > 4 && N > 16; // A read down columns, and read more than once
    const pa = p + (KC << 6);
    const ci = c + i0 * ldc;
    let k0: usize = 0;
    do { // at least once: with K = 0, C = act(init)
      const kc = min(K - k0, KC);
      const last = k0 + kc == K;
      let ak = a + i0 * ars + k0 * aks;
      if (pairs) { packPairs(ak, aks, kc, mc, pa); ak = pa; }
      for (let j: usize = 0; j < N; j += 16) {
        const n = min(N - j, 16);
        const cj = ci + (j << 2);
        let bp = b + k0 * ldb + (j << 2), lb = ldb;
        if (bmode == B_PACKED) {
          bp = b + (j >> 4) * (K << 6) + (k0 << 6); lb = 64;
        } else if (bmode == B_TRANSPOSED) {
          packPanelT(b + j * ldb + (k0 << 2), ldb, kc, n, p); bp = p; lb = 64;
        } else if (pack) {
          packPanel(bp, ldb, kc, <i32>((n + 3) >> 2), p); bp = p; lb = 64;
        }
        // the first block starts from init, the next ones from the partial sums the one before stored in C
        const from = k0 == 0 ? (init ? init + i0 * irs + (j << 2) : 0) : cj;
        tiles(ak, ars, aks, pairs, bp, lb, kc, cj, ldc, mc, n, from, k0 == 0 ? irs : ldc, last ? act : Act.None);
      }
      k0 += kc;
    } while (k0 < K);
  }
}

/** Y = act(X W + bias): a dense layer's forward pass. y must not overlap x, w or bias. */
export function gemm_forward(
  x: usize,    // (B, I)
  w: usize,    // (I, O)
  bias: usize, // (O,), or 0 for none
  y: usize,    // (B, O) out
  B: i32, I: i32, O: i32,
  act: i32,    // an Act (act.ts): None, Relu, Sigmoid or Tanh
): void {
  const ldx = <usize>I << 2, ldw = <usize>O << 2;
  gemm(x, ldx, 4, w, ldw, y, ldw, <usize>B, <usize>O, <usize>I, bias, 0, act);
}

/** dW (+)= X^T dY: a dense layer's weight gradient. dw must not overlap x or dy. */
export function gemm_dw(
  x: usize,  // (B, I) the layer's input
  dy: usize, // (B, O) gradient of its output (before the activation: the caller applies act')
  dw: usize, // (I, O) out
  B: i32, I: i32, O: i32,
  accumulate: i32, // 0: dW = X^T dY; 1: dW += X^T dY
): void {
  const ldx = <usize>I << 2, ldo = <usize>O << 2;
  gemm(x, 4, ldx, dy, ldo, dw, ldo, <usize>I, <usize>O, <usize>B, accumulate ? dw : 0, ldo, Act.None);
}

/**
 * dX = dY W^T: a dense layer's input gradient. Panels of W^T are packed from W block by block (gemm): no whole W^T
 * is written first. dx must not overlap dy or w.
 */
export function gemm_dx(
  dy: usize, // (B, O) gradient of the layer's output (before the activation: the caller applies act')
  w: usize,  // (I, O)
  dx: usize, // (B, I) out
  B: i32, I: i32, O: i32,
): void {
  const ldi = <usize>I << 2, ldo = <usize>O << 2;
  gemm(dy, ldo, 4, w, ldo, dx, ldi, <usize>B, <usize>I, <usize>O, 0, 0, Act.None, B_TRANSPOSED);
}

// The sparse forms: a vector's nonzeros are first gathered into lists of the matching row of B (its byte offset) and
// of the value, four at a time and branch-free; then each 32-column block of the output row sums over the lists alone.
// A list holds LIST_CAP entries; longer vectors take several passes, accumulating into the output row (the partial
// sums stored as f32 and loaded back: exact, so the pass boundaries do not change the bits).
//
// The forward pass is blocked for the caches (lscpu, as for the dense blocking above: L1d 32 KiB, L2 1 MiB per core,
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
let listsArea: usize = 0;
function lists(): usize {
  if (!listsArea) {
    if (ASC_RUNTIME == 0) listsArea = ((__heap_base + 63) & ~63) + PANEL_BYTES;
    else listsArea = (heap.alloc(LISTS_BYTES + 64) + 63) & ~63;
  }
  return listsArea;
}
export function set_scratch_lists(p: usize): void { listsArea = p; }

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

/** db (+)= the column sums of dY: a dense layer's bias gradient. db must not overlap dy. */
export function bias_grad(
  dy: usize, // (B, O) gradient of the layer's output
  db: usize, // (O,) out
  B: i32, O: i32,
  accumulate: i32, // 0: db = sum; 1: db += sum
): void {
  const ldo = <usize>O << 2, end = dy + <usize>B * ldo;
  let j: usize = 0;
  for (; j + 16 <= <usize>O; j += 16) {
    const c = db + (j << 2);
    let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
    if (accumulate) { s0 = v128.load(c); s1 = v128.load(c, 16); s2 = v128.load(c, 32); s3 = v128.load(c, 48); }
    for (let p = dy + (j << 2); p < end; p += ldo) {
      s0 = f32x4.add(s0, v128.load(p)); s1 = f32x4.add(s1, v128.load(p, 16));
      s2 = f32x4.add(s2, v128.load(p, 32)); s3 = f32x4.add(s3, v128.load(p, 48));
    }
    v128.store(c, s0); v128.store(c, s1, 16); v128.store(c, s2, 32); v128.store(c, s3, 48);
  }
  for (; j < <usize>O; j += 4) {
    const c = db + (j << 2);
    let s = accumulate ? v128.load(c) : f32x4.splat(0);
    for (let p = dy + (j << 2); p < end; p += ldo) s = f32x4.add(s, v128.load(p));
    storeUpTo4(c, s, <usize>O - j);
  }
}

// The threads build's row-range forms (assembly/threads.ts exports them; the other builds do not compile them). Each
// output element is computed whole by one call, over the same column tiles and the same order of its sum as above,
// so any split of the rows gives the single-threaded bits.

/** Rows i0..i1 of gemm_dw's dW (input features i0..i1), the batch reduction inside. */
export function gemm_dw_rows(x: usize, dy: usize, dw: usize, B: i32, I: i32, O: i32, accumulate: i32, i0: i32, i1: i32): void {
  const ldx = <usize>I << 2, ldo = <usize>O << 2;
  const xo = x + (<usize>i0 << 2), dwo = dw + <usize>i0 * ldo;
  gemm(xo, 4, ldx, dy, ldo, dwo, ldo, <usize>(i1 - i0), <usize>O, <usize>B, accumulate ? dwo : 0, ldo, Act.None);
}

/** Rows i0..i1 of gemm_dw_sparse's dW, the same loop as there. */
export function gemm_dw_sparse_rows(x: usize, dy: usize, dw: usize, B: i32, I: i32, O: i32, accumulate: i32, i0: i32, i1: i32): void {
  dwSparse(x, dy, dw, <usize>B, <usize>I, <usize>O, accumulate, <usize>i0, <usize>i1);
}

/**
 * Packs w(K, N) into 16-column panels, each K rows of 64 contiguous bytes (a last partial panel zero-padded), for
 * panels p0..p1: gemm_forward_packed then reads B with a 64-byte stride instead of N floats (at N = 1024 a 4 KiB
 * stride lands every row of a panel in the same L1 sets).
 */
export function gemm_pack_b(w: usize, packed: usize, K: i32, N: i32, p0: i32, p1: i32): void {
  const ldw = <usize>N << 2;
  for (let p = <usize>p0; p < <usize>p1; p++) {
    const j = p << 4;
    const n = min(<usize>N - j, 16);
    let src = w + (j << 2);
    let dst = packed + p * (<usize>K << 6);
    for (let k: usize = 0; k < <usize>K; k++, src += ldw, dst += 64) {
      if (n == 16) {
        v128.store(dst, v128.load(src)); v128.store(dst, v128.load(src, 16), 16);
        v128.store(dst, v128.load(src, 32), 32); v128.store(dst, v128.load(src, 48), 48);
      } else {
        memory.fill(dst, 0, 64);
        memory.copy(dst, src, n << 2);
      }
    }
  }
}

/**
 * gemm_forward over a W packed by gemm_pack_b: each panel is the same tile over the same column count and the same
 * sum order as gemm_forward's, so the bits are gemm_forward's.
 */
export function gemm_forward_packed(x: usize, packed: usize, bias: usize, y: usize, B: i32, I: i32, O: i32, act: i32): void {
  const ldx = <usize>I << 2, ldy = <usize>O << 2;
  gemm(x, ldx, 4, packed, 64, y, ldy, <usize>B, <usize>O, <usize>I, bias, 0, act, B_PACKED);
}
