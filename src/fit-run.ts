// What a fit run keeps and calls besides its loop (network.ts fit): where an interrupted run stands (resume; save()
// keeps it, network-checkpoint.ts), onBatch with its input(), and the yield to the event loop between batches.
import type { Engine } from "./engine.js";
import { atLeast } from "./checks.js";
import type { BatchInfo } from "./network-options.js";

export const RNG_BYTES = 16; // one generator's state

/**
 * Where an interrupted fit stands (aborted by its signal between batches): the run's shape, the epoch and batch to go on
 * from, the shuffle generator's state before that epoch's permutation (so the permutation is drawn again exactly) and
 * the epoch's figures so far. fit({ resume: true }) continues from it; save() keeps it.
 */
export interface FitPosition {
  epochs: number; epoch: number; batch: number; rows: number; batchSize: number; shuffle: boolean;
  loss: number; correct: number; shuffleRng: Uint8Array;
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
