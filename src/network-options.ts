// The Network's options and fit's: the types a caller passes, and the checks that turn them into resolved values (every
// default filled in) before the call takes any memory. Each check names the option; they run in a fixed order, so a
// call with several bad options is always told of the same one first.
import { atLeast, boolean, classLabels, fraction, inputData, inputs, nonNegative, oneOf, options, positive } from "./checks.js";
import { resolveOptimizer, type Optimizer, type ResolvedOptimizer } from "./optimizer.js";
import { checkScheduleFits, resolveSchedule, type ResolvedSchedule, type Schedule } from "./schedule.js";
import { isIdentity, resolveAugment, type Augment, type AugmentOptions } from "./augment.js";
import type { FitPosition } from "./fit-run.js";
import type { WasmArray } from "./wasm-array.js";

export type HiddenActivation = "relu" | "sigmoid" | "tanh";
export type OutputActivation = "softmax" | "sigmoid";
export type Cost = "crossEntropy" | "quadratic";

/** The kinds as a checkpoint numbers them (the index). */
export const HIDDEN = ["relu", "sigmoid", "tanh"] as const;
export const OUTPUTS = ["softmax", "sigmoid"] as const;
export const COSTS = ["crossEntropy", "quadratic"] as const;
export const OPTIMIZERS = ["none", "sgd", "adam", "adamw"] as const;

export interface NetworkOptions {
  sizes: number[]; hidden?: HiddenActivation; output?: OutputActivation; cost?: Cost; seed?: number;
  /** Inverted dropout on each hidden layer's output in training: one probability of dropping for all, or one each. */
  dropout?: number | number[];
  /** Dropout on the input in training. */
  inputDropout?: number;
  /** After every update, each hidden unit's incoming weight vector is scaled down to this L2 norm if longer. */
  maxNorm?: number;
}

/** The constructor's options checked, every default filled in (dropout: one rate a hidden layer; maxNorm 0: none). */
export interface ResolvedNetwork {
  sizes: readonly number[]; hidden: HiddenActivation; output: OutputActivation; cost: Cost; seed: number;
  dropout: readonly number[]; inputDropout: number; maxNorm: number;
}

export interface EpochInfo { loss: number; accuracy?: number; valLoss?: number; valAccuracy?: number; seconds: number }

/** What fit's onBatch gets after each training batch. */
export interface BatchInfo {
  epoch: number; batch: number; batches: number;
  /** The batch's mean loss and accuracy, before the update. */
  loss: number; accuracy: number;
  /** The learning rate of this batch's update. */
  lr: number;
  /** SGD's momentum or Adam's beta1 of this batch's update, when the schedule cycles it (onecycle); else absent. */
  momentum?: number;
  /**
   * A copy of the first `rows` rows (default: all) of the batch's input as the network saw it: (rows, sizes[0])
   * floats after opts.augment, before input dropout (pixels scaled to [0, 1] for Uint8Array x). Read from Wasm only
   * when called, so an onBatch that does not call it costs nothing; valid only during the onBatch call (a RangeError
   * after it returns, as the buffer then holds the next batch). Calling it changes nothing in the training.
   */
  input(rows?: number): Float32Array;
}

export interface FitOptions {
  epochs: number; batchSize?: number; shuffle?: boolean; seed?: number; optimizer?: Optimizer;
  validation?: { x: Uint8Array | Float32Array | WasmArray; labels: Uint8Array | Int32Array };
  /** The learning rate per batch (schedule.ts): torch.optim.lr_scheduler's StepLR, CosineAnnealingLR, OneCycleLR. */
  schedule?: Schedule;
  /**
   * Go on with the run an earlier fit left when its signal stopped it (or that a saved network was in): the same data,
   * epochs, batchSize and shuffle; together, the calls train the bytes of one uninterrupted run.
   */
  resume?: boolean;
  /** Stop when the validation loss has not improved by minDelta for `patience` epochs (needs `validation`). */
  earlyStopping?: { patience: number; minDelta?: number; restoreBest?: boolean };
  onBatch?: (info: BatchInfo) => void;
  onEpoch?: (info: { epoch: number } & EpochInfo) => void;
  signal?: AbortSignal;
  /**
   * Each training batch's images transformed inside Wasm after they are gathered (src/augment.ts): a random shift,
   * rotation, scale and elastic distortion per image, drawn from the network's augmentation generator.
   */
  augment?: AugmentOptions;
}

/**
 * What fit returns: each epoch's figures; with earlyStopping, the epoch of the lowest validation loss (bestEpoch), the
 * epoch whose parameters the network holds at the end (keptEpoch: bestEpoch unless restoreBest is false, then the last
 * epoch run) and the epoch after which it stopped (stoppedEpoch, if it stopped early). Epochs count from 0.
 */
export interface FitResult { epochs: EpochInfo[]; bestEpoch?: number; keptEpoch?: number; stoppedEpoch?: number }

/** opts.earlyStopping with its defaults filled in. */
export interface EarlyStopping { patience: number; minDelta: number; restoreBest: boolean }

/** fit's options checked against the network and its data, every default filled in; `rows`: the rows of x. */
export interface ResolvedFit {
  rows: number; epochs: number; batchSize: number; shuffle: boolean;
  /** opts.seed: reseeds the shuffles' generator; undefined: it runs on. */
  seed: number | undefined;
  optimizer: ResolvedOptimizer;
  validation: { x: Uint8Array | Float32Array; labels: Uint8Array | Int32Array } | undefined;
  schedule: ResolvedSchedule | undefined;
  stopping: EarlyStopping | undefined;
  /** Go on with the interrupted run (its position checked against these options). */
  resume: boolean;
  augment: Augment | undefined;
  onBatch: FitOptions["onBatch"]; onEpoch: FitOptions["onEpoch"]; signal: AbortSignal | undefined;
}

/** The constructor's options, checked. */
export function networkOptions(fn: string, opts: unknown): ResolvedNetwork {
  const o = options(fn, opts, ["sizes", "hidden", "output", "cost", "seed", "dropout", "inputDropout", "maxNorm"] as const);
  if (!Array.isArray(o.sizes)) throw new TypeError(`${fn}: opts.sizes must be an array of layer sizes`);
  if (o.sizes.length < 2) throw new RangeError(`${fn}: opts.sizes needs at least an input and an output size`);
  const sizes = o.sizes.map((n, i) => atLeast(fn, `opts.sizes[${i}]`, n, 1));
  if (sizes.at(-1)! < 2 && (o.output ?? "softmax") === "softmax") {
    throw new RangeError(`${fn}: a softmax output needs at least 2 classes, got ${sizes.at(-1)}`);
  }
  const hidden = oneOf(fn, "opts.hidden", o.hidden, HIDDEN, "relu");
  const output = oneOf(fn, "opts.output", o.output, OUTPUTS, "softmax");
  const cost = oneOf(fn, "opts.cost", o.cost, COSTS, "crossEntropy");
  const seed = atLeast(fn, "opts.seed", o.seed, 0, 1);
  const hiddenLayers = sizes.length - 2;
  // one rate for every hidden layer (checked here even with none: null is not a rate, and a rate above 0 would drop
  // nothing on a network without hidden layers)
  const one = Array.isArray(o.dropout) ? undefined : fraction(fn, "opts.dropout", o.dropout, 0);
  if (one !== undefined && one > 0 && hiddenLayers === 0) {
    throw new RangeError(`${fn}: opts.dropout (${one}) drops hidden layers' outputs, and sizes [${sizes.join(", ")}] ` +
      `has no hidden layer (inputDropout drops inputs)`);
  }
  const rates = Array.isArray(o.dropout) ? o.dropout : new Array(hiddenLayers).fill(one);
  if (rates.length !== hiddenLayers) {
    throw new RangeError(`${fn}: opts.dropout has ${rates.length} rates, expected one per hidden layer (${hiddenLayers})`);
  }
  const dropout = Object.freeze(rates.map((p, i) =>
    fraction(fn, Array.isArray(o.dropout) ? `opts.dropout[${i}]` : "opts.dropout", p, 0)));
  const inputDropout = fraction(fn, "opts.inputDropout", o.inputDropout, 0);
  const maxNorm = o.maxNorm === undefined ? 0 : positive(fn, "opts.maxNorm", o.maxNorm);
  return { sizes: Object.freeze(sizes), hidden, output, cost, seed, dropout, inputDropout, maxNorm };
}

/** Checks (x, labels) for fn and returns the row count: labels in range, at least one row. */
export function labelled(fn: string, sizes: readonly number[], x: unknown, labels: unknown, xName = "x",
  labelsName = "labels"): number {
  const rows = inputs(fn, xName, x, sizes[0]);
  classLabels(fn, labelsName, labels, rows, sizes.at(-1)!);
  if (rows === 0) throw new RangeError(`${fn}: ${xName} has no rows`);
  return rows;
}

/**
 * fit's options and data, checked: `settings` is the last fit's optimizer (the default for opts.optimizer), `at` the
 * interrupted run that opts.resume goes on with.
 */
export function fitOptions(fn: string, sizes: readonly number[], x: unknown, labels: unknown, opts: unknown,
  settings: ResolvedOptimizer | undefined, at: FitPosition | undefined): ResolvedFit {
  const rows = labelled(fn, sizes, x, labels); // the arguments in their order: x, labels, then opts
  const o = options(fn, opts, ["epochs", "batchSize", "shuffle", "seed", "optimizer", "validation", "schedule",
    "earlyStopping", "resume", "augment", "onBatch", "onEpoch", "signal"] as const);
  if (opts === undefined) throw new TypeError(`${fn}: opts ({ epochs, ... }) is required`);
  const epochs = atLeast(fn, "opts.epochs", o.epochs, 1);
  const batchSize = atLeast(fn, "opts.batchSize", o.batchSize, 1, 64);
  const shuffle = boolean(fn, "opts.shuffle", o.shuffle, true);
  const seed = o.seed === undefined ? undefined : atLeast(fn, "opts.seed", o.seed, 0);
  const optimizer = resolveOptimizer(fn, o.optimizer === undefined ? settings : o.optimizer);
  for (const cb of ["onBatch", "onEpoch"] as const) {
    if (o[cb] !== undefined && typeof o[cb] !== "function") throw new TypeError(`${fn}: opts.${cb} must be a function`);
  }
  const signal = o.signal as AbortSignal | undefined;
  if (signal !== undefined && !(typeof signal === "object" && signal !== null && "aborted" in signal)) {
    throw new TypeError(`${fn}: opts.signal must be an AbortSignal`);
  }
  const v = o.validation as FitOptions["validation"];
  // its x as data (a WasmArray's in place)
  const val = v === undefined ? undefined : { x: inputData(fn, "opts.validation.x", v?.x), labels: v.labels };
  if (val !== undefined) labelled(fn, sizes, val.x, val.labels, "opts.validation.x", "opts.validation.labels");
  const schedule = o.schedule === undefined ? undefined : resolveSchedule(fn, o.schedule);
  if (schedule) checkScheduleFits(fn, schedule, epochs);
  const stopping = o.earlyStopping === undefined ? undefined : earlyStopping(fn, o.earlyStopping, val !== undefined);
  // the identity (every range 0, no elastic displacement) is no augmentation: the images and the augmentation
  // generator stay as they are, the bytes of a fit without the option, its save() too
  const resolved = o.augment === undefined ? undefined : resolveAugment(fn, o.augment, sizes[0]);
  const augment = resolved === undefined || isIdentity(resolved) ? undefined : resolved;
  const resume = boolean(fn, "opts.resume", o.resume, false);
  if (resume) {
    if (at === undefined) throw new RangeError(`${fn}: opts.resume: there is no interrupted run to go on with`);
    const same: [string, unknown, unknown][] = [["rows of x", rows, at.rows], ["opts.epochs", epochs, at.epochs],
      ["opts.batchSize", batchSize, at.batchSize], ["opts.shuffle", shuffle, at.shuffle]];
    for (const [name, now, then] of same) {
      if (now !== then) throw new RangeError(`${fn}: opts.resume: ${name} is ${now}, the interrupted run's was ${then}`);
    }
    if (seed !== undefined) throw new TypeError(`${fn}: opts.seed restarts the shuffles: it does not go with opts.resume`);
    if (stopping && at.run === undefined) {
      throw new TypeError(`${fn}: opts.earlyStopping does not go with opts.resume of a run loaded from a file (the ` +
        `format keeps no copy of the best epoch's parameters): resume without it, or start a new run`);
    }
    // the run's other options: all of them when it started in this process, else the optimizer the file keeps
    const now = runOptions(optimizer, schedule, augment, stopping);
    const then = at.run ?? (settings && { "opts.optimizer": runOptions(settings, undefined, undefined, undefined)["opts.optimizer"] });
    for (const [name, was] of Object.entries(then ?? {}) as [keyof typeof now, string][]) {
      if (now[name] !== was) {
        throw new RangeError(`${fn}: opts.resume: ${name} is ${now[name]}, the interrupted run's was ${was} (a resumed ` +
          `run goes on with the options it started with)`);
      }
    }
  }
  return {
    rows, epochs, batchSize, shuffle, seed, optimizer, validation: val, schedule, stopping, resume, augment,
    onBatch: o.onBatch as FitOptions["onBatch"], onEpoch: o.onEpoch as FitOptions["onEpoch"], signal,
  };
}

/**
 * A run's resolved optimizer, schedule, augment and early stopping options as JSON, as FitPosition.run keeps them
 * ("none": not given).
 */
export function runOptions(optimizer: ResolvedOptimizer, schedule: ResolvedSchedule | undefined,
  augment: Augment | undefined, stopping: EarlyStopping | undefined): NonNullable<FitPosition["run"]> {
  const json = (v: object | undefined) => (v === undefined ? "none" : JSON.stringify(v));
  return { "opts.optimizer": json(optimizer), "opts.schedule": json(schedule), "opts.augment": json(augment),
    "opts.earlyStopping": json(stopping) };
}

/** fit's earlyStopping option, checked: it needs a validation set to watch. */
function earlyStopping(fn: string, v: unknown, hasValidation: boolean): EarlyStopping {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new TypeError(`${fn}: opts.earlyStopping must be an object ({ patience, minDelta?, restoreBest? })`);
  }
  const o = options(fn, v, ["patience", "minDelta", "restoreBest"] as const, "opts.earlyStopping");
  const r = {
    patience: atLeast(fn, "opts.earlyStopping.patience", o.patience, 1),
    minDelta: nonNegative(fn, "opts.earlyStopping.minDelta", o.minDelta, 0),
    restoreBest: boolean(fn, "opts.earlyStopping.restoreBest", o.restoreBest, true),
  };
  if (!hasValidation) throw new TypeError(`${fn}: opts.earlyStopping watches the validation loss: it needs opts.validation`);
  return r;
}
