// The Wasm module's exports: row drivers and layer kernels over flat f32 buffers in linear memory (pointers in bytes).
export {
  softmax_forward, log_softmax_forward, softmax_backward, log_softmax_backward, logits_from_probs, first_not_probability,
} from "./softmax";
export { cross_entropy_index, cross_entropy_prob } from "./cross-entropy";
export { bce_with_logits, quadratic_cost } from "./loss";
export { sigmoid_forward, relu_forward, tanh_forward, activation_backward } from "./activation";
export { gemm_forward, gemm_dw, gemm_dx, bias_grad } from "./gemm";
export { gemm_forward_sparse, gemm_dw_sparse } from "./gemm-sparse";
export { sgd_update, adam_update } from "./optim";
export { rng_seed, rng_normal, rng_permutation } from "./rng";
export { gather_rows_u8, gather_rows_f32, onehot, count_correct } from "./data";
export { dropout_forward, dropout_backward, max_norm } from "./regularize";
export { augment_batch, augment_image, elastic_field, augment_work_floats } from "./augment";
export { cos_f64 } from "./math";
export { sample_rows, sample_work_bytes, rng_skip, topk_rows, argmax_rows } from "./sample";
export { Act } from "./act";
import { static_end } from "./gemm-sparse";

/**
 * First byte past the static data and the GEMM's packing area and sparse lists after it (gemm.ts, gemm-sparse.ts):
 * where the TS arena may start.
 */
export function heap_base(): usize {
  return static_end();
}

/** 1 in the relaxed-SIMD build (asconfig target "relaxed"), 0 in the default one: what wasmBuild() reports. */
export function relaxed_simd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
