// The one seam that decides where a kernel runs. The engine always holds a dispatcher (Engine.d) with these methods,
// named as the kernels are: serial() below, which calls the module's kernels on this thread, or the worker pool of
// ready({ threads: n > 1 }) (threads.ts Pool), which splits a call too large for one thread and runs the rest here.
// ops.ts and network.ts call each kernel once through it, with no branch of their own; the choice between the dense
// and the zero-skipping GEMM is made here too (`sparse`: X is mostly zeros, as MNIST's pixels). Kernels that never
// split (bias_grad, activation_backward, the batch gathering) are called on Engine.k.
import type { Kernels } from "./engine.js";

/** The kernels a pool may split; the same signatures as Kernels', plus `sparse` for the GEMMs that can skip zeros. */
export interface Dispatch {
  softmax_forward(x: number, y: number, rows: number, cols: number, scale: number): void;
  log_softmax_forward(x: number, y: number, rows: number, cols: number, scale: number): void;
  softmax_backward(y: number, dy: number, dx: number, rows: number, cols: number): void;
  log_softmax_backward(logp: number, dy: number, dx: number, rows: number, cols: number): void;
  logits_from_probs(p: number, z: number, rows: number, cols: number): void;
  cross_entropy_index(logits: number, labels: number, weight: number, grad: number, losses: number, rows: number,
    cols: number, ignoreIndex: number, smoothing: number, wsum: number, scale: number): number;
  cross_entropy_prob(logits: number, target: number, weight: number, grad: number, losses: number, rows: number,
    cols: number, smoothing: number, scale: number): number;
  bce_with_logits(logits: number, target: number, posWeight: number, period: number, grad: number, losses: number,
    n: number, scale: number): number;
  quadratic_cost(a: number, y: number, grad: number, n: number, rows: number): number;
  sigmoid_forward(x: number, y: number, n: number): void;
  gemm_forward(x: number, w: number, bias: number, y: number, B: number, I: number, O: number, act: number,
    sparse?: boolean): void;
  gemm_dw(x: number, dy: number, dw: number, B: number, I: number, O: number, accumulate: number, sparse?: boolean): void;
  gemm_dx(dy: number, w: number, wt: number, dx: number, B: number, I: number, O: number): void;
  sgd_update(p: number, g: number, buf: number, n: number, lr: number, momentum: number, nesterov: number,
    wd: number): void;
  adam_update(p: number, g: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number,
    eps: number, wd: number, decoupled: number, bc1: number, bc2: number): void;
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
    gemm_dx: k.gemm_dx, sgd_update: k.sgd_update, adam_update: k.adam_update,
  };
}
