// The Network's side of the .swnn format (checkpoint.ts frames it): a decoded checkpoint's values checked as a caller's
// options are, so that load refuses what would hang or poison the next fit before the network takes any memory, and
// an interrupted fit's position as checkpoint fields and back.
import { fraction, positive } from "./checks.js";
import { decode, type Checkpoint } from "./checkpoint.js";
import { resolveOptimizer, type ResolvedOptimizer } from "./optimizer.js";
import { COSTS, HIDDEN, OPTIMIZERS, OUTPUTS, type Cost, type HiddenActivation, type OutputActivation } from "./network-options.js";
import type { FitPosition } from "./fit-run.js";
import { RNG_BYTES } from "./param-block.js";

/** A checkpoint with its kinds named and its values checked: what Network.load builds a network from. */
export interface Loaded {
  c: Checkpoint; hidden: HiddenActivation; output: OutputActivation; cost: Cost;
  /** The optimizer whose state the file holds ("none": no state). */
  optName: (typeof OPTIMIZERS)[number];
  /** The last fit's optimizer, every default filled in, or undefined. */
  settings: ResolvedOptimizer | undefined;
  position: FitPosition | undefined;
}

/**
 * save()'s bytes decoded and checked (formats 1 and 2 too). Truncated, corrupted or foreign bytes are rejected, and so
 * are values behind a valid CRC-32 that would hang or poison the next fit.
 */
export function readCheckpoint(fn: string, bytes: Uint8Array): Loaded {
  const c = decode(fn, bytes);
  const hidden = HIDDEN[c.hidden];
  const output = OUTPUTS[c.output];
  const cost = COSTS[c.cost];
  const optName = OPTIMIZERS[c.optimizer];
  const settingsName = OPTIMIZERS[c.settings];
  if (!hidden || !output || !cost || !optName || !settingsName) throw new RangeError(`${fn}: corrupted header (unknown kinds)`);
  if (c.sizes.some((n) => n < 1)) throw new RangeError(`${fn}: corrupted header (sizes [${c.sizes.join(", ")}])`);
  if (c.seed > 0x7fffffff) throw new RangeError(`${fn}: corrupted header (seed ${c.seed}, expected at most 2^31 - 1)`);
  for (const [name, state] of [["shuffle", c.shuffleRng], ["dropout", c.dropoutRng ?? c.shuffleRng],
    ["augmentation", c.augmentRng ?? c.shuffleRng]] as const) {
    if (state.every((v) => v === 0)) {
      throw new RangeError(`${fn}: corrupted state: the ${name} generator's state is all zero, which xoshiro128** ` +
        "never leaves (no seed gives it)");
    }
  }
  // checked as a caller's options are: a corrupted value is refused here, not at the next fit
  const settings = settingsName === "none" ? undefined : resolveOptimizer(fn, settingsName === "sgd"
    ? { name: settingsName, lr: c.lr, momentum: c.a, nesterov: c.nesterov === 1, weightDecay: c.weightDecay }
    : { name: settingsName, lr: c.lr, beta1: c.a, beta2: c.b, eps: c.eps, weightDecay: c.weightDecay }, "saved optimizer");
  if (c.state) {
    if (optName === "none") throw new RangeError(`${fn}: corrupted header (optimizer state without an optimizer)`);
    for (const [name, v] of [["beta1^steps", c.beta1Power], ["beta2^steps", c.beta2Power]] as const) {
      if (!(v >= 0 && v <= 1)) throw new RangeError(`${fn}: corrupted state: Adam's ${name} is ${v}, expected a number in [0, 1]`);
    }
    if (optName !== "sgd") {
      const v = new Float32Array(c.state.buffer, c.params.length, c.params.length / 4); // the second moments
      const bad = v.findIndex((x) => !(x >= 0));
      if (bad >= 0) {
        throw new RangeError(`${fn}: corrupted state: Adam's second moment [${bad}] is ${v[bad]}, expected a number >= 0`);
      }
    }
  }
  // the regularizers, checked as a caller's options are (a format 1 or 2 file has none: zeros)
  c.dropout.forEach((p, i) => fraction(fn, `saved dropout[${i}]`, p, 0));
  fraction(fn, "saved inputDropout", c.inputDropout, 0);
  if (c.maxNorm !== 0) positive(fn, "saved maxNorm", c.maxNorm);
  const position = c.runEpochs === 0 ? undefined : savedPosition(fn, c);
  return { c, hidden, output, cost, optName, settings, position };
}

/** An interrupted fit's position as checkpoint fields (zeros: none). */
export function positionFields(p: FitPosition | undefined): Pick<Checkpoint, "runEpochs" | "runEpoch" | "runBatch" |
  "runRows" | "runBatchSize" | "runShuffle" | "runCorrect" | "runLoss" | "runRng"> {
  return {
    runEpochs: p?.epochs ?? 0, runEpoch: p?.epoch ?? 0, runBatch: p?.batch ?? 0, runRows: p?.rows ?? 0,
    runBatchSize: p?.batchSize ?? 0, runShuffle: p?.shuffle ? 1 : 0, runCorrect: p?.correct ?? 0, runLoss: p?.loss ?? 0,
    runRng: p?.shuffleRng ?? new Uint8Array(RNG_BYTES),
  };
}

/** A saved position, checked: a corrupted one is refused at load, not found wrong at the resumed fit. */
function savedPosition(fn: string, c: Checkpoint): FitPosition {
  const batches = c.runBatchSize === 0 ? 0 : Math.ceil(c.runRows / c.runBatchSize);
  // a run stands at a batch of an epoch, or past the epoch's last (its end not yet reached), or at its own end
  if (c.runRows === 0 || c.runBatchSize === 0 || c.runEpoch > c.runEpochs || c.runBatch > batches ||
    (c.runEpoch === c.runEpochs && c.runBatch !== 0) ||
    c.runShuffle > 1 || c.runCorrect > c.runRows || c.runLoss < 0 || c.runRng.every((v) => v === 0)) {
    throw new RangeError(`${fn}: corrupted state: the interrupted fit's position (epoch ${c.runEpoch} of ${c.runEpochs}, ` +
      `batch ${c.runBatch}) does not hold together`);
  }
  return {
    epochs: c.runEpochs, epoch: c.runEpoch, batch: c.runBatch, rows: c.runRows, batchSize: c.runBatchSize,
    shuffle: c.runShuffle === 1, loss: c.runLoss, correct: c.runCorrect, shuffleRng: c.runRng,
  };
}
