// What a fit run keeps and calls besides its loop (network.ts fit): where an interrupted run stands (resume; save()
// keeps it, network-checkpoint.ts), early stopping's watch over the epochs, onBatch with its input(), and the yield to
// the event loop between batches.
import type { Engine } from "./engine.js";
import { atLeast } from "./checks.js";
import type { BatchInfo, EarlyStopping, FitResult } from "./network-options.js";

/**
 * Where an interrupted fit stands (aborted by its signal between batches): the run's shape, the epoch and batch to go on
 * from, the shuffle generator's state before that epoch's permutation (so the permutation is drawn again exactly) and
 * the epoch's figures so far. fit({ resume: true }) continues from it; save() keeps it.
 */
export interface FitPosition {
  epochs: number; epoch: number; batch: number; rows: number; batchSize: number; shuffle: boolean;
  loss: number; correct: number; shuffleRng: Uint8Array;
  /**
   * The run's resolved optimizer, schedule, augment and early stopping options, each as JSON (network-options.ts
   * runOptions), for a run started in this process: resume refuses others. A position loaded from a file has none (the
   * format keeps the optimizer's settings, which resume checks instead).
   */
  run?: Record<"opts.optimizer" | "opts.schedule" | "opts.augment" | "opts.earlyStopping", string>;
  /** The run's early stopping, its best epoch's parameters with it (a run started in this process; freed with the run). */
  stop?: EarlyStop;
}

/**
 * fit's early stopping, as Keras' EarlyStopping(monitor='val_loss'): an improvement is a validation loss below the best
 * by more than minDelta, and copies the parameters aside; `patience` epochs without one stop the run.
 */
export class EarlyStop {
  private bestLoss = Infinity;
  private wait = 0;
  private bestEpoch: number | undefined;
  /** The last epoch watched, and the one the run stopped after (if it did). */
  private last = -1;
  private stopped: number | undefined;

  /** Takes a block of P floats for the best epoch's parameters, which free() gives back (the run's end). */
  constructor(private readonly o: EarlyStopping, private readonly e: Engine,
    private readonly params: number, // (P) the network's parameters
    private readonly bytes: number,  // P * 4
    private best = e.allocBlock(bytes), // (P) the best epoch's parameters
  ) {}

  /** After an epoch with this validation loss: the best epoch's parameters kept, or the stop; true: stop the run. */
  after(epoch: number, valLoss: number): boolean {
    this.last = epoch;
    if (valLoss < this.bestLoss - this.o.minDelta) {
      this.bestLoss = valLoss;
      this.bestEpoch = epoch;
      this.wait = 0;
      this.e.moveBytes(this.params, this.best, this.bytes);
    } else if (++this.wait >= this.o.patience) {
      this.stopped = epoch;
      return true;
    }
    return false;
  }

  /**
   * At the run's end: with restoreBest, the best epoch's parameters back (if an epoch improved); result.bestEpoch says
   * which epoch that was and stoppedEpoch where it stopped (in any call of a resumed run), keptEpoch whose parameters
   * the network now holds (the last epoch's without the restore). Frees the block.
   */
  end(result: FitResult): void {
    const restore = this.o.restoreBest && this.bestEpoch !== undefined;
    if (restore) this.e.moveBytes(this.best, this.params, this.bytes);
    result.bestEpoch = this.bestEpoch;
    result.keptEpoch = restore ? this.bestEpoch : this.last;
    if (this.stopped !== undefined) result.stoppedEpoch = this.stopped;
    this.free();
  }

  /** Gives the best parameters' block back (the run ended, or was replaced by a new one, or the network disposed). */
  free(): void {
    if (this.best !== 0) this.e.freeBlock(this.best, this.bytes);
    this.best = 0;
  }
}

/**
 * Calls onBatch with the batch's figures and its input(): a copy of rows of the batch's input x (B, D) in Wasm memory,
 * which the next batch overwrites, so callable during the callback only.
 */
export function reportBatch(fn: string, onBatch: (info: BatchInfo) => void, info: Omit<BatchInfo, "input">,
  e: Engine, x: number, B: number, D: number): void {
  let live = true;
  const input = (n: unknown = B) => {
    if (!live) throw new RangeError(`${fn}: onBatch's info.input() is only valid during its onBatch call`);
    const r = atLeast(fn, "info.input(rows)", n, 0);
    if (r > B) throw new RangeError(`${fn}: info.input(rows) must be at most the batch's ${B} rows, got ${r}`);
    return e.f32(x, r * D).slice();
  };
  try {
    onBatch({ ...info, input });
  } finally {
    live = false;
  }
}

/** Lets the event loop run (a page stays responsive): setImmediate in Node, a message elsewhere, never a 1 ms timer. */
export function yieldToEventLoop(): Promise<void> {
  if (typeof setImmediate === "function") return new Promise((r) => setImmediate(r));
  if (typeof MessageChannel === "function") {
    return new Promise((r) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => { ch.port1.close(); r(); };
      ch.port2.postMessage(0);
    });
  }
  return new Promise((r) => setTimeout(r, 0));
}
