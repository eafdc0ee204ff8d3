// The one seam that decides where a kernel runs. The engine always holds a dispatcher (Engine.d) with these methods,
// named as the kernels are: serial() below, which calls the module's kernels on this thread, or the worker pool of
// ready({ threads: n > 1 }) (pool.ts Pool), which splits a call too large for one thread and runs the rest here.
// ops.ts, the layers (layers.ts), the optimizer's steps (optimizer-state.ts) and augmentation call each kernel once
// through it, with no branch of their own; the choice between the dense and the zero-skipping GEMM is made here too
// (`sparse`: X is mostly zeros, as MNIST's pixels). Kernels that never split (bias_grad, activation_backward, the
// labels' gathering) are called on Engine.k.
import type { Kernels } from "./engine.js";

/** The kernels a pool may split, with Kernels' signatures. */
type Splittable = "softmax_forward" | "log_softmax_forward" | "softmax_backward" | "log_softmax_backward" |
  "logits_from_probs" | "cross_entropy_index" | "cross_entropy_prob" | "bce_with_logits" | "quadratic_cost" |
  "sigmoid_forward" | "gemm_dx" | "sgd_update" | "adam_update" | "sample_rows" | "augment_batch";

/**
 * An element-wise optimizer step over a block of parameters from their gradients: sgd_update's or adam_update's
 * arguments but the parameters, gradients, state buffers and count, which the call that owns the block supplies.
 */
export interface ParamStep {
  fn: "sgd_update" | "adam_update";
  /** The parameters (updated in place). */
  p: number;
  /** The optimizer's state buffers beside them: [buf] for SGD, [m, v] for Adam (updated in place). */
  state: number[];
  /** The scalars after the count: SGD's lr, momentum, nesterov, wd; Adam's lr, beta1, beta2, eps, wd, decoupled, bc1, bc2. */
  hyper: number[];
}

/**
 * Where a batch's input rows come from: rows idx[0..B) of a dataset at src, each of bytes widened to floats times
 * `scale` (pixels: gather_rows_u8) or, with no scale, of floats (gather_rows_f32).
 */
export interface Rows { src: number; idx: number; scale: number | undefined }

/** Gathers a batch's B input rows of D values from `r` into x (B, D), on kernels k. */
export function gatherRows(k: Pick<Kernels, "gather_rows_u8" | "gather_rows_f32">, r: Rows, x: number, B: number, D: number): void {
  if (r.scale === undefined) k.gather_rows_f32(r.src, r.idx, x, B, D);
  else k.gather_rows_u8(r.src, r.idx, x, B, D, r.scale);
}

/** Those kernels, plus the GEMMs that can skip zeros, which take `sparse` (X is mostly zeros) last. */
export interface Dispatch extends Pick<Kernels, Splittable> {
  gemm_forward(...args: [...Parameters<Kernels["gemm_forward"]>, sparse?: boolean]): void;
  gemm_dw(...args: [...Parameters<Kernels["gemm_dw"]>, sparse?: boolean]): void;
  /**
   * The batch's rows gathered into x, then the first dense layer's Y = act(X W + bias) over them: one job a thread on a
   * pool (each thread gathers the rows of X it then multiplies), where the gather would run alone on the caller.
   */
  gather_forward(rows: Rows, x: number, w: number, bias: number, y: number, B: number, I: number, O: number, act: number,
    sparse: boolean): void;
  /** A dense layer's dW = X^T dY (not accumulated) and dX = dY W^T: one job a thread on a pool. */
  gemm_dw_dx(x: number, dy: number, w: number, dw: number, dx: number, B: number, I: number, O: number,
    sparse?: boolean): void;
  /**
   * dW = X^T dY (not accumulated), then `step` over W (I x O, at step.p) from dW: one job a thread on a pool (each
   * thread steps the rows of W whose gradient it has just computed), where the step would otherwise be a job of its own.
   */
  gemm_dw_step(x: number, dy: number, dw: number, B: number, I: number, O: number, sparse: boolean, step: ParamStep): void;
}

/** Runs `step` over the n parameters whose gradients are at g, on kernels k. */
export function paramStep(k: Pick<Kernels, ParamStep["fn"]>, step: ParamStep, g: number, n: number): void {
  const [p, [s1, s2], h] = [step.p, step.state, step.hyper];
  if (step.fn === "sgd_update") k.sgd_update(p, g, s1, n, h[0], h[1], h[2], h[3]);
  else k.adam_update(p, g, s1, s2, n, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
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
    gather_forward: (rows, x, w, bias, y, B, I, O, act, sparse) => {
      gatherRows(k, rows, x, B, I);
      (sparse ? k.gemm_forward_sparse : k.gemm_forward)(x, w, bias, y, B, I, O, act);
    },
    gemm_dw: (x, dy, dw, B, I, O, accumulate, sparse) =>
      (sparse ? k.gemm_dw_sparse : k.gemm_dw)(x, dy, dw, B, I, O, accumulate),
    gemm_dw_dx: (x, dy, w, dw, dx, B, I, O, sparse) => {
      (sparse ? k.gemm_dw_sparse : k.gemm_dw)(x, dy, dw, B, I, O, 0);
      k.gemm_dx(dy, w, dx, B, I, O);
    },
    gemm_dw_step: (x, dy, dw, B, I, O, sparse, step) => {
      (sparse ? k.gemm_dw_sparse : k.gemm_dw)(x, dy, dw, B, I, O, 0);
      paramStep(k, step, dw, I * O);
    },
    gemm_dx: k.gemm_dx, sgd_update: k.sgd_update, adam_update: k.adam_update, sample_rows: k.sample_rows,
    augment_batch: k.augment_batch,
  };
}
