// Opt-in multi-threading (ready({ threads: n })): the threads build (dist/softmax-threads.wasm) instantiated once on
// the calling thread, which owns the shared memory and the arena, and once in each of n - 1 workers, which never
// allocate. Every worker instantiates the caller's own WebAssembly.Module (passed to it, not recompiled), so V8's
// tiered-up code for a kernel serves every thread. A job is posted through a control block in the shared memory
// (Atomics.store, and Atomics.notify only to a worker that sleeps). A worker spins on its control block for about
// twice the longest recent gap it sees between jobs (at most SPIN_MAX_MS, less when spinning has not paid off), then
// sleeps in Atomics.wait. The caller runs its own share of every job first, then runs itself each share no worker has claimed
// yet (stealing it: on a busy machine a descheduled worker never holds a call up, and 2 threads are never much slower
// than 1), then waits for the claimed ones: with Atomics.wait where the thread may block (Node, Deno, Bun, workers),
// else by spinning on Atomics.load (a browser's main thread, where Atomics.wait throws: the shares are equal, so the
// wait is short, and a synchronous API cannot await Atomics.waitAsync).
//
// A worker may stop (terminated, crashed, its loop failed): the caller, blocked in its wait, cannot see the worker's
// 'exit' event then, so the wait is bounded through shared memory and the clock. A job goes to whoever claims it first
// (a compare-exchange on the worker's CLAIM word: the worker to run it, the caller to steal it). A worker writes the
// last job it has looked at (SEEN); one that has not looked at a job stolen from it CLAIM_MS after it was asked to look
// (the job posted while it was awake, or with a notify; a small share is posted to a sleeper without one) has stopped,
// and the next call finds it before posting anything. A claimed job that outlives a deadline scaled from the caller's
// own share is given up. A worker whose loop throws says so in its control block at once; 'exit' / 'error' listeners
// see the others between calls. The call that finds a stopped worker throws an Error saying so (its results are not
// valid) and the pool drops that worker: later calls run on the remaining threads, with the same bits (which
// never depend on the thread count). Dropping, rather than restarting, keeps the pool synchronous and never reuses a
// control block or scratch that a stuck worker might still touch; the cause of a crash (memory, a bug) would likely
// stop a new worker too.
//
// This module is both sides' protocol and the worker's loop (thread-worker.ts imports it alone, so a bundle copies
// thread-worker.js and threads.js beside it); the caller's side of a job is pool-jobs.ts, how each kernel splits
// pool.ts, starting the workers pool-start.ts.
import type { Kernels } from "./engine.js";
import type { WasmMemory, WasmModule } from "./wasm-types.js";

/** The threads build's extra exports (assembly/threads.ts). */
export interface ThreadKernels extends Kernels {
  scratch_bytes(): number;
  set_scratch(p: number): void;
  gemm_dw_rows(x: number, dy: number, dw: number, B: number, I: number, O: number, accumulate: number, i0: number, i1: number): void;
  gemm_dw_sparse_rows(x: number, dy: number, dw: number, B: number, I: number, O: number, accumulate: number, i0: number, i1: number): void;
  gemm_pack_b(w: number, packed: number, K: number, N: number, p0: number, p1: number): void;
  gemm_forward_packed(x: number, packed: number, bias: number, y: number, B: number, I: number, O: number, act: number): void;
  gemm_forward_cols(x: number, w: number, bias: number, y: number, B: number, I: number, O: number, act: number, j0: number, j1: number): void;
  gemm_dx_cols(dy: number, w: number, dx: number, B: number, I: number, O: number, i0: number, i1: number): void;
  cross_entropy_row_part(z: number, g: number, len: number, w: number, y: number, wy: number, n: number, smoothing: number,
    wsum: number, scale: number, pass: number, m: number, zy: number, sum: number, d: number, parts: number): number;
  cross_entropy_prob_row_part(z: number, q: number, w: number, g: number, len: number, n: number, smoothing: number,
    scale: number, pass: number, m: number, tsum: number, sum: number, d: number, parts: number): number;
  cross_entropy_index_parts(logits: number, labels: number, weight: number, grad: number, losses: number, rows: number,
    cols: number, ignoreIndex: number, smoothing: number, wsum: number, scale: number, parts: number): number;
  cross_entropy_prob_parts(logits: number, target: number, weight: number, grad: number, losses: number, rows: number,
    cols: number, smoothing: number, scale: number, parts: number): void;
  bce_with_logits_parts(logits: number, target: number, posWeight: number, period: number, grad: number, losses: number,
    n: number, scale: number, parts: number): void;
  quadratic_cost_parts(a: number, y: number, grad: number, n: number, rows: number, parts: number): void;
  sum_block(): number;
  softmax_row_part(x: number, y: number, n: number, scale: number, log: number, pass: number, max: number, sum: number,
    parts: number): number;
  sample_row_part(x: number, n: number, mode: number, m: number, scale: number, k: number, out: number, work: number): number;
  sample_row_finish(x: number, n: number, mode: number, m: number, za: number, c: number, ids: number, probs: number,
    scale: number, k: number, p: number, minP: number, state: number, work: number): number;
}

/**
 * The threads build's extra exports with their argument counts: ThreadKernels' runtime form (its type ties each count
 * to the signature above), tested with KERNEL_ARITY against the exports of both threads builds (test/exports.test.ts).
 */
export const THREAD_KERNEL_ARITY: { readonly [K in Exclude<keyof ThreadKernels, keyof Kernels>]: Parameters<ThreadKernels[K]>["length"] } = {
  scratch_bytes: 0, set_scratch: 1, gemm_dw_rows: 9, gemm_dw_sparse_rows: 9, gemm_pack_b: 6, gemm_forward_packed: 8,
  gemm_forward_cols: 10, gemm_dx_cols: 8, cross_entropy_row_part: 16, cross_entropy_prob_row_part: 14,
  cross_entropy_index_parts: 12, cross_entropy_prob_parts: 10, bce_with_logits_parts: 9, quadratic_cost_parts: 6,
  sum_block: 0, softmax_row_part: 9, sample_row_part: 8, sample_row_finish: 14,
};

/** What a worker gets to start (thread-worker.ts / thread-worker-node.ts). */
export interface WorkerInit {
  module: WasmModule;
  memory: WasmMemory;
  /** Byte offset of this worker's control block. */
  ctrl: number;
  /** Byte offset of this worker's scratch (set_scratch). */
  scratch: number;
}

/** A started worker, whichever API made it. */
export interface WorkerHandle {
  terminate(): unknown;
  /** node:worker_threads (Node, Deno, Bun): 'exit' (its argument the exit code) and 'error' (an Error) events. */
  on?(event: "exit" | "error", listener: (arg: any) => void): unknown;
  /** A Web Worker: 'error' events (it has no exit event). */
  addEventListener?(type: "error", listener: (ev: { message?: string }) => void): unknown;
}

/** Starts one worker on `init`; resolves once it has instantiated the module and waits for jobs. */
export type SpawnWorker = (init: WorkerInit) => Promise<WorkerHandle>;

/** The kernels a job may name, by index in the control block. */
export const JOB_FNS = [
  "gemm_forward", "gemm_forward_sparse", "gemm_dw_rows", "gemm_dw_sparse_rows", "softmax_forward",
  "log_softmax_forward", "cross_entropy_index_parts", "sgd_update", "adam_update", "gemm_pack_b",
  "gemm_forward_packed", "softmax_backward", "log_softmax_backward", "logits_from_probs", "cross_entropy_prob_parts",
  "bce_with_logits_parts", "sigmoid_forward", "quadratic_cost_parts", "softmax_row_part", "cross_entropy_row_part",
  "cross_entropy_prob_row_part", "sample_rows", "gemm_dx", "augment_batch", "sample_row_part", "gemm_forward_cols",
  "gemm_dx_cols", "gather_rows_u8", "gather_rows_f32",
] as const satisfies readonly (keyof ThreadKernels)[];
export type JobFn = (typeof JOB_FNS)[number];
/**
 * A job of two kernels that one thread runs in turn (fewer jobs a training step: a layer's dW and dX shares, or a
 * batch's rows gathered and the first layer's forward pass over them), its
 * arguments [index of the first in JOB_FNS, its argument count, its arguments..., the same for the second].
 */
export const PAIR = 255;

/** A job function's name for messages. */
export const jobName = (fn: number): string =>
  (fn === PAIR ? "a dense layer's pair of jobs (dW and dX, dW and a step, or a gather and the forward pass)" : JOB_FNS[fn]);

/** Runs job function `fn` (an index in JOB_FNS, or PAIR) on a thread's kernels; returns its result (a pair's second). */
export function callJob(k: Record<string, (...a: number[]) => unknown>, fn: number, args: number[]): number {
  if (fn === PAIR) {
    const n = args[1];
    callJob(k, args[0], args.slice(2, 2 + n));
    return callJob(k, args[2 + n], args.slice(4 + n, 4 + n + args[3 + n]));
  }
  const name = JOB_FNS[fn];
  if (name === undefined) throw new RangeError(`softmax-wasm: a thread worker got the unknown job function ${fn}`);
  return Number(k[name](...args) ?? 0);
}

// A control block: i32 [0] job sequence (the caller bumps it), [1] the last sequence done (the worker), [2] the job's
// function index, [3] its argument count, [4] 1 if it trapped, [5] CLAIM: the last sequence taken, by the worker (to
// run it) or by the caller (to run it itself: stolen); f64 [3..34] the arguments (32 at most: a pair of a dW share
// and an Adam step over its rows takes 26), [35] the result; i32 [72] SLEEPING: 1 while the worker is in Atomics.wait
// (the caller notifies only then), [73] SEEN: the last sequence the worker has looked at, [74] STOPPED:
// the byte length + 1 of the UTF-8 message at [76..103] once the worker's loop has failed, [75] REVOKED: 1 once the
// pool has dropped the worker (its loop ends at the next job it sees).
export const CTRL_BYTES = 416;
/**
 * A worker's spin before Atomics.wait, in ms (SpinPolicy): training posts jobs back to back (gaps of tens of µs, a
 * futex wake costs as much); an idle library never keeps a core busy for more than SPIN_MAX_MS at a time.
 */
export const SPIN_MIN_MS = 0.02, SPIN_MAX_MS = 2;
/** A worker's trust in spinning regains this factor a job it slept through that a full spin would have caught. */
const TRUST_REGAIN = 2 ** (1 / 4);
/** How fast the remembered longest gap fades, a job: a step of 10 jobs still spins past its longest gap. */
const GAP_DECAY = 15 / 16;
export const SEQ = 0, DONE = 1, FN = 2, NARGS = 3, TRAPPED = 4, CLAIM = 5, ARGS = 3, RESULT = 35, SLEEPING = 72, SEEN = 73,
  STOPPED = 74, REVOKED = 75, MESSAGE = 76;
export const MAX_ARGS = RESULT - ARGS;
const MESSAGE_BYTES = CTRL_BYTES - MESSAGE * 4;


/** A worker's side: instantiate, take the scratch, then run jobs until it is revoked. Blocks its thread (Atomics.wait). */
export async function workerMain(init: WorkerInit, started: () => void): Promise<void> {
  const instance = await WebAssembly.instantiate(init.module, { env: { memory: init.memory } });
  const k = instance.exports as unknown as Record<string, (...a: number[]) => number | undefined>;
  (k as unknown as ThreadKernels).set_scratch(init.scratch);
  const buffer = init.memory.buffer;
  const i32 = new Int32Array(buffer, init.ctrl, CTRL_BYTES >> 2);
  const f64 = new Float64Array(buffer, init.ctrl, CTRL_BYTES >> 3);
  const seen = Atomics.load(i32, SEQ); // before started(): the first job may be posted at once
  Atomics.store(i32, SEEN, seen);
  started();
  try {
    runJobs(k, i32, f64, seen);
  } catch (err) {
    // the caller may be blocked waiting for this job, where no message reaches it: say it in shared memory
    const bytes = new TextEncoder().encode(String(err)).subarray(0, MESSAGE_BYTES);
    new Uint8Array(buffer, init.ctrl + MESSAGE * 4, MESSAGE_BYTES).set(bytes);
    Atomics.store(i32, STOPPED, bytes.length + 1);
    Atomics.notify(i32, DONE);
    throw err;
  }
}

/**
 * A worker's claim of job `seq` (it last saw `seen`): CLAIM holds the last sequence taken, by the worker or stolen by
 * the caller, and whichever compare-exchange lands first decides. "stolen" when the caller took it, or took it and
 * later ones too (this thread read SEQ, then was descheduled while the caller stole that job, posted the next and stole
 * it as well: CLAIM is past seq, and FN / ARGS may already hold the later job's arguments, which must not run twice).
 */
export function claimJob(i32: Int32Array, seen: number, seq: number): "claimed" | "stolen" | "revoked" {
  let expected = seen;
  for (;;) {
    if (Atomics.load(i32, REVOKED) !== 0) return "revoked";
    const c = Atomics.compareExchange(i32, CLAIM, expected, seq);
    if (c === expected) return "claimed";
    if (((c - seq) | 0) >= 0) return "stolen";
    expected = c; // jobs this worker slept through were stolen: CLAIM has moved on to the last of them
  }
}

/**
 * A worker's spin before Atomics.wait, from the jobs it has seen: twice the longest recent gap between them (a training
 * step's longest gap is its batch boundary: the mean would put the worker to sleep there every step), less when
 * spinning has not paid off lately, within SPIN_MIN_MS .. SPIN_MAX_MS. A sleeping worker costs every job a futex wake:
 * measured on a 2-core VM (load 3), 8-33 µs of the caller's time in Atomics.notify and often longer before the worker
 * runs, against shares of about 100 µs (784-128-10, batch 64), so the caller mostly ran the worker's share itself.
 */
export class SpinPolicy {
  /** The longest recent gap between jobs, decaying by GAP_DECAY a job, ms. */
  gap = 0;
  /** How much spinning has paid off lately: 1/16 .. 1. */
  trust = 1;

  /** How long to spin for the next job, ms. */
  budget(): number {
    return Math.min(SPIN_MAX_MS, Math.max(SPIN_MIN_MS, 2 * this.gap * this.trust));
  }

  /**
   * A job seen `waited` ms after the last, after sleeping or while spinning, claimed or stolen by the caller; `missed`
   * jobs came and went before it unseen (posted while this thread slept, the caller ran them itself).
   */
  observe(waited: number, slept: boolean, claimed: boolean, missed = 0): void {
    if (slept && missed > 0 && waited / (missed + 1) <= SPIN_MAX_MS) {
      // jobs come oftener than this thread sleeps: spinning would have caught them. The caller wakes a sleeper for a
      // small share only every Pool.wakeEveryMs, so `waited` is that period, not the gap between jobs: without this a
      // worker whose trust fell slept through most jobs of a small network's epoch (the caller ran 65-98% of the
      // shares of 784-128-10 itself, measured)
      this.gap = Math.max(this.gap, waited / (missed + 1));
      this.trust = Math.min(1, this.trust * 2);
      return;
    }
    const full = Math.min(SPIN_MAX_MS, Math.max(SPIN_MIN_MS, 2 * this.gap)); // the budget at full trust
    // a pause (the library idle, or long calling-thread work) halves the gap: one pause keeps most of it, calls that
    // come further apart than SPIN_MAX_MS bring the spin down to its least
    this.gap = waited > SPIN_MAX_MS ? this.gap / 2 : Math.max(waited, this.gap * GAP_DECAY);
    if (!slept) {
      // a job seen while spinning but stolen: this thread was not running when it came (a busy machine), where
      // spinning only takes time from the caller; one taken while spinning: spinning pays
      this.trust = claimed ? Math.min(1, this.trust * 2) : Math.max(1 / 16, this.trust / 2);
    } else if (waited <= full) {
      // asleep at a job that a full spin would have caught: spinning pays again (else a worker whose trust fell would
      // sleep through every job from then on, its trust never rising), slowly: on a busy machine, where spinning
      // takes the caller's core, one job in 4 stolen from under a spinning worker keeps the trust falling
      this.trust = Math.min(1, this.trust * TRUST_REGAIN);
    }
  }
}

/** Control block slots a test may set (claimJob's). */
export const CTRL_SLOTS = { CLAIM, REVOKED } as const;

/** The job loop after job `seen`: returns once the pool has revoked this worker. */
function runJobs(k: Record<string, (...a: number[]) => number | undefined>, i32: Int32Array, f64: Float64Array,
  seen: number): void {
  const policy = new SpinPolicy();
  for (;;) {
    // spin for the policy's budget, then sleep: the caller notifies only a sleeping worker (SLEEPING)
    const t0 = performance.now();
    const budget = policy.budget();
    let slept = false;
    for (let spin = 1; Atomics.load(i32, SEQ) === seen; spin++) {
      if ((spin & 63) === 0 && performance.now() - t0 > budget) {
        // untimed: in Node 20 a notify reached a thread whose timed Atomics.wait had once timed out ~2.8 ms late
        Atomics.store(i32, SLEEPING, 1);
        Atomics.wait(i32, SEQ, seen);
        Atomics.store(i32, SLEEPING, 0);
        slept = true;
      }
    }
    const seq = Atomics.load(i32, SEQ);
    const waited = performance.now() - t0;
    Atomics.store(i32, SEEN, seq);
    const claim = claimJob(i32, seen, seq);
    if (claim === "revoked") return; // the pool has dropped this worker and terminates it
    const claimed = claim === "claimed";
    const missed = ((seq - seen) | 0) - 1; // jobs posted while this thread was not looking
    seen = seq;
    policy.observe(waited, slept, claimed, missed);
    if (!claimed) continue; // (a job revoked from a live worker: REVOKED follows, seen at the next job)
    const fn = i32[FN];
    if (fn !== PAIR && JOB_FNS[fn] === undefined) {
      throw new RangeError(`softmax-wasm: a thread worker got the unknown job function ${fn}`);
    }
    const args = Array.from(f64.subarray(ARGS, ARGS + i32[NARGS]));
    let result = 0;
    i32[TRAPPED] = 0;
    try {
      result = callJob(k, fn, args);
    } catch {
      i32[TRAPPED] = 1; // a trap: the caller throws once it has the other shares
    }
    f64[RESULT] = result;
    Atomics.store(i32, DONE, seq);
    Atomics.notify(i32, DONE);
  }
}
