// Learning-rate schedules for fit, per batch, with torch.optim.lr_scheduler's formulas (fixtures from PyTorch itself:
// test/fixtures/make_schedules.py). Over a fit of T batches, B a epoch, from the optimizer's lr:
// - constant: lr.
// - step: StepLR(step_size = stepEpochs epochs, gamma): lr * gamma^floor(t / (stepEpochs B)).
// - cosine: CosineAnnealingLR(T_max = T, eta_min = minLr): minLr + (lr - minLr) (1 + cos(pi t / T)) / 2.
// - onecycle: OneCycleLR(max_lr = maxLr (default lr), total_steps = T, pct_start 0.3, cos annealing, div_factor 25,
//   final_div_factor 1e4, cycle_momentum, base_momentum, max_momentum): up from maxLr / 25 to maxLr over the first 30%
//   of the steps, then down to maxLr / 25 / 1e4; with cycleMomentum (its default, as torch's) SGD's momentum, or
//   Adam's beta1, goes the other way on the same curve, from maxMomentum down to baseMomentum and back up, replacing
//   the optimizer's own (torch sets group['momentum'] or betas[0]).
// - warmupEpochs W > 0: a linear warm-up first, LinearLR(start_factor = 1 / (W B), total_iters = W B - 1), then the
//   schedule over the remaining steps from its own step 0, as SequentialLR chains them. The warm-up climbs to the
//   optimizer's lr, or to the one-cycle's first rate, maxLr / 25 (OneCycleLR sets the initial_lr the warm-up reads).
// The cosine comes from the module (Wasm code, the same bits in every engine), never from the host's Math.cos.
import { atLeast, boolean, float32Scalar, fraction, nonNegative, oneOf, options, positive } from "./checks.js";

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
  /** onecycle: cycle SGD's momentum or Adam's beta1 inversely to the rate (default true, as OneCycleLR's cycle_momentum). */
  cycleMomentum?: boolean;
  /** onecycle: the momentum (beta1) at the peak rate (default 0.85, base_momentum). */
  baseMomentum?: number;
  /** onecycle: the momentum (beta1) at the ends, and during a warm-up (default 0.95, max_momentum). */
  maxMomentum?: number;
}

export type ResolvedSchedule = Required<Omit<Schedule, "maxLr">> & { maxLr: number | undefined };

const NAMES = ["constant", "step", "cosine", "onecycle"] as const;
/** The options of one schedule or another (warmupEpochs aside, which all take). */
const SPECIFIC = ["minLr", "gamma", "stepEpochs", "maxLr", "cycleMomentum", "baseMomentum", "maxMomentum"] as const;
/** The options each schedule reads besides warmupEpochs. */
const OWN: Record<(typeof NAMES)[number], readonly (typeof SPECIFIC)[number][]> = {
  constant: [], step: ["gamma", "stepEpochs"], cosine: ["minLr"],
  onecycle: ["maxLr", "cycleMomentum", "baseMomentum", "maxMomentum"],
};

/** The schedule with its defaults, each field checked (`name` is what errors call it). */
export function resolveSchedule(fn: string, v: unknown, name = "opts.schedule"): ResolvedSchedule {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new TypeError(`${fn}: ${name} must be an object ({ name: 'cosine', ... }), got ${v === null ? "null" : typeof v}`);
  }
  const o = options(fn, v, ["name", "warmupEpochs", ...SPECIFIC] as const, name);
  if (o.name === undefined) throw new TypeError(`${fn}: ${name}.name is required ('constant', 'step', 'cosine' or 'onecycle')`);
  const kind = oneOf(fn, `${name}.name`, o.name, NAMES, "constant");
  // an option of another schedule (StepLR has no eta_min, CosineAnnealingLR no gamma) would be silently ignored
  const own = OWN[kind];
  for (const key of SPECIFIC) {
    if (o[key] !== undefined && !own.includes(key)) {
      throw new TypeError(`${fn}: ${name}.${key} does not apply to the '${kind}' schedule (its options: ` +
        `${[...own, "warmupEpochs"].join(", ")})`);
    }
  }
  return {
    name: kind,
    warmupEpochs: nonNegative(fn, `${name}.warmupEpochs`, o.warmupEpochs, 0),
    minLr: float32Scalar(fn, `${name}.minLr`, nonNegative(fn, `${name}.minLr`, o.minLr, 0)),
    gamma: o.gamma === undefined ? 0.1 : positive(fn, `${name}.gamma`, o.gamma),
    stepEpochs: atLeast(fn, `${name}.stepEpochs`, o.stepEpochs, 1, 1),
    maxLr: o.maxLr === undefined ? undefined : float32Scalar(fn, `${name}.maxLr`, positive(fn, `${name}.maxLr`, o.maxLr)),
    cycleMomentum: kind === "onecycle" && boolean(fn, `${name}.cycleMomentum`, o.cycleMomentum, true),
    baseMomentum: fraction(fn, `${name}.baseMomentum`, o.baseMomentum, 0.85),
    maxMomentum: fraction(fn, `${name}.maxMomentum`, o.maxMomentum, 0.95),
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
  if (t < W) {
    // LinearLR(start_factor 1 / W, total_iters W - 1) up to the rate the schedule starts from: the optimizer's lr, but
    // the one-cycle's maxLr / 25 (OneCycleLR sets the group's initial_lr, which SequentialLR's warm-up then climbs to)
    const to = s.name === "onecycle" ? (s.maxLr ?? lr) / 25 : lr;
    return to * (1 / W + (1 - 1 / W) * t / (W - 1 || 1));
  }
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
      const peak = oneCyclePeak(n);
      if (u <= peak) return annealCos(cos, initial, max, u / peak);
      return annealCos(cos, max, min, (u - peak) / (n - 1 - peak));
    }
  }
}

/** The end of the one-cycle's first phase over n steps, as OneCycleLR's float(pct_start * total_steps) - 1. */
function oneCyclePeak(n: number): number {
  return 0.3 * n - 1;
}

/**
 * The momentum (SGD's, or Adam's beta1) at batch t of T (B an epoch) when the schedule cycles it, else undefined: the
 * one-cycle's, maxMomentum down to baseMomentum as the rate rises and back up as it falls, on the rate's own phases
 * (OneCycleLR's computed_momentum); maxMomentum during a warm-up (what OneCycleLR set when it was made).
 */
export function scheduledMomentum(s: ResolvedSchedule, t: number, T: number, B: number,
  cos: (x: number) => number): number | undefined {
  if (!s.cycleMomentum) return undefined;
  const W = Math.round(s.warmupEpochs * B);
  if (t < W) return s.maxMomentum;
  const u = t - W, n = T - W;
  const peak = oneCyclePeak(n);
  if (u <= peak) return annealCos(cos, s.maxMomentum, s.baseMomentum, u / peak);
  return annealCos(cos, s.baseMomentum, s.maxMomentum, (u - peak) / (n - 1 - peak));
}
