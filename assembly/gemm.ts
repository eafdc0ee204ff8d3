// Dense layers' matrix products over flat row-major f32 buffers (pointers in bytes): the forward pass with bias and
// activation fused into the store, the weight, input and bias gradients, and the threads build's row-range forms. The
// forms that skip the zero inputs of a sparse X are in gemm-sparse.ts (on this file's store epilogue, activate and
// storeRow, and its packing panel), the threads build's column-range forms in gemm-cols.ts (on gemm).
//
// The dense products run on one register-tiled micro-kernel, C(2 rows, 16 columns) += A(2, K) B(K, 16), whose A is
// read through strides: X row by row for the forward pass, dY row by row for dX, X column by column (X^T, packed in
// pairs of rows) for dW, and whose B is a packed panel (the cache blocking below). Eight f32x4 accumulators: wider
// tiles spill out of V8's 15 xmm registers (and unrolling its K loop by two measured 30% slower). It accumulates with
// madd (vec.ts): f32x4.mul then f32x4.add in the default build, f32x4.relaxed_madd (a fused multiply-add where the CPU
// has one) in the relaxed-SIMD build.
//
// Inputs are read a whole vector at a time, so up to 12 bytes past the last column of B (or of a row of W for dX), of
// C's initial values and of the bias, and 4 bytes past the last column of dW's X: every buffer keeps 16 bytes of
// slack after its end. Outputs are written lane by lane past the last full vector: a row's neighbour is the next row
// of the same buffer.
import { sigmoidFromExp, expnegabs, tanhv } from "./activation";
import { storeTail, madd } from "./vec";
import { Act } from "./act";

/** The activations that need the exp, kept out of line: the epilogue of every tile calls them once per vector. */
function smooth(v: v128, act: i32): v128 {
  return act == Act.Sigmoid ? sigmoidFromExp(v, expnegabs(v)) : tanhv(v);
}

/** act(v) for an Act (ReLU lets NaN pass through). */
// @ts-ignore: decorator
@inline export function activate(v: v128, act: i32): v128 {
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
@inline export function storeRow(nv: i32, c: usize, n: usize, v0: v128, v1: v128, v2: v128, v3: v128, act: i32): void {
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
// reports static_end() (gemm-sparse.ts: the sparse lists follow the panel), so the TS arena starts after them. The
// threads build points each worker's instance at its own with set_scratch_panel; as-pect's runtime owns __heap_base,
// so there they are allocated from its heap.
let panelArea: usize = 0;
export function panel(): usize {
  if (!panelArea) {
    if (ASC_RUNTIME == 0) panelArea = (__heap_base + 63) & ~63; // the stub runtime: nothing else is there
    else panelArea = (heap.alloc(PANEL_BYTES + 64) + 63) & ~63;
  }
  return panelArea;
}
export function set_scratch_panel(p: usize): void { panelArea = p; }

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
