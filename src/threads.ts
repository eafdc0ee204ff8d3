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
// Every split gives each output element to exactly one thread and computes it with the same kernel code, over the
// same column tiles and the same order of its sums, as the single-threaded call: results are bit-identical to the
// default build for any thread count. GEMM forward and dX split by output rows (B), dW by input-feature rows (I, the
// batch reduction inside one thread), optimizer steps by parameters, softmax / log-softmax / cross-entropy by rows
// (in multiples of 8 below 32 classes: a narrow cross-entropy's loss is summed by groups of 4 rows); a cross-entropy's
// total is summed afterwards in row order.
//
// A worker may stop (terminated, crashed, its loop failed): the caller, blocked in its wait, cannot see the worker's
// 'exit' event then, so the wait is bounded through shared memory and the clock. A job goes to whoever claims it first
// (a compare-exchange on the worker's CLAIM word: the worker to run it, the caller to steal it). A worker writes the
// last job it has looked at (SEEN); one that has not looked at a job stolen from it CLAIM_MS after it was posted has
// stopped, and the next call finds it before posting anything. A claimed job that outlives a deadline scaled from the
// caller's own share is given up. A worker whose loop throws says so in its control block at once; 'exit' / 'error'
// listeners see the others between calls. The call that finds a stopped worker throws an Error saying so (its results
// are not valid) and the pool drops that worker: later calls run on the remaining threads, with the same bits (which
// never depend on the thread count). Dropping, rather than restarting, keeps the pool synchronous and never reuses a
// control block or scratch that a stuck worker might still touch; the cause of a crash (memory, a bug) would likely
// stop a new worker too.
import type { Engine, Kernels } from "./engine.js";
// types only: a bundle that copies thread-worker.js and threads.js beside it needs no other module of ours
import type { Dispatch, ParamStep, Rows } from "./dispatch.js";
import type { WasmMemory, WasmModule } from "./wasm-types.js";

/** The threads build's extra exports (assembly/threads.ts). */
export interface ThreadKernels extends Kernels {
  scratch_bytes(): number;
  set_scratch(p: number): void;
  gemm_dw_rows(x: number, dy: number, dw: number, B: number, I: number, O: number, accumulate: number, i0: number, i1: number): void;
  gemm_dw_sparse_rows(x: number, dy: number, dw: number, B: number, I: number, O: number, accumulate: number, i0: number, i1: number): void;
  gemm_pack_b(w: number, packed: number, K: number, N: number, p0: number, p1: number): void;
  gemm_forward_packed(x: number, packed: number, bias: number, y: number, B: number, I: number, O: number, act: number): void;
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
  scratch_bytes: 0, set_scratch: 1, gemm_dw_rows: 9, gemm_dw_sparse_rows: 9,
  gemm_pack_b: 6, gemm_forward_packed: 8, cross_entropy_row_part: 16, cross_entropy_prob_row_part: 14,
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
  "cross_entropy_prob_row_part", "sample_rows", "gemm_dx", "augment_batch", "sample_row_part", "gather_rows_u8",
  "gather_rows_f32",
] as const satisfies readonly (keyof ThreadKernels)[];
export type JobFn = (typeof JOB_FNS)[number];
/**
 * A job of two kernels that one thread runs in turn (fewer jobs a training step: a layer's dW and dX shares, or a
 * batch's rows gathered and the first layer's forward pass over them), its
 * arguments [index of the first in JOB_FNS, its argument count, its arguments..., the same for the second].
 */
const PAIR = 255;

/** A job function's name for messages. */
const jobName = (fn: number): string =>
  (fn === PAIR ? "a dense layer's pair of jobs (dW and dX, dW and a step, or a gather and the forward pass)" : JOB_FNS[fn]);

/** Runs job function `fn` (an index in JOB_FNS, or PAIR) on a thread's kernels; returns its result (a pair's second). */
function callJob(k: Record<string, (...a: number[]) => unknown>, fn: number, args: number[]): number {
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
/** Atomics.load polls the calling thread makes before it sleeps in Atomics.wait for a claimed share (tens of µs). */
const SPIN = 1 << 15;
/**
 * A worker's spin before Atomics.wait, in ms (SpinPolicy): training posts jobs back to back (gaps of tens of µs, a
 * futex wake costs as much); an idle library never keeps a core busy for more than SPIN_MAX_MS at a time.
 */
export const SPIN_MIN_MS = 0.02, SPIN_MAX_MS = 2;
/**
 * The caller notifies a sleeping worker for a share of WAKE_MIN_MS or more, and for a shorter one at most every
 * Pool.wakeEveryMs: the notify costs the caller 8-33 µs on this 2-core VM when the other core is free and 100-250 µs
 * under load (the woken thread takes the caller's core), more than a share of 784-128-10 (75-170 µs), which the caller
 * runs itself when the worker has not woken in time. The first small job after a pause still wakes the worker.
 */
const WAKE_MIN_MS = 0.25;
/** A worker's trust in spinning regains this factor a job it slept through that a full spin would have caught. */
const TRUST_REGAIN = 2 ** (1 / 4);
/** How fast the remembered longest gap fades, a job: a step of 10 jobs still spins past its longest gap. */
const GAP_DECAY = 15 / 16;
const SEQ = 0, DONE = 1, FN = 2, NARGS = 3, TRAPPED = 4, CLAIM = 5, ARGS = 3, RESULT = 35, SLEEPING = 72, SEEN = 73,
  STOPPED = 74, REVOKED = 75, MESSAGE = 76;
const MAX_ARGS = RESULT - ARGS;
const MESSAGE_BYTES = CTRL_BYTES - MESSAGE * 4;

/**
 * How long a posted job may go unseen by its worker before the pool takes the worker for stopped. A live worker sees
 * a job within microseconds when spinning, tens of microseconds from a futex wake, and later only when no core is
 * free: measured on a 2-core machine already running two busy processes (1,200 wakes each), 8 ms at most; with 6
 * more busy threads in other sessions, 0.23 s; with 6 or 12 in the caller's own session (one scheduling group), 0.4
 * to 1.2 s. A false stop costs a thread, so the bound is 4x the worst seen. The caller runs an unclaimed share itself
 * (results never wait for a worker that is late or dead), so the bound is checked when a call starts.
 */
const CLAIM_MS = 5000;
/**
 * A claimed job still running this long after it was posted, plus SHARE_FACTOR times the caller's own (equal) share,
 * has stopped: its worker died mid-job or is stuck. Equal shares take about the same time on an idle machine; 50x
 * covers a worker that gets a fiftieth of a core while the caller had one, and the floor (twice CLAIM_MS, as a claim
 * may come that late) covers tiny shares, the page faults of a first touch and a core slow to clock up.
 */
const DEADLINE_MS = 10_000;
const SHARE_FACTOR = 50;

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

/** The job loop after job `seen`: returns once the pool has revoked this worker. */
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

/** Splits [0, n) into `parts` ranges of whole `unit`s (the last takes the rest); empty ranges are dropped. */
export function split(n: number, parts: number, unit: number): [number, number][] {
  const chunk = Math.ceil(n / parts / unit) * unit;
  const out: [number, number][] = [];
  for (let a = 0; a < n; a += chunk) out.push([a, Math.min(n, a + chunk)]);
  return out;
}

/**
 * Rows narrower than this (assembly/softmax.ts NARROW) go 4 at a time as columns. Each row's bits are the same in any
 * group, but a narrow cross-entropy's total adds its losses by groups of 4 rows: splits keep multiples of 8 rows so
 * every share's groups are one call's; wider rows split one by one.
 */
const NARROW = 32;
const rowUnit = (cols: number): number => (cols < NARROW ? 8 : 1);

/** The greatest common divisor of two positive integers. */
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Below these sizes a call runs whole on the calling thread (the same kernel: the same bits). */
const MIN_FLOPS = 1 << 18;
const MIN_ELEMS = 1 << 14;
/** A dense forward pass packs W first from this many rows of X and weights of W (the packing pays for itself). */
const PACK_MIN_ROWS = 32;
const PACK_MIN_WEIGHTS = 1 << 18;

/** A worker found stopped during a call, and why. */
class Stopped extends Error {}

export class Pool implements Dispatch {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly canWait: boolean;
  /** Elements per block of the kernels' long f64 sums (assembly/vec.ts BLOCK). */
  private readonly block: number;
  /** The live workers; worker t's control block starts at i32 index blocks[t]. */
  private readonly workers: WorkerHandle[];
  private readonly blocks: number[];
  /** Workers whose 'exit' or 'error' event came between calls, and why: the next call drops them and throws. */
  private readonly stops = new Map<WorkerHandle, string>();
  /** This thread's share of the last call of each job function (by index), ms. */
  private readonly shareMs = new Map<number, number>();
  /** Shares posted to workers, the posts that notified a sleeping worker, the shares the caller ran itself. */
  readonly counts = { posted: 0, woken: 0, stolen: 0 };
  /** When each worker was last notified (performance.now()). */
  private readonly woken: number[] = [];
  /**
   * A sleeping worker is notified for a share shorter than WAKE_MIN_MS at most this often, ms (the caller runs the
   * share itself meanwhile). @internal (tests raise it)
   */
  wakeEveryMs = 10;
  /** Per worker, the first job stolen from it that it has not looked at yet (SEEN), and when it was posted. */
  private readonly unseen: ({ seq: number; posted: number } | undefined)[] = [];

  constructor(private readonly e: Engine, workers: WorkerHandle[], ctrl: number) {
    const buffer = e.memory.buffer;
    this.i32 = new Int32Array(buffer, ctrl, (workers.length * CTRL_BYTES) >> 2);
    this.f64 = new Float64Array(buffer, ctrl, (workers.length * CTRL_BYTES) >> 3);
    this.canWait = mayBlock(this.i32);
    this.block = (e.k as ThreadKernels).sum_block();
    this.workers = workers.slice();
    this.blocks = workers.map((_, t) => t * (CTRL_BYTES >> 2));
    for (const w of workers) this.listen(w);
  }

  /** Threads in all: the workers and the caller. */
  get size(): number {
    return this.workers.length + 1;
  }

  private get k(): ThreadKernels {
    return this.e.k as ThreadKernels;
  }

  /** Notes a worker's exit or uncaught error (the first reason seen), for the next call. */
  private listen(w: WorkerHandle): void {
    const stop = (why: string) => {
      if (this.workers.includes(w) && !this.stops.has(w)) this.stops.set(w, why);
    };
    if (w.on) { // node:worker_threads
      w.on("exit", (code: number) => stop(`it exited with code ${code}`));
      w.on("error", (err: unknown) => stop(`it failed: ${String(err)}`));
    } else if (w.addEventListener) { // a Web Worker: no exit event
      w.addEventListener("error", (ev: { message?: string }) => stop(`it failed: ${ev.message || "an error"}`));
    }
  }

  /** Runs jobs[0] on this thread and jobs[t] on worker t - 1; returns each job's result. */
  run(fn: JobFn | "pair", jobs: number[][]): number[] {
    if (this.stops.size > 0) { // seen by a listener since the last call: nothing posted, nothing computed
      const stopped = [...this.stops].map(([w, why]) => ({ t: this.workers.indexOf(w), why }));
      throw this.drop(stopped);
    }
    this.checkSeen();
    const own = this.k as unknown as Record<string, (...a: number[]) => unknown>;
    const index = fn === "pair" ? PAIR : JOB_FNS.indexOf(fn);
    const posted = performance.now();
    const seqs: number[] = [];
    // a share as long as WAKE_MIN_MS (this job function's last one here, or one not seen yet) wakes a sleeping worker
    const wake = !(this.shareMs.get(index)! < WAKE_MIN_MS);
    for (let t = 1; t < jobs.length; t++) seqs.push(this.post(t - 1, index, jobs[t], wake));
    const results: number[] = new Array(jobs.length);
    let error: unknown;
    const started = performance.now();
    try {
      results[0] = callJob(own, index, jobs[0]);
    } catch (err) {
      error = err;
    }
    this.shareMs.set(index, performance.now() - started);
    const deadline = DEADLINE_MS + SHARE_FACTOR * (performance.now() - posted);
    // the shares no worker has taken yet run here (a worker descheduled, asleep or dead never holds the call up); after
    // a trap here every share is waited for, so a worker's own failure is seen
    const stolen: boolean[] = [];
    for (let t = 1; t < jobs.length; t++) {
      stolen[t] = error === undefined && this.steal(t - 1, seqs[t - 1], posted);
      if (!stolen[t]) continue;
      try {
        results[t] = callJob(own, index, jobs[t]);
      } catch (err) {
        error ??= err;
      }
    }
    const stopped: { t: number; why: string }[] = [];
    for (let t = 1; t < jobs.length; t++) { // every claimed share is waited for, even after a trap
      if (stolen[t]) continue;
      try {
        results[t] = this.wait(t - 1, seqs[t - 1], posted, deadline);
      } catch (err) {
        if (err instanceof Stopped) stopped.push({ t: t - 1, why: err.message });
        else error ??= err;
      }
    }
    if (stopped.length > 0) throw this.drop(stopped);
    if (error !== undefined) throw error;
    return results;
  }

  /**
   * Posts a job to worker w; a sleeping worker is notified if `wake` (the share is large enough) or if it was last
   * notified wakeEveryMs ago or more. Returns the job's sequence number for wait().
   */
  private post(w: number, fn: number, args: number[], wake: boolean): number {
    // a job's arguments fill the control block up to its result: more would overwrite it (a bug here, not the caller's)
    if (args.length > MAX_ARGS) throw new Error(`softmax-wasm: a ${jobName(fn)} job has ${args.length} arguments, more than ${MAX_ARGS}`);
    const b = this.blocks[w];
    this.i32[b + FN] = fn;
    this.i32[b + NARGS] = args.length;
    this.f64.set(args, (b >> 1) + ARGS);
    const seq = (this.i32[b + SEQ] + 1) | 0;
    Atomics.store(this.i32, b + SEQ, seq);
    this.counts.posted++;
    // the worker sets SLEEPING before its Atomics.wait on SEQ: either this load sees it, or that wait sees seq
    if (Atomics.load(this.i32, b + SLEEPING) !== 0) {
      const now = performance.now();
      if (wake || !(now - this.woken[w] < this.wakeEveryMs)) {
        this.woken[w] = now;
        this.counts.woken++;
        Atomics.notify(this.i32, b + SEQ);
      }
    }
    return seq;
  }

  /**
   * Takes worker w's job `seq` for this thread if the worker has not claimed it (whichever compare-exchange lands
   * first decides); a worker that then does not look at its control block within CLAIM_MS is taken for stopped.
   */
  private steal(w: number, seq: number, posted: number): boolean {
    const b = this.blocks[w];
    if (Atomics.compareExchange(this.i32, b + CLAIM, (seq - 1) | 0, seq) !== ((seq - 1) | 0)) return false;
    this.unseen[w] ??= { seq, posted };
    this.counts.stolen++;
    return true;
  }

  /** Drops (and throws for) the workers that have not looked at a job stolen from them within CLAIM_MS. */
  private checkSeen(): void {
    let stopped: { t: number; why: string }[] | undefined;
    this.unseen.forEach((u, t) => {
      if (u === undefined) return;
      if (((Atomics.load(this.i32, this.blocks[t] + SEEN) - u.seq) | 0) >= 0) this.unseen[t] = undefined;
      else if (performance.now() - u.posted > CLAIM_MS) {
        (stopped ??= []).push({ t, why: `it did not take its job within ${CLAIM_MS / 1000} s` });
      }
    });
    if (stopped) throw this.drop(stopped);
  }

  /**
   * Waits for worker w to finish job `seq` (posted at `posted`, by performance.now()); returns its result. Throws
   * Stopped when the worker's loop failed, when it has not claimed the job within CLAIM_MS (the job is revoked: only
   * after a trap on this thread, when no share is stolen), or when its claimed job is still running at `deadline` ms
   * after posting.
   */
  private wait(w: number, seq: number, posted: number, deadline: number): number {
    const b = this.blocks[w];
    let claimed = false;
    for (let spin = 0; ; spin++) {
      const done = Atomics.load(this.i32, b + DONE);
      if (done === seq) break;
      if (spin < SPIN && (spin & 1023) !== 1023) continue; // the checks below read the clock: not every poll
      const stopped = Atomics.load(this.i32, b + STOPPED);
      if (stopped !== 0) {
        const bytes = new Uint8Array(this.i32.buffer, this.i32.byteOffset + (b + MESSAGE) * 4, stopped - 1).slice();
        throw new Stopped(`its job loop failed: ${new TextDecoder().decode(bytes)}`);
      }
      const waited = performance.now() - posted;
      if (!claimed) {
        claimed = Atomics.load(this.i32, b + CLAIM) === seq;
        if (!claimed && waited > CLAIM_MS) {
          const previous = (seq - 1) | 0; // what the worker's claim expects
          if (Atomics.compareExchange(this.i32, b + CLAIM, previous, seq) === previous) { // taken from it: revoked
            throw new Stopped(`it did not take its job within ${CLAIM_MS / 1000} s`);
          }
          claimed = true; // it claimed the job just in time
        }
      } else if (waited > deadline) {
        throw new Stopped(`its share of ${jobName(this.i32[b + FN])} ran ${(waited / 1000).toFixed(1)} s, past the ` +
          `deadline of ${(DEADLINE_MS / 1000).toFixed(0)} s + ${SHARE_FACTOR}x the calling thread's share`);
      }
      if (this.canWait && spin >= SPIN) Atomics.wait(this.i32, b + DONE, done, 100); // woken by DONE or STOPPED
    }
    if (this.i32[b + TRAPPED]) throw new RangeError(`softmax-wasm: a worker's ${jobName(this.i32[b + FN])} trapped`);
    return this.f64[(b >> 1) + RESULT];
  }

  /**
   * Drops stopped workers from the pool (terminating them: one stuck rather than dead must not run on) and returns
   * the Error for the call that found them. Their control blocks and scratch stay taken: a stuck worker may still
   * write there before its termination lands.
   */
  private drop(stopped: { t: number; why: string }[]): Error {
    const before = this.size;
    const whys = stopped.map(({ t, why }) => `worker ${t + 1} of ${before - 1}: ${why}`);
    for (const w of stopped.map(({ t }) => this.workers[t])) {
      const t = this.workers.indexOf(w);
      this.workers.splice(t, 1);
      Atomics.store(this.i32, this.blocks[t] + REVOKED, 1); // it ends its loop at the next job it sees
      this.blocks.splice(t, 1);
      this.unseen.splice(t, 1);
      this.stops.delete(w);
      Promise.resolve(w.terminate()).catch(() => {}); // an exited worker's terminate() is a no-op
    }
    return new Error(`softmax-wasm: a worker of the thread pool stopped (${whys.join("; ")}); this call's results are ` +
      `not valid (a Network being trained may hold a partial step). Later calls run on the ${this.size} remaining ` +
      `thread${this.size === 1 ? "" : "s"}, with the same results as before, more slowly.`);
  }

  /** Y = act(X W + bias), split by rows of X and Y; the zero-skipping kernel where X is mostly zeros (`sparse`). */
  gemm_forward(x: number, w: number, bias: number, y: number, B: number, I: number, O: number, act: number,
    sparse = false): void {
    const fn = sparse ? "gemm_forward_sparse" : "gemm_forward";
    if (2 * B * I * O < MIN_FLOPS || B < 4) {
      this.k[fn](x, w, bias, y, B, I, O, act);
      return;
    }
    if (!sparse && B >= PACK_MIN_ROWS && I * O >= PACK_MIN_WEIGHTS) {
      // large dense layers: W packed into 16-column panels first (split by panels), then the rows
      const mark = this.e.mark();
      try {
        const panels = Math.ceil(O / 16);
        const packed = this.e.alloc(panels * I * 64);
        this.run("gemm_pack_b", split(panels, this.size, 1).map(([a, b]) => [w, packed, I, O, a, b]));
        this.run("gemm_forward_packed", split(B, this.size, 2).map(([a, b]) =>
          [x + a * I * 4, packed, bias, y + a * O * 4, b - a, I, O, act]));
      } finally {
        this.e.release(mark);
      }
      return;
    }
    this.run(fn, split(B, this.size, 2).map(([a, b]) => [x + a * I * 4, w, bias, y + a * O * 4, b - a, I, O, act]));
  }

  /**
   * The batch's rows gathered into X, then Y = act(X W + bias), as one job a thread split by rows: each thread gathers
   * the rows of X it then multiplies (the gather is element-wise: the same bits). Where gemm_forward would not split by
   * rows alone (too small, or W packed first), the gather runs here and then gemm_forward.
   */
  gather_forward(rows: Rows, x: number, w: number, bias: number, y: number, B: number, I: number, O: number, act: number,
    sparse = false): void {
    // dispatch.ts's gatherRows, spelled out (this module imports no other of ours at run time)
    const gather = (a: number, b: number): number[] => rows.scale === undefined
      ? [JOB_FNS.indexOf("gather_rows_f32"), 5, rows.src, rows.idx + a * 4, x + a * I * 4, b - a, I]
      : [JOB_FNS.indexOf("gather_rows_u8"), 6, rows.src, rows.idx + a * 4, x + a * I * 4, b - a, I, rows.scale];
    if (2 * B * I * O < MIN_FLOPS || B < 4 || (!sparse && B >= PACK_MIN_ROWS && I * O >= PACK_MIN_WEIGHTS)) {
      if (rows.scale === undefined) this.k.gather_rows_f32(rows.src, rows.idx, x, B, I);
      else this.k.gather_rows_u8(rows.src, rows.idx, x, B, I, rows.scale);
      this.gemm_forward(x, w, bias, y, B, I, O, act, sparse);
      return;
    }
    const fwd = JOB_FNS.indexOf(sparse ? "gemm_forward_sparse" : "gemm_forward");
    this.run("pair", split(B, this.size, 2).map(([a, b]) =>
      [...gather(a, b), fwd, 8, x + a * I * 4, w, bias, y + a * O * 4, b - a, I, O, act]));
  }

  /** dW (+)= X^T dY, split by rows of dW (input features), each summing over the whole batch. */
  gemm_dw(x: number, dy: number, dw: number, B: number, I: number, O: number, accumulate: number, sparse = false): void {
    if (2 * B * I * O < MIN_FLOPS || I < 4) {
      (sparse ? this.k.gemm_dw_sparse : this.k.gemm_dw)(x, dy, dw, B, I, O, accumulate);
      return;
    }
    this.run(sparse ? "gemm_dw_sparse_rows" : "gemm_dw_rows",
      split(I, this.size, 2).map(([a, b]) => [x, dy, dw, B, I, O, accumulate, a, b]));
  }

  /**
   * dX = dY W^T, split by rows of dY and dX: each thread packs its panels of W^T from W itself (gemm.ts), so there is
   * no serial transpose first.
   */
  gemm_dx(dy: number, w: number, dx: number, B: number, I: number, O: number): void {
    if (2 * B * I * O < MIN_FLOPS || B < 4) {
      this.k.gemm_dx(dy, w, dx, B, I, O);
      return;
    }
    this.run("gemm_dx", split(B, this.size, 2).map(([a, b]) => [dy + a * O * 4, w, dx + a * I * 4, b - a, I, O]));
  }

  /**
   * A dense layer's dW = X^T dY and dX = dY W^T as one job a thread: its rows of dW (input features) and then its rows
   * of dX (each packing its panels of W^T from W, as gemm_dx does: no serial transpose); separate calls when too small
   * to split.
   */
  gemm_dw_dx(x: number, dy: number, w: number, dw: number, dx: number, B: number, I: number, O: number,
    sparse = false): void {
    const features = split(I, this.size, 2), rows = split(B, this.size, 2);
    if (2 * B * I * O < MIN_FLOPS || features.length !== this.size || rows.length !== this.size) {
      this.gemm_dw(x, dy, dw, B, I, O, 0, sparse);
      this.gemm_dx(dy, w, dx, B, I, O);
      return;
    }
    const dwFn = JOB_FNS.indexOf(sparse ? "gemm_dw_sparse_rows" : "gemm_dw_rows"), dxFn = JOB_FNS.indexOf("gemm_dx");
    this.run("pair", features.map(([a, b], t) => {
      const [c, d] = rows[t];
      return [dwFn, 9, x, dy, dw, B, I, O, 0, a, b, dxFn, 6, dy + c * O * 4, w, dx + c * I * 4, d - c, I, O];
    }));
  }

  /**
   * dW = X^T dY and then an optimizer step over W from it as one job a thread: its rows of dW (input features), then
   * the step over the same rows of W (element-wise: the same bits as one call over all of W); rows start at multiples
   * of 16 weights, as the optimizers' own splits do. Separate calls when too small to split.
   */
  gemm_dw_step(x: number, dy: number, dw: number, B: number, I: number, O: number, sparse: boolean, step: ParamStep): void {
    const rows = split(I, this.size, Math.max(2, 16 / gcd(O, 16)));
    if (2 * B * I * O < MIN_FLOPS || rows.length !== this.size) {
      this.gemm_dw(x, dy, dw, B, I, O, 0, sparse);
      // dispatch.ts's paramStep on this pool's own steps: that module is not imported here at run time (a bundle
      // copies thread-worker.js and threads.js alone)
      const [p, [s1, s2], h] = [step.p, step.state, step.hyper];
      if (step.fn === "sgd_update") this.sgd_update(p, dw, s1, I * O, h[0], h[1], h[2], h[3]);
      else this.adam_update(p, dw, s1, s2, I * O, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
      return;
    }
    const dwFn = JOB_FNS.indexOf(sparse ? "gemm_dw_sparse_rows" : "gemm_dw_rows"), stepFn = JOB_FNS.indexOf(step.fn);
    this.run("pair", rows.map(([a, b]) => {
      const at = a * O * 4;
      const args = [step.p + at, dw + at, ...step.state.map((s) => s + at), (b - a) * O, ...step.hyper];
      return [dwFn, 9, x, dy, dw, B, I, O, 0, a, b, stepFn, args.length, ...args];
    }));
  }

  softmax_forward(x: number, y: number, rows: number, cols: number, scale: number): void {
    this.softmaxRows(false, x, y, rows, cols, scale);
  }

  log_softmax_forward(x: number, y: number, rows: number, cols: number, scale: number): void {
    this.softmaxRows(true, x, y, rows, cols, scale);
  }

  /** Softmax or log-softmax of rows, split by rows (narrow ones in multiples of 8), or fewer long rows each in segments. */
  private softmaxRows(log: boolean, x: number, y: number, rows: number, cols: number, scale: number): void {
    const fn = log ? "log_softmax_forward" : "softmax_forward";
    if (rows < this.size && cols >= MIN_ELEMS) {
      for (let r = 0; r < rows; r++) this.softmaxLongRow(log, x + r * cols * 4, y + r * cols * 4, cols, scale);
      return;
    }
    if (rows * cols < MIN_ELEMS || rows < 2) {
      this.k[fn](x, y, rows, cols, scale);
      return;
    }
    this.run(fn, split(rows, this.size, rowUnit(cols)).map(([a, b]) => [x + a * cols * 4, y + a * cols * 4, b - a, cols, scale]));
  }

  /** cross_entropy_index split by rows (narrow ones in multiples of 8); the total summed in row order as one call does. */
  cross_entropy_index(logits: number, labels: number, weight: number, grad: number, losses: number, rows: number,
    cols: number, ignoreIndex: number, smoothing: number, wsum: number, scale: number): number {
    if (rows < this.size && cols >= MIN_ELEMS) { // fewer long rows than threads: each row in segments
      let total = 0;
      for (let r = 0; r < rows; r++) {
        const o = r * cols * 4;
        total += this.crossEntropyLongRow(logits + o, labels + r * 4, weight, grad + o, losses === 0 ? 0 : losses + r * 4,
          cols, ignoreIndex, smoothing, wsum, scale);
      }
      return total;
    }
    if (rows * cols < MIN_ELEMS || rows < 2) {
      return this.k.cross_entropy_index(logits, labels, weight, grad, losses, rows, cols, ignoreIndex, smoothing, wsum, scale);
    }
    const parts = this.e.alloc(rows * 8); // inside the caller's mark, released with it
    const ranges = split(rows, this.size, rowUnit(cols));
    const counts = this.run("cross_entropy_index_parts", ranges.map(([a, b]) => {
      const o = a * cols * 4;
      return [logits + o, labels + a * 4, weight, grad + o, losses === 0 ? 0 : losses + a * 4, b - a, cols, ignoreIndex,
        smoothing, wsum, scale, parts + a * 8];
    }));
    const f = new Float64Array(this.e.memory.buffer, parts, rows);
    let total = 0;
    ranges.forEach(([a], t) => {
      for (let g = 0; g < counts[t]; g++) total += f[a + g];
    });
    return total;
  }

  /** cross_entropy_prob split by rows (fewer long rows than threads: in segments); losses added in row order. */
  cross_entropy_prob(logits: number, target: number, weight: number, grad: number, losses: number, rows: number,
    cols: number, smoothing: number, scale: number): number {
    if (rows < this.size && cols >= MIN_ELEMS) {
      let total = 0;
      for (let r = 0; r < rows; r++) {
        const o = r * cols * 4;
        total += this.crossEntropyProbLongRow(logits + o, target + o, weight, grad + o, losses === 0 ? 0 : losses + r * 4,
          cols, smoothing, scale);
      }
      return total;
    }
    if (rows * cols < MIN_ELEMS || rows < 2) {
      return this.k.cross_entropy_prob(logits, target, weight, grad, losses, rows, cols, smoothing, scale);
    }
    const parts = this.e.alloc(rows * 8); // inside the caller's mark, released with it
    this.run("cross_entropy_prob_parts", split(rows, this.size, 1).map(([a, b]) => {
      const o = a * cols * 4;
      return [logits + o, target + o, weight, grad + o, losses === 0 ? 0 : losses + a * 4, b - a, cols, smoothing, scale,
        parts + a * 8];
    }));
    return this.sumParts(parts, rows);
  }

  /**
   * bce_with_logits split at its block boundaries (`period` elements with pos weights, which then start every share on
   * a row, else the sum block); the block sums are added here in order, as the single call adds them.
   */
  bce_with_logits(logits: number, target: number, posWeight: number, period: number, grad: number, losses: number, n: number,
    scale: number): number {
    const step = posWeight === 0 ? this.block : period;
    const blocks = Math.ceil(n / step);
    if (n < MIN_ELEMS || blocks < 2) return this.k.bce_with_logits(logits, target, posWeight, period, grad, losses, n, scale);
    const parts = this.e.alloc(blocks * 8);
    this.run("bce_with_logits_parts", split(blocks, this.size, 1).map(([a, b]) => {
      const o = a * step * 4;
      return [logits + o, target + o, posWeight, period, grad + o, losses === 0 ? 0 : losses + o,
        Math.min(n, b * step) - a * step, scale, parts + a * 8];
    }));
    return this.sumParts(parts, blocks);
  }

  /** The quadratic cost split at sum-block boundaries; block sums added in order, then / (2 rows) as the single call. */
  quadratic_cost(a: number, y: number, grad: number, n: number, rows: number): number {
    const blocks = Math.ceil(n / this.block);
    if (n < MIN_ELEMS || blocks < 2) return this.k.quadratic_cost(a, y, grad, n, rows);
    const parts = this.e.alloc(blocks * 8);
    this.run("quadratic_cost_parts", split(blocks, this.size, 1).map(([s, t]) => {
      const o = s * this.block * 4;
      return [a + o, y + o, grad + o, Math.min(n, t * this.block) - s * this.block, rows, parts + s * 8];
    }));
    return this.sumParts(parts, blocks) / (2 * rows);
  }

  softmax_backward(y: number, dy: number, dx: number, rows: number, cols: number): void {
    this.backwardRows(false, y, dy, dx, rows, cols);
  }

  log_softmax_backward(logp: number, dy: number, dx: number, rows: number, cols: number): void {
    this.backwardRows(true, logp, dy, dx, rows, cols);
  }

  /** softmax_backward or log_softmax_backward, split by rows. */
  private backwardRows(log: boolean, y: number, dy: number, dx: number, rows: number, cols: number): void {
    const fn = log ? "log_softmax_backward" : "softmax_backward";
    if (rows * cols < MIN_ELEMS || rows < 2) {
      this.k[fn](y, dy, dx, rows, cols);
      return;
    }
    this.run(fn, split(rows, this.size, 1).map(([a, b]) => {
      const o = a * cols * 4;
      return [y + o, dy + o, dx + o, b - a, cols];
    }));
  }

  /** The inverse softmax, split by rows. */
  logits_from_probs(p: number, z: number, rows: number, cols: number): void {
    if (rows * cols < MIN_ELEMS || rows < 2) {
      this.k.logits_from_probs(p, z, rows, cols);
      return;
    }
    this.run("logits_from_probs", split(rows, this.size, 1).map(([a, b]) => [p + a * cols * 4, z + a * cols * 4, b - a, cols]));
  }

  /** The sigmoid of n elements, split in multiples of 4. */
  sigmoid_forward(x: number, y: number, n: number): void {
    if (n < MIN_ELEMS) {
      this.k.sigmoid_forward(x, y, n);
      return;
    }
    this.run("sigmoid_forward", split(n, this.size, 4).map(([a, b]) => [x + a * 4, y + a * 4, b - a]));
  }

  /**
   * One long row split into segments of whole sum blocks, in the single-thread kernel's three passes: the segments'
   * maxes (their max is the row's: max is exact in any order), their block sums (added here in order), the scaling.
   */
  private softmaxLongRow(log: boolean, x: number, y: number, n: number, scale: number): void {
    const { blocks, segments } = this.rowSegments(n);
    const job = (pass: number, max: number, sum: number, parts: number) => segments.map(([k, a, b]) =>
      [x + a * 4, y + a * 4, b - a, scale, log ? 1 : 0, pass, max, sum, parts === 0 ? 0 : parts + k * 8]);
    const max = maxOf(this.run("softmax_row_part", job(0, 0, 0, 0)));
    const parts = this.e.alloc(blocks * 8); // inside the caller's mark, released with it
    this.run("softmax_row_part", job(1, max, 0, parts));
    this.run("softmax_row_part", job(2, max, this.sumParts(parts, blocks), 0));
  }

  /**
   * One long row's cross-entropy split into segments of whole sum blocks, in the single-thread kernel's passes: the
   * segments' maxes, their blocks' smoothing terms and exp-sums (added here in order), the scaling and the loss.
   */
  private crossEntropyLongRow(z: number, label: number, weight: number, g: number, loss: number, n: number,
    ignoreIndex: number, smoothing: number, wsum: number, scale: number): number {
    const i32 = new Int32Array(this.e.memory.buffer);
    const f32 = new Float32Array(this.e.memory.buffer);
    const y = i32[label >>> 2];
    if (y === ignoreIndex) { // a zero gradient and loss: the kernel's own path
      return this.k.cross_entropy_index(z, label, weight, g, loss, 1, n, ignoreIndex, smoothing, wsum, scale);
    }
    const zy = f32[(z >>> 2) + y]; // read before pass 1 writes g, which may be z
    const wy = weight === 0 ? 1 : f32[(weight >>> 2) + y];
    const { blocks, segments } = this.rowSegments(n);
    const parts = this.e.alloc(blocks * 16); // inside the caller's mark, released with it
    const job = (pass: number, m: number, sum: number, d: number) => segments.map(([k, a, b]) =>
      [z + a * 4, g + a * 4, b - a, weight === 0 ? 0 : weight + a * 4, y - a, wy, n, smoothing, wsum, scale, pass, m,
        zy, sum, d, parts + k * 16]);
    const m = maxOf(this.run("cross_entropy_row_part", job(0, 0, 0, 0)));
    this.run("cross_entropy_row_part", job(1, m, 0, 0));
    const f = new Float64Array(this.e.memory.buffer, parts, blocks * 2);
    let d = 0;
    let sum = 0;
    for (let k = 0; k < blocks; k++) {
      d += f[2 * k];
      sum += f[2 * k + 1];
    }
    const total = this.run("cross_entropy_row_part", job(2, m, sum, d))[0];
    if (loss !== 0) f32[loss >>> 2] = total;
    return total;
  }

  /** One long row's cross-entropy against probabilities in segments, as crossEntropyLongRow. */
  private crossEntropyProbLongRow(z: number, q: number, weight: number, g: number, loss: number, n: number,
    smoothing: number, scale: number): number {
    const { blocks, segments } = this.rowSegments(n);
    const parts = this.e.alloc(blocks * 24); // inside the caller's mark, released with it
    const job = (pass: number, m: number, tsum: number, sum: number, d: number) => segments.map(([k, a, b]) =>
      [z + a * 4, q + a * 4, weight === 0 ? 0 : weight + a * 4, g + a * 4, b - a, n, smoothing, scale, pass, m, tsum,
        sum, d, parts + k * 24]);
    const m = maxOf(this.run("cross_entropy_prob_row_part", job(0, 0, 0, 0, 0)));
    this.run("cross_entropy_prob_row_part", job(1, m, 0, 0, 0));
    const f = new Float64Array(this.e.memory.buffer, parts, blocks * 3);
    let d = 0;
    let tsum = 0;
    let sum = 0;
    for (let k = 0; k < blocks; k++) {
      d += f[3 * k];
      tsum += f[3 * k + 1];
      sum += f[3 * k + 2];
    }
    const total = this.run("cross_entropy_prob_row_part", job(2, m, tsum, sum, d))[0];
    if (loss !== 0) new Float32Array(this.e.memory.buffer)[loss >>> 2] = total;
    return total;
  }

  /** A long row of n floats as segments [block index, start, end) of whole sum blocks, one a thread. */
  private rowSegments(n: number): { blocks: number; segments: number[][] } {
    const blocks = Math.ceil(n / this.block);
    return { blocks, segments: split(blocks, this.size, 1).map(([a, b]) => [a, a * this.block, Math.min(n, b * this.block)]) };
  }

  /** The sum, in order, of `count` f64 partial results at parts. */
  private sumParts(parts: number, count: number): number {
    const f = new Float64Array(this.e.memory.buffer, parts, count);
    let total = 0;
    for (let i = 0; i < count; i++) total += f[i];
    return total;
  }

  /**
   * sample_rows split by rows. Each share draws from its own copy of the generator, advanced past the rows before it
   * (two draws a sampled row, none when greedy or when only the distribution is asked for), with its own work area,
   * so every row draws what one thread would give it; the caller's state then ends where one thread's would.
   */
  sample_rows(x: number, rows: number, n: number, ids: number, probs: number, scale: number, k: number, p: number,
    minP: number, penalty: number, tokens: number, ntok: number, state: number, work: number): number {
    if (rows === 1 && n >= this.sampleRowMin && ids !== 0 && probs === 0 && ntok === 0 &&
      (scale === 0 || (k > 0 && k < n) || p < 1)) {
      return this.sampleRow(x, n, ids, scale, k, p, minP, state, work);
    }
    if (rows < 2 || rows * n < MIN_ELEMS) {
      return this.k.sample_rows(x, rows, n, ids, probs, scale, k, p, minP, penalty, tokens, ntok, state, work);
    }
    const draws = ids !== 0 && scale !== 0 ? 2 : 0;
    const stride = Math.ceil((this.k.sample_work_bytes(n) + 16) / 16) * 16;
    const ranges = split(rows, this.size, 1);
    const area = this.e.alloc(ranges.length * stride); // inside the caller's mark, released with it
    const bad = this.run("sample_rows", ranges.map(([a, b], t) => {
      const own = area + t * stride;
      this.e.move(state, own, 4); // the generator's 16 bytes
      this.k.rng_skip(own, draws * a);
      return [x + a * n * 4, b - a, n, ids === 0 ? 0 : ids + a * 4, probs === 0 ? 0 : probs + a * n * 4, scale, k, p,
        minP, penalty, tokens, ntok, own, own + 16];
    }));
    const first = bad.findIndex((r) => r >= 0);
    if (first >= 0) return ranges[first][0] + bad[first];
    this.k.rng_skip(state, draws * rows);
    return -1;
  }

  /**
   * augment_batch split by images. Image i's transform depends only on the i-th draw of the generator at s (it seeds
   * the image's own), so each share draws from a copy advanced past the images before it, with a work area of its own
   * (the caller's `work` for the first share); the caller's generator then ends where one thread's would.
   */
  augment_batch(s: number, x: number, work: number, B: number, W: number, H: number, shift: number, rotate: number,
    scale: number, alpha: number, sigma: number, r: number): void {
    if (B < 2) {
      this.k.augment_batch(s, x, work, B, W, H, shift, rotate, scale, alpha, sigma, r);
      return;
    }
    const mark = this.e.mark();
    try {
      const ranges = split(B, this.size, 1);
      const stride = Math.ceil((this.k.augment_work_floats(W, H, r) * 4 + 16) / 16) * 16;
      const area = this.e.alloc(ranges.length * stride);
      this.run("augment_batch", ranges.map(([a, b], t) => {
        const own = area + t * stride; // the generator's 16 bytes, then (shares after the first) the work area
        this.e.move(s, own, 4);
        this.k.rng_skip(own, a);
        return [own, x + a * W * H * 4, t === 0 ? work : own + 16, b - a, W, H, shift, rotate, scale, alpha, sigma, r];
      }));
      this.k.rng_skip(s, B);
    } finally {
      this.e.release(mark);
    }
  }

  /**
   * Logits from which one row's token splits by blocks. Measured on the 2-core machine of this session (loaded), one
   * row of 128,256 runs in 10-250 µs on one thread while waking the workers for a split took milliseconds, so it does
   * not pay there: 2^21, past every vocabulary in use. @internal (tests lower it to run the split on real widths)
   */
  sampleRowMin = 1 << 21;

  /**
   * One long row's token split by blocks (greedy, top-k, or top-p without top-k), bit-identical to one thread: each
   * block's argmax, or top-k candidates, or (after the max) approximate mass and top-p gather runs on its own thread
   * and work area (sample_row_part), merged here in block order; sample_row_finish then draws on this thread with the
   * caller's generator, as sample_rows would (the row runs whole if top-p's bound cannot settle the cut there).
   * Returns -1, or 0 for a refused row.
   */
  private sampleRow(x: number, n: number, ids: number, scale: number, k: number, p: number, minP: number, state: number,
    work: number): number {
    const ranges = split(n, this.size, 16);
    const stride = Math.ceil((this.k.sample_work_bytes(ranges[0][1] - ranges[0][0]) + 16) / 16) * 16;
    const area = this.e.alloc(ranges.length * stride); // inside the caller's mark, released with it
    const part = (mode: number, m: number): number[] => this.run("sample_row_part", ranges.map(([a, b], t) =>
      [x + a * 4, b - a, mode, m, scale, k, area + t * stride, area + t * stride + 16]));
    const topk = scale !== 0 && k > 0 && k < n;
    let m = 0;
    let za = 0;
    let got: number[];
    if (!topk) { // greedy, or top-p's max: the first block holding the row's max
      got = part(0, 0);
      const f32 = new Float32Array(this.e.memory.buffer);
      let at = -1;
      m = -Infinity;
      for (let t = 0; t < ranges.length; t++) {
        if (got[t] < 0) return 0;
        const v = f32[(area + t * stride) >>> 2];
        if (at < 0 || v > m) [m, at] = [v, ranges[t][0] + got[t]];
      }
      if (!(m > -Infinity && m < Infinity)) return 0;
      if (scale === 0) {
        new Int32Array(this.e.memory.buffer)[ids >>> 2] = at;
        return -1;
      }
      got = part(2, m);
      const f64 = new Float64Array(this.e.memory.buffer);
      for (let t = 0; t < ranges.length; t++) za += f64[(area + t * stride) >>> 3];
    } else {
      got = part(1, 0);
      if (got.some((c) => c < 0)) return 0;
    }
    // the blocks' candidates in index order at the start of work
    const i32 = new Int32Array(this.e.memory.buffer);
    let c = 0;
    for (let t = 0; t < ranges.length; t++) {
      const from = (area + t * stride + 16) >>> 2, a = ranges[t][0];
      for (let j = 0; j < got[t]; j++) i32[(work >>> 2) + c++] = i32[from + j] + a;
    }
    const r = this.k.sample_row_finish(x, n, topk ? 1 : 2, m, za, c, ids, 0, scale, k, p, minP, state, work);
    if (r === 1) return this.k.sample_rows(x, 1, n, ids, 0, scale, k, p, minP, 1, 0, 0, state, work);
    return r === 2 ? 0 : -1;
  }

  /** An SGD step over n parameters (element-wise), split in multiples of 16. */
  sgd_update(p: number, g: number, buf: number, n: number, lr: number, momentum: number, nesterov: number, wd: number): void {
    if (n < MIN_ELEMS * 2) {
      this.k.sgd_update(p, g, buf, n, lr, momentum, nesterov, wd);
      return;
    }
    this.run("sgd_update", split(n, this.size, 16).map(([a, b]) =>
      [p + a * 4, g + a * 4, buf + a * 4, b - a, lr, momentum, nesterov, wd]));
  }

  /** An Adam / AdamW step over n parameters (element-wise), split in multiples of 16. */
  adam_update(p: number, g: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number, eps: number,
    wd: number, decoupled: number, bc1: number, bc2: number): void {
    if (n < MIN_ELEMS * 2) {
      this.k.adam_update(p, g, m, v, n, lr, beta1, beta2, eps, wd, decoupled, bc1, bc2);
      return;
    }
    this.run("adam_update", split(n, this.size, 16).map(([a, b]) =>
      [p + a * 4, g + a * 4, m + a * 4, v + a * 4, b - a, lr, beta1, beta2, eps, wd, decoupled, bc1, bc2]));
  }

  /** Stops the workers; later calls run on the calling thread alone. */
  close(): void {
    for (const w of this.workers.splice(0)) w.terminate();
    this.blocks.length = 0;
    this.unseen.length = 0;
    this.stops.clear();
  }
}

/** The largest of the segments' maxes, the row's (rmax ignores NaN, so a NaN never wins here either). */
function maxOf(maxes: number[]): number {
  let m = -Infinity;
  for (const v of maxes) if (v > m) m = v;
  return m;
}

/** Whether this thread may block in Atomics.wait (not a browser's main thread). */
function mayBlock(i32: Int32Array): boolean {
  try {
    Atomics.wait(i32, 0, i32[0] + 1, 0); // a value that does not match: returns "not-equal" at once where allowed
    return true;
  } catch {
    return false;
  }
}

/** Why threads cannot run here, or undefined when they can (shared memory, and cross-origin isolation in a page). */
export function threadsUnavailable(): string | undefined {
  if (typeof SharedArrayBuffer === "undefined") {
    return "SharedArrayBuffer is unavailable (a browser page needs cross-origin isolation: the COOP and COEP headers)";
  }
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) {
    return "the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and " +
      "Cross-Origin-Embedder-Policy: require-corp)";
  }
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    return "this engine cannot make a shared WebAssembly.Memory";
  }
  return undefined;
}

/**
 * Runs a training step's kernels a few times on small data (in scratch, released), so that V8's dynamic tiering
 * compiles them with TurboFan now: the code is the module's, shared by every thread. Without it the compiles (20-80
 * ms of a core, measured with --trace-wasm-compilation-times: the GEMMs' inner functions take 11-33 ms each) land in
 * the first batches of the first epoch, where on a 2-core machine they take a core from the caller or a worker that
 * the other then waits for, while the kernels run as Liftoff code meanwhile. 32 calls each tier up nearly all
 * (about 15 ms here).
 */
function warmKernels(e: Engine): void {
  const k = e.k as ThreadKernels;
  const [B, I, O] = [16, 128, 64];
  const mark = e.mark();
  try {
    const f = (n: number) => e.alloc(n * 4);
    const x = f(B * I), w = f(I * O), b = f(O), y = f(B * O), dy = f(B * O), dw = f(I * O), dx = f(B * I);
    const m = f(I * O), v = f(I * O), packed = f(I * O * 2), labels = f(B), idx = f(B), src = f(B * I);
    new Int32Array(e.memory.buffer, idx, B).forEach((_, i, a) => (a[i] = B - 1 - i)); // not in order, as a shuffled batch
    new Int32Array(e.memory.buffer, labels, B).forEach((_, i, a) => (a[i] = i % 10));
    new Float32Array(e.memory.buffer, x, B * I).fill(0.5);
    for (let i = 0; i < 32; i++) {
      k.gather_rows_u8(src, idx, w, B, 4 * I, 1 / 255); // rows of 512 pixels (over 128 its loop did not tier up)
      k.gather_rows_f32(src, idx, x, B, I);
      k.gemm_forward(x, w, b, y, B, I, O, e.act.relu);
      k.gemm_forward_sparse(x, w, b, y, B, I, O, e.act.relu);
      k.gemm_pack_b(w, packed, I, O, 0, O / 16);
      k.gemm_forward_packed(x, packed, b, y, B, I, O, e.act.relu);
      k.cross_entropy_index(y, labels, 0, dy, 0, B, O, -100, 0, O, 1 / B);
      k.cross_entropy_index(y, labels, 0, dy, 0, B * 4, 10, -100, 0, 10, 1 / B); // narrow rows (MNIST's 10 classes)
      k.count_correct(y, labels, B, O);
      k.activation_backward(w, dw, dw, I * O, e.act.relu); // over 8192: its small loop tiers up within 32 calls
      k.bias_grad(dy, b, B, O, 0);
      k.gemm_dw_rows(x, dy, dw, B, I, O, 0, 0, I);
      k.gemm_dw_sparse_rows(x, dy, dw, B, I, O, 0, 0, I);
      k.gemm_dx(dy, w, dx, B, I, O);
      k.sgd_update(w, dw, m, I * O, 0, 0.9, 0, 0);
      k.adam_update(w, dw, m, v, I * O, 0, 0.9, 0.999, 1e-8, 0, 0, 0.1, 0.001);
    }
  } finally {
    e.release(mark);
  }
}

/**
 * Starts the pool on an engine made by Engine.createShared: n - 1 workers, each with a control block and a scratch
 * area taken from the arena as long-lived blocks.
 */
export async function startPool(e: Engine, module: WasmModule, n: number, spawn: SpawnWorker): Promise<Pool> {
  const k = e.k as ThreadKernels;
  warmKernels(e); // V8 compiles them with TurboFan in the background while the workers start
  const workers = n - 1;
  const ctrl = e.allocBlock(workers * CTRL_BYTES);
  new Uint8Array(e.memory.buffer, ctrl, workers * CTRL_BYTES).fill(0);
  const sb = k.scratch_bytes();
  const handles: WorkerHandle[] = [];
  try {
    for (let t = 0; t < workers; t++) {
      const scratch = e.allocBlock(sb);
      handles.push(await spawn({ module, memory: e.memory, ctrl: ctrl + t * CTRL_BYTES, scratch }));
    }
  } catch (err) {
    for (const h of handles) h.terminate();
    throw err;
  }
  return new Pool(e, handles, ctrl);
}
