// The optimizers' options: what a caller may pass (Optimizer), the same with every default filled in
// (ResolvedOptimizer, what a network keeps and saves), and the one check that turns the first into the second.
import { boolean, float32Scalar, fraction, nonNegative, oneOf, options, positive } from "./checks.js";

/** An optimizer and its settings, as torch.optim names them (lr, momentum, nesterov, betas, eps, weight_decay). */
export type Optimizer =
  | { name: "sgd"; lr: number; momentum?: number; nesterov?: boolean; weightDecay?: number }
  | { name: "adam" | "adamw"; lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number };

/** An optimizer with every default filled in. */
export type ResolvedOptimizer =
  | { name: "sgd"; lr: number; momentum: number; nesterov: boolean; weightDecay: number }
  | { name: "adam" | "adamw"; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number };

/**
 * An optimizer with its defaults filled in, each field checked; `name` is what errors call it (the caller's
 * opts.optimizer, or the optimizer a file was saved with).
 */
export function resolveOptimizer(fn: string, v: unknown, name = "opts.optimizer"): ResolvedOptimizer {
  const f32 = (key: string, x: number) => float32Scalar(fn, key, x); // the kernels take the scalars as float32
  if (v === undefined) v = { name: "sgd", lr: 0.1 }; // neither opts.optimizer nor an earlier fit's
  const kind = oneOf(fn, `${name}.name`, (v as { name?: unknown })?.name, ["sgd", "adam", "adamw"] as const, "sgd");
  if (kind === "sgd") {
    const o = options(fn, v, ["name", "lr", "momentum", "nesterov", "weightDecay"] as const, name);
    return {
      name: kind, lr: f32(`${name}.lr`, positive(fn, `${name}.lr`, o.lr)),
      momentum: fraction(fn, `${name}.momentum`, o.momentum, 0),
      nesterov: boolean(fn, `${name}.nesterov`, o.nesterov, false),
      weightDecay: f32(`${name}.weightDecay`, nonNegative(fn, `${name}.weightDecay`, o.weightDecay, 0)),
    };
  }
  const o = options(fn, v, ["name", "lr", "beta1", "beta2", "eps", "weightDecay"] as const, name);
  return {
    name: kind, lr: f32(`${name}.lr`, positive(fn, `${name}.lr`, o.lr)), beta1: fraction(fn, `${name}.beta1`, o.beta1, 0.9),
    beta2: fraction(fn, `${name}.beta2`, o.beta2, 0.999), eps: f32(`${name}.eps`, positive(fn, `${name}.eps`, o.eps ?? 1e-8)),
    weightDecay: f32(`${name}.weightDecay`, nonNegative(fn, `${name}.weightDecay`, o.weightDecay, kind === "adamw" ? 0.01 : 0)),
  };
}
