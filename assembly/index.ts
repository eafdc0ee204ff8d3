// The Wasm module's exports: row drivers over flat f32 buffers in linear memory (pointers in bytes).
export { softmax_forward, log_softmax_forward, softmax_backward, log_softmax_backward, logits_from_probs } from "./softmax";
export { cross_entropy_index, cross_entropy_prob, bce_with_logits, quadratic_cost } from "./loss";
export { sigmoid_forward } from "./activation";

/** First byte past the static data: where the TS arena may start. */
export function heap_base(): usize {
  return __heap_base;
}
