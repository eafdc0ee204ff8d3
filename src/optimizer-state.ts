// A network's optimizer as training keeps it: the last fit's settings, which optimizer the state buffers hold with its
// step count and Adam's running powers (save() keeps all of it), and the steps over the parameters' segments that a fit
// builds once and tunes each batch, then the max-norm constraint on the hidden units after every update.
import type { Engine } from "./engine.js";
import { paramStep, type ParamStep } from "./dispatch.js";
import type { dense } from "./layers.js";
import type { ResolvedOptimizer } from "./optimizer.js";
import type { Checkpoint } from "./checkpoint.js";
import type { ParamBlock } from "./param-block.js";
import { OPTIMIZERS } from "./network-options.js";

type Dense = ReturnType<typeof dense>;

/**
 * b^n for an integer n >= 0 by binary exponentiation: IEEE multiplications only, so the same bits in every engine
 * (Math.pow may differ in its last bit between engines); each squaring doubles the relative error so far, so within
 * about n / 2 ulps of the exact power (1e-10 relative at a million steps: Adam's f32 step cannot see it).
 */
export function powInt(b: number, n: number): number {
  let r = 1;
  for (let x = b, k = n; k > 0; k = Math.floor(k / 2), x *= x) if (k % 2 === 1) r *= x;
  return r;
}

/**
 * The optimizer's step over one segment of the parameters (a layer's weights or biases) with where its gradients are
 * and how many: built once per fit, its learning rate and bias corrections set in place each batch (no objects a batch).
 */
export interface SegmentStep { step: ParamStep; grad: number; count: number }

export class OptimizerState {
  /** The optimizer whose state the state buffers hold ("none" before any fit or after a load without state). */
  stateOf: (typeof OPTIMIZERS)[number] = "none";
  /** The last fit's optimizer, every default filled in: later fits without opts.optimizer go on with it. */
  settings: ResolvedOptimizer | undefined;
  steps = 0;
  beta1Power = 1;
  beta2Power = 1;

  constructor(private readonly e: Engine, private readonly buf: ParamBlock,
    /** The dense layers (their segments of the buffers), and the max-norm bound on their hidden units (0: none). */
    private readonly dense: readonly Dense[], private readonly maxNorm: number) {}

  /** Makes `o` the network's optimizer (later fits without opts.optimizer go on with it). */
  use(o: ResolvedOptimizer): void {
    this.settings = o;
    if (this.stateOf !== o.name) { // a new optimizer starts from zero state
      this.buf.zeroState();
      this.stateOf = o.name;
      this.steps = 0;
      this.beta1Power = 1;
      this.beta2Power = 1;
    }
  }

  /** Each layer's weights (decaying) and biases (not decaying, as in Nielsen's L2): offset, count, weight decay. */
  private segments(wd: number): [number, number, number][] {
    return this.dense.flatMap((L): [number, number, number][] => [[L.w, L.inputs * L.outputs, wd], [L.b, L.outputs, 0]]);
  }

  /**
   * The optimizer's step over one segment (float offset, count, weight decay) of the parameters; its learning rate and
   * Adam's bias corrections are set by tune() before each use.
   */
  private stepOver(o: ResolvedOptimizer, [off, , wd]: [number, number, number]): ParamStep {
    const { params, state1, state2 } = this.buf;
    const p = params + off * 4;
    if (o.name === "sgd") {
      return { fn: "sgd_update", p, state: [state1 + off * 4], hyper: [0, o.momentum, o.nesterov ? 1 : 0, wd] };
    }
    return { fn: "adam_update", p, state: [state1 + off * 4, state2 + off * 4],
      hyper: [0, o.beta1, o.beta2, o.eps, wd, o.name === "adamw" ? 1 : 0, 0, 0] };
  }

  /** A fit's steps over every segment (segments() order: the first is the first layer's weights). */
  segmentSteps(o: ResolvedOptimizer): SegmentStep[] {
    return this.segments(o.weightDecay).map((seg) =>
      ({ step: this.stepOver(o, seg), grad: this.buf.grads + seg[0] * 4, count: seg[1] }));
  }

  /**
   * Sets the steps' scalars for this batch: learning rate lr and Adam's 1 - beta^t (the running powers, advanced);
   * `momentum`, when a schedule cycles it, replaces SGD's momentum or Adam's beta1 for this step, and Adam's first
   * correction is then 1 - beta1^t of this step's beta1, as torch.optim.Adam computes it from the group's betas.
   */
  tune(o: ResolvedOptimizer, steps: SegmentStep[], lr: number, momentum?: number): void {
    if (o.name !== "sgd") {
      // running products, not Math.pow: the same bits in every engine; a cycled beta1's power by squaring (likewise)
      this.beta1Power = momentum === undefined ? this.beta1Power * o.beta1 : powInt(momentum, this.steps + 1);
      this.beta2Power *= o.beta2;
    }
    for (const st of steps) {
      const h = st.step.hyper;
      h[0] = lr;
      h[1] = momentum ?? (o.name === "sgd" ? o.momentum : o.beta1);
      if (st.step.fn === "adam_update") {
        h[6] = 1 - this.beta1Power;
        h[7] = 1 - this.beta2Power;
      }
    }
  }

  /**
   * One optimizer step over the segments from `from` on (tuned for this step), then the max-norm constraint on the
   * hidden units (`norms`: scratch of the widest layer's size).
   */
  update(steps: SegmentStep[], from: number, norms: number): void {
    const d = this.e.d;
    for (let i = from; i < steps.length; i++) paramStep(d, steps[i].step, steps[i].grad, steps[i].count);
    this.steps++;
    if (this.maxNorm === 0) return;
    for (let l = 0; l + 1 < this.dense.length; l++) {
      const L = this.dense[l];
      this.e.k.max_norm(this.buf.params + L.w * 4, norms, L.inputs, L.outputs, this.maxNorm);
    }
  }

  /** The optimizer's checkpoint fields (the state buffers' bytes aside). */
  fields(): Pick<Checkpoint, "optimizer" | "steps" | "beta1Power" | "beta2Power" | "settings" | "nesterov" | "lr" | "a" |
    "b" | "eps" | "weightDecay"> {
    const s = this.settings;
    const [a, b, eps] = s === undefined ? [0, 0, 0] : s.name === "sgd" ? [s.momentum, 0, 0] : [s.beta1, s.beta2, s.eps];
    return {
      optimizer: OPTIMIZERS.indexOf(this.stateOf), steps: this.steps, beta1Power: this.beta1Power,
      beta2Power: this.beta2Power, settings: OPTIMIZERS.indexOf(s?.name ?? "none"),
      nesterov: s?.name === "sgd" && s.nesterov ? 1 : 0, lr: s?.lr ?? 0, a, b, eps, weightDecay: s?.weightDecay ?? 0,
    };
  }

  /** The optimizer a checkpoint holds (load): its settings, and its state when the file has it (`stateOf`: whose). */
  restore(settings: ResolvedOptimizer | undefined, c: Checkpoint, stateOf: (typeof OPTIMIZERS)[number]): void {
    this.settings = settings;
    if (c.state) {
      this.e.write(this.buf.state1, c.state);
      this.stateOf = stateOf;
      this.steps = c.steps;
      this.beta1Power = c.beta1Power;
      this.beta2Power = c.beta2Power;
    }
  }
}
