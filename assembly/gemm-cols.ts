// The threads build's column-range forms of the dense products (assembly/threads.ts exports them). A wide layer with a
// short batch (W larger than X: O >= B for the forward pass, I >= B for dX) splits best by the output's columns: each
// thread then reads, and packs, only its own columns of W (its rows, for dX) where a split by rows has every thread
// pack all of W. Each output element runs the same tiles and the same order of its sum as gemm.ts's single-threaded
// call, so any split at multiples of 16 columns (a panel) gives the same bits.
import { gemm, B_ROWS, B_TRANSPOSED } from "./gemm";
import { Act } from "./act";

/** Columns j0..j1 of gemm_forward's Y (j0 a multiple of 16), all rows. */
export function gemm_forward_cols(
  x: usize,    // (B, I)
  w: usize,    // (I, O)
  bias: usize, // (O,), or 0 for none
  y: usize,    // (B, O) out: columns j0..j1
  B: i32, I: i32, O: i32,
  act: i32,
  j0: i32, j1: i32,
): void {
  const ldx = <usize>I << 2, ldw = <usize>O << 2, o = <usize>j0 << 2;
  gemm(x, ldx, 4, w + o, ldw, y + o, ldw, <usize>B, <usize>(j1 - j0), <usize>I, bias ? bias + o : 0, 0, act, B_ROWS);
}

/** Columns i0..i1 of gemm_dx's dX (input features; i0 a multiple of 16), all rows: packs W's rows i0..i1 alone. */
export function gemm_dx_cols(
  dy: usize, // (B, O)
  w: usize,  // (I, O)
  dx: usize, // (B, I) out: columns i0..i1
  B: i32, I: i32, O: i32,
  i0: i32, i1: i32,
): void {
  const ldi = <usize>I << 2, ldo = <usize>O << 2;
  gemm(dy, ldo, 4, w + <usize>i0 * ldo, ldo, dx + (<usize>i0 << 2), ldi, <usize>B, <usize>(i1 - i0), <usize>O, 0, 0,
    Act.None, B_TRANSPOSED);
}
