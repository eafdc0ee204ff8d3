// Learning-rate schedules for fit, per batch, with torch.optim.lr_scheduler's formulas (fixtures from PyTorch itself:
// test/fixtures/make_schedules.py). Over a fit of T batches, B a epoch, from the optimizer's lr:
// - constant: lr.
// - step: StepLR(step_size = stepEpochs epochs, gamma): lr * gamma^floor(t / (stepEpochs B)).
// - cosine: CosineAnnealingLR(T_max = T, eta_min = minLr): minLr + (lr - minLr) (1 + cos(pi t / T)) / 2.
// - onecycle: OneCycleLR(max_lr = maxLr (default lr), total_steps = T, pct_start 0.3, cos annealing, div_factor 25,
//   final_div_factor 1e4, cycle_momentum=False): up from maxLr / 25 to maxLr over the first 30% of the steps, then
//   down to maxLr / 25 / 1e4. The momentum is not cycled.
// - warmupEpochs W > 0: a linear warm-up first, LinearLR(start_factor = 1 / (W B), total_iters = W B - 1), then the
//   schedule over the remaining steps from its own step 0, as SequentialLR chains them.
// The cosine comes from the module (Wasm code, the same bits in every engine), never from the host's Math.cos.
import { atLeast, nonNegative, oneOf, options, positive } from "./checks.js";

/** fit's `schedule` option. */
export interface Schedule {
  name: "constant" | "step" | "cosine" | "onecycle";
  /** Epochs of linear warm-up before the schedule (default 0; may be fractional). */
  warmupEpochs?: number;
  /** cosine: the final learning rate (eta_min, default 0). */
  minLr?: number;
  /** step: the factor (default 0.1, as StepLR's). */
  gamma?: number;
  /** step: epochs between factors (default 1). */
  stepEpochs?: number;
  /** onecycle: the peak learning rate (default: the optimizer's lr). */
  maxLr?: number;
}

export type ResolvedSchedule = Required<Omit<Schedule, "maxLr">> & { maxLr: number | undefined };

const NAMES = ["constant", "step", "cosine", "onecycle"] as const;
/** The options each schedule reads besides warmupEpochs. */
const OWN: Record<(typeof NAMES)[number], readonly string[]> = {
  constant: [], step: ["gamma", "stepEpochs"], cosine: ["minLr"], onecycle: ["maxLr"],
};

/** The schedule with its defaults, each field checked (`name` is what errors call it). */
export function resolveSchedule(fn: string, v: unknown, name = "opts.schedule"): ResolvedSchedule {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new TypeError(`${fn}: ${name} must be an object ({ name: 'cosine', ... }), got ${v === null ? "null" : typeof v}`);
  }
  const o = options(fn, v, ["name", "warmupEpochs", "minLr", "gamma", "stepEpochs", "maxLr"] as const, name);
  if (o.name === undefined) throw new TypeError(`${fn}: ${name}.name is required ('constant', 'step', 'cosine' or 'onecycle')`);
  const kind = oneOf(fn, `${name}.name`, o.name, NAMES, "constant");
  // an option of another schedule (StepLR has no eta_min, CosineAnnealingLR no gamma) would be silently ignored
  const own = OWN[kind];
  for (const key of ["minLr", "gamma", "stepEpochs", "maxLr"] as const) {
    if (o[key] !== undefined && !own.includes(key)) {
      throw new TypeError(`${fn}: ${name}.${key} does not apply to the '${kind}' schedule (its options: ` +
        `${[...own, "warmupEpochs"].join(", ")})`);
    }
  }
  return {
    name: kind,
    warmupEpochs: nonNegative(fn, `${name}.warmupEpochs`, o.warmupEpochs, 0),
    minLr: nonNegative(fn, `${name}.minLr`, o.minLr, 0),
    gamma: o.gamma === undefined ? 0.1 : positive(fn, `${name}.gamma`, o.gamma),
    stepEpochs: atLeast(fn, `${name}.stepEpochs`, o.stepEpochs, 1, 1),
    maxLr: o.maxLr === undefined ? undefined : positive(fn, `${name}.maxLr`, o.maxLr),
  };
}

/** Checks that hold only with the fit's figures: the warm-up fits in the run. */
export function checkScheduleFits(fn: string, s: ResolvedSchedule, epochs: number, name = "opts.schedule"): void {
  if (s.warmupEpochs >= epochs && s.warmupEpochs > 0) {
    throw new RangeError(`${fn}: ${name}.warmupEpochs (${s.warmupEpochs}) must be less than opts.epochs (${epochs})`);
  }
}

/** OneCycleLR's _annealing_cos: from start to end as pct goes 0 to 1. */
function annealCos(cos: (x: number) => number, start: number, end: number, pct: number): number {
  return end + (start - end) / 2 * (cos(Math.PI * pct) + 1);
}

/**
 * The learning rate at batch t (0-based, counted from the fit's first batch) of T, with B batches an epoch, from the
 * optimizer's lr; `cos` is the module's.
 */
export function learningRate(s: ResolvedSchedule, lr: number, t: number, T: number, B: number,
  cos: (x: number) => number): number {
  const W = Math.round(s.warmupEpochs * B);
  if (t < W) return lr * (1 / W + (1 - 1 / W) * t / (W - 1 || 1)); // LinearLR(start_factor 1 / W, total_iters W - 1)
  const u = t - W; // the schedule's own step
  const n = T - W; // and its length
  switch (s.name) {
    case "constant":
      return lr;
    case "step": {
      let r = lr; // StepLR multiplies by gamma at each boundary: a running product, not Math.pow (the same bits everywhere)
      for (let k = Math.floor(u / (s.stepEpochs * B)); k > 0; k--) r *= s.gamma;
      return r;
    }
    case "cosine":
      return s.minLr + (lr - s.minLr) * (1 + cos(Math.PI * u / n)) / 2;
    case "onecycle": {
      const max = s.maxLr ?? lr;
      const initial = max / 25;
      const min = initial / 1e4;
      const peak = 0.3 * n - 1; // the end of phase one, as OneCycleLR's float(pct_start * total_steps) - 1
      if (u <= peak) return annealCos(cos, initial, max, u / peak);
      return annealCos(cos, max, min, (u - peak) / (n - 1 - peak));
    }
  }
}
