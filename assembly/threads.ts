// The threads build (dist/softmax-threads.wasm, asconfig target "threads"): every export of the default build over a
// shared imported memory, plus the row- and column-range kernels the thread pool (src/pool.ts) splits work with, and
// set_scratch, which gives each instance (one per thread) its own scratch areas in place of the static ones.
export * from "./index";
export { gemm_dw_rows, gemm_pack_b, gemm_forward_packed } from "./gemm";
export { gemm_dw_sparse_rows } from "./gemm-sparse";
export { gemm_forward_cols, gemm_dx_cols } from "./gemm-cols";
export { softmax_row_part } from "./softmax";
export { sample_row_part, sample_row_finish } from "./sample";
export { cross_entropy_row_part, cross_entropy_prob_row_part, cross_entropy_index_parts, cross_entropy_prob_parts } from "./cross-entropy";
export { bce_with_logits_parts, quadratic_cost_parts } from "./loss";
import { set_scratch_panel, PANEL_BYTES } from "./gemm";
import { set_scratch_lists, LISTS_BYTES } from "./gemm-sparse";
import { BLOCK } from "./vec";
import { set_scratch_cols, COLS_BYTES } from "./softmax";
import { set_scratch_tsum } from "./cross-entropy";

/** Bytes of one thread's scratch (sparse GEMM lists, narrow softmax columns, soft-target sum, GEMM packing area). */
export function scratch_bytes(): usize {
  return LISTS_BYTES + 2 * COLS_BYTES + 16 + PANEL_BYTES + 64;
}

/** Points this instance's scratch at the scratch_bytes() (16-aligned) at p. */
export function set_scratch(p: usize): void {
  set_scratch_lists(p);
  set_scratch_cols(p + LISTS_BYTES, p + LISTS_BYTES + COLS_BYTES);
  set_scratch_tsum(p + LISTS_BYTES + 2 * COLS_BYTES);
  set_scratch_panel((p + LISTS_BYTES + 2 * COLS_BYTES + 16 + 63) & ~63); // 64-aligned: whole cache lines
}

/** Elements per block of a long f64 sum (vec.ts BLOCK): the pool splits summing kernels at multiples of it. */
export function sum_block(): usize {
  return BLOCK;
}
