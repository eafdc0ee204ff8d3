// The one seam that decides where a kernel runs. The engine always holds a dispatcher (Engine.d) with these methods,
// named as the kernels are: serial() below, which calls the module's kernels on this thread, or the worker pool of
// ready({ threads: n > 1 }) (threads.ts Pool), which splits a call too large for one thread and runs the rest here.
// ops.ts and network.ts call each kernel once through it, with no branch of their own; the choice between the dense
// and the zero-skipping GEMM is made here too (`sparse`: X is mostly zeros, as MNIST's pixels). Kernels that never
// split (bias_grad, activation_backward, the batch gathering) are called on Engine.k.
import type { Kernels } from "./engine.js";

/** The kernels a pool may split, with Kernels' signatures. */
type Splittable = "softmax_forward" | "log_softmax_forward" | "softmax_backward" | "log_softmax_backward" |
  "logits_from_probs" | "cross_entropy_index" | "cross_entropy_prob" | "bce_with_logits" | "quadratic_cost" |
  "sigmoid_forward" | "gemm_dx" | "sgd_update" | "adam_update" | "sample_rows" | "augment_batch";

/** Those kernels, plus the GEMMs that can skip zeros, which take `sparse` (X is mostly zeros) last. */
export interface Dispatch extends Pick<Kernels, Splittable> {
  gemm_forward(...args: [...Parameters<Kernels["gemm_forward"]>, sparse?: boolean]): void;
  gemm_dw(...args: [...Parameters<Kernels["gemm_dw"]>, sparse?: boolean]): void;
  /** A dense layer's dW = X^T dY (not accumulated) and dX = dY W^T: one job a thread on a pool. */
  gemm_dw_dx(x: number, dy: number, w: number, dw: number, dx: number, B: number, I: number, O: number,
    sparse?: boolean): void;
}

/** Every kernel on the calling thread: the module's own functions (no wrapper), the GEMMs choosing dense or sparse. */
export function serial(k: Kernels): Dispatch {
  return {
    softmax_forward: k.softmax_forward, log_softmax_forward: k.log_softmax_forward, softmax_backward: k.softmax_backward,
    log_softmax_backward: k.log_softmax_backward, logits_from_probs: k.logits_from_probs,
    cross_entropy_index: k.cross_entropy_index, cross_entropy_prob: k.cross_entropy_prob,
    bce_with_logits: k.bce_with_logits, quadratic_cost: k.quadratic_cost, sigmoid_forward: k.sigmoid_forward,
    gemm_forward: (x, w, bias, y, B, I, O, act, sparse) =>
      (sparse ? k.gemm_forward_sparse : k.gemm_forward)(x, w, bias, y, B, I, O, act),
    gemm_dw: (x, dy, dw, B, I, O, accumulate, sparse) =>
      (sparse ? k.gemm_dw_sparse : k.gemm_dw)(x, dy, dw, B, I, O, accumulate),
    gemm_dw_dx: (x, dy, w, dw, dx, B, I, O, sparse) => {
      (sparse ? k.gemm_dw_sparse : k.gemm_dw)(x, dy, dw, B, I, O, 0);
      k.gemm_dx(dy, w, dx, B, I, O);
    },
    gemm_dx: k.gemm_dx, sgd_update: k.sgd_update, adam_update: k.adam_update, sample_rows: k.sample_rows,
    augment_batch: k.augment_batch,
  };
}
