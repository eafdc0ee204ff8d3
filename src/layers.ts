// The layers of a network, llm.c style: each a forward / backward pair of plain functions over flat f32 buffers in Wasm
// memory (byte pointers), shapes in the comments, calling each kernel once through the engine's dispatcher (the pool
// or this thread: dispatch.ts). A network is an ordered list of layers (network.ts `model`) followed by its output and
// cost; a new kind of layer is one pair here, a constructor binding it to its buffers, and one line where the model
// lists its layers.
import type { ParamStep, Rows } from "./dispatch.js";
import type { Engine } from "./engine.js";

/** What every layer of one step sees: the engine, the batch's row count and the network's buffers. */
export interface Step {
  e: Engine;
  B: number;
  /** The parameter and gradient buffers (the same layout: W0 b0 W1 b1 ...). */
  params: number;
  grads: number;
  /** The batch's inputs are mostly zeros (MNIST's pixels): the first layer's GEMMs skip them. */
  sparse: boolean;
  /** A training step (dropout draws masks) or an evaluation (dropout is the identity). */
  training: boolean;
  /** The dropout masks' generator state (16 bytes). */
  rng: number;
  /**
   * A training step's optimizer step over the first dense layer's weights, run with their gradient (gemm_dw_step: one
   * pool job instead of two a batch), or undefined: the optimizer steps every parameter after the backward pass.
   */
  firstStep?: ParamStep;
  /**
   * The batch's input rows not yet gathered, or undefined (x holds the batch): the first dense layer, first in the
   * model, gathers them into its x in its forward pass (gather_forward: one pool job a thread for both).
   */
  rows?: Rows;
}

/** A layer in a network's list: its pair bound to its place in the network's buffers. */
export interface Layer {
  readonly inputs: number;
  readonly outputs: number;
  /** Whether it has parameters (the backward pass stops at the first layer that has). */
  readonly trainable: boolean;
  /** Floats of scratch per row it keeps from forward to backward (a dropout mask), 0 for none. */
  readonly scratch: number;
  /** y = f(x); returns where the output is: y, or x for a layer that is the identity in evaluation. */
  forward(s: Step,
    x: number, // (B, inputs)
    y: number, // (B, outputs) out
    t: number, // (B, scratch) the layer's scratch
  ): number;
  /** The parameters' gradients into s.grads, and dL/dx unless dx is 0; dy may be overwritten. */
  backward(s: Step,
    x: number,  // (B, inputs) the forward pass's input
    y: number,  // (B, outputs) its output
    dy: number, // (B, outputs) dL/dy
    dx: number, // (B, inputs) out: dL/dx, or 0 (the first layer with parameters)
    t: number,  // (B, scratch) what forward left there
  ): void;
}

/** y = act(x W + b): the bias and the activation fused into the GEMM's store; with `rows`, x gathered from them first. */
export function dense_forward(e: Engine,
  x: number, // (B, I); out when `rows` is given
  w: number, // (I, O) row-major
  b: number, // (O)
  y: number, // (B, O) out
  B: number, I: number, O: number,
  act: number,     // an activation code (e.act)
  sparse: boolean, // x is mostly zeros: skip them
  rows?: Rows,     // the batch's rows of a dataset, to gather into x
): void {
  if (rows) e.d.gather_forward(rows, x, w, b, y, B, I, O, act, sparse);
  else e.d.gemm_forward(x, w, b, y, B, I, O, act, sparse);
}

/**
 * dz = dy act'(z) (in place, from y = act(z)), then dW = x^T dz, db = the column sums of dz, dx = dz W^T; with `step`
 * (only when dx is 0) the optimizer's step over W from dW as well.
 */
export function dense_backward(e: Engine,
  x: number,  // (B, I) the forward pass's input
  w: number,  // (I, O)
  y: number,  // (B, O) the forward pass's output act(z)
  dy: number, // (B, O) in: dL/dy; out: dL/dz
  dw: number, // (I, O) out
  db: number, // (O) out
  dx: number, // (B, I) out, or 0: not needed
  B: number, I: number, O: number, act: number, sparse: boolean,
  step?: ParamStep, // over W (I, O), from dW
): void {
  if (act !== e.act.none) e.k.activation_backward(y, dy, dy, B * O, act);
  e.k.bias_grad(dy, db, B, O, 0);
  if (dx !== 0) e.d.gemm_dw_dx(x, dy, w, dw, dx, B, I, O, sparse); // one job a thread for both on a pool
  else if (step) e.d.gemm_dw_step(x, dy, dw, B, I, O, sparse, step); // the same
  else e.d.gemm_dw(x, dy, dw, B, I, O, 0, sparse);
}

/** A dense layer at float offsets w (I x O weights) and b (O biases) of the network's buffers. */
export function dense(w: number, b: number, inputs: number, outputs: number, act: number, first: boolean): Layer & {
  w: number; b: number; act: number;
} {
  return {
    w, b, inputs, outputs, act, trainable: true, scratch: 0,
    forward(s, x, y) {
      dense_forward(s.e, x, s.params + w * 4, s.params + b * 4, y, s.B, inputs, outputs, act, first && s.sparse,
        first ? s.rows : undefined);
      return y;
    },
    backward(s, x, y, dy, dx) {
      dense_backward(s.e, x, s.params + w * 4, y, dy, s.grads + w * 4, s.grads + b * 4, dx, s.B, inputs, outputs,
        act, first && s.sparse, first && dx === 0 ? s.firstStep : undefined);
    },
  };
}

/** y = x mask with mask[i] = 0 (probability p) or 1 / (1 - p), drawn from the generator at rng (inverted dropout). */
export function dropout_forward(e: Engine,
  rng: number,  // (16 bytes) generator state, advanced by n draws
  x: number,    // (N,)
  y: number,    // (N,) out
  mask: number, // (N,) out: the mask, for dropout_backward
  n: number, p: number,
): void {
  e.k.dropout_forward(rng, x, y, mask, n, p);
}

/** dx = dy mask. */
export function dropout_backward(e: Engine,
  mask: number, // (N,) dropout_forward's mask
  dy: number,   // (N,)
  dx: number,   // (N,) out
  n: number,
): void {
  e.k.dropout_backward(mask, dy, dx, n);
}

/** Dropout with probability p on rows of `width` (0 < p < 1): masks in training, the identity in evaluation. */
export function dropout(p: number, width: number): Layer & { p: number } {
  return {
    p, inputs: width, outputs: width, trainable: false, scratch: width,
    forward(s, x, y, mask) {
      if (!s.training) return x;
      dropout_forward(s.e, s.rng, x, y, mask, s.B * width, p);
      return y;
    },
    backward(s, _x, _y, dy, dx, mask) {
      dropout_backward(s.e, mask, dy, dx, s.B * width);
    },
  };
}

/** How the last layer's linear outputs z become predictions and a cost. */
export type OutputKind = "softmax" | "sigmoid";
export type CostKind = "crossEntropy" | "quadratic";

/** The predictions from the logits, in place: softmax rows or an element-wise sigmoid. */
export function output_forward(e: Engine, output: OutputKind,
  z: number, // (B, C) in: logits; out: probabilities
  B: number, C: number,
): void {
  if (output === "softmax") e.d.softmax_forward(z, z, B, C, 1);
  else e.d.sigmoid_forward(z, z, B * C);
}

/**
 * The batch's summed cost and its gradient g = d(mean cost)/dz; the fused forms where they exist (softmax + cross-
 * entropy, sigmoid + binary cross-entropy), else the quadratic cost on the output, back through its derivative.
 */
export function output_backward(e: Engine, output: OutputKind, cost: CostKind,
  z: number,      // (B, C) logits
  labels: number, // (B) i32 classes
  g: number,      // (B, C) out
  target: number, // (B, C) scratch: the one-hot targets
  prob: number,   // (B, C) scratch: the outputs
  B: number, C: number,
): number {
  const k = e.k;
  if (output === "softmax" && cost === "crossEntropy") {
    return e.d.cross_entropy_index(z, labels, 0, g, 0, B, C, -100, 0, C, 1 / B); // g = (softmax - y) / B
  }
  k.onehot(labels, target, B, C);
  if (output === "sigmoid" && cost === "crossEntropy") {
    return e.d.bce_with_logits(z, target, 0, 0, g, 0, B * C, 1 / B); // g = (sigmoid - y) / B
  }
  // dC/da = (a - y) / B, then back through the output: (a - y) sigma'(z) is the learning slowdown
  if (output === "sigmoid") e.d.sigmoid_forward(z, prob, B * C);
  else e.d.softmax_forward(z, prob, B, C, 1);
  const summed = e.d.quadratic_cost(prob, target, g, B * C, B) * B;
  if (output === "sigmoid") k.activation_backward(prob, g, g, B * C, e.act.sigmoid);
  else e.d.softmax_backward(prob, g, g, B, C);
  return summed;
}
