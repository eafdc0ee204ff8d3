// The calling thread's side of the pool's jobs (threads.ts has the protocol and the worker's loop): posting a job to
// each worker, running the caller's own share and then any share no worker has claimed yet, waiting for the claimed
// ones, and dropping a worker found stopped. pool.ts builds each kernel's shares on it.
import type { Engine } from "./engine.js";
import {
  ARGS, callJob, CLAIM, CTRL_BYTES, DONE, FN, JOB_FNS, jobName, MAX_ARGS, MESSAGE, NARGS, PAIR, RESULT, REVOKED, SEEN,
  SEQ, SLEEPING, STOPPED, TRAPPED, type JobFn, type ThreadKernels, type WorkerHandle,
} from "./threads.js";

/** Atomics.load polls the calling thread makes before it sleeps in Atomics.wait for a claimed share (tens of µs). */
const SPIN = 1 << 15;
/**
 * The caller notifies a sleeping worker for a share of WAKE_MIN_MS or more, and for a shorter one at most every
 * Pool.wakeEveryMs: the notify costs the caller 8-33 µs on this 2-core VM when the other core is free and 100-250 µs
 * under load (the woken thread takes the caller's core), more than a share of 784-128-10 (75-170 µs), which the caller
 * runs itself when the worker has not woken in time. The first small job after a pause still wakes the worker.
 */
const WAKE_MIN_MS = 0.25;

/**
 * How long a posted job may go unseen by its worker before the pool takes the worker for stopped. A live worker sees
 * a job within microseconds when spinning, tens of microseconds from a futex wake, and later only when no core is
 * free: measured on a 2-core machine already running two busy processes (1,200 wakes each), 8 ms at most; with 6
 * more busy threads in other sessions, 0.23 s; with 6 or 12 in the caller's own session (one scheduling group), 0.4
 * to 1.2 s. A false stop costs a thread, so the bound is 4x the worst seen. The caller runs an unclaimed share itself
 * (results never wait for a worker that is late or dead), so the bound is checked when a call starts. It counts from
 * when the worker was asked to look: a post it was awake for (SLEEPING clear) or that notified it. A small share
 * posted to a sleeping worker without a notify (wakeEveryMs) asks nothing: the worker sleeps on, rightly, until a
 * later notify, however long the library then pauses.
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

/**
 * A call that waited for a claimed share longer than the caller took for its own (equal) share, and LATE_MIN_MS, lost
 * to running every share on the calling thread: the worker ran at under half the caller's speed, which on a machine
 * with more busy threads than cores means it was descheduled after it claimed the job (a steal cannot take a claimed
 * share). Measured on this 2-core VM at load 5-7: the caller stole 96% of 784-128-10's shares, yet an epoch took
 * 0.72-0.98 s on 2 threads against 0.43-0.66 s on 1, about 2 ms of waiting for each share a worker had claimed. Two
 * late calls close together (LATE_SCORE) make the pool run calls whole on the calling thread for a back-off,
 * BACKOFF_MIN_MS doubling while the workers stay late, up to BACKOFF_MAX_MS; a call on time halves it again. The same
 * kernels run on the same shares either way: the bits do not change.
 */
const LATE_MIN_MS = 0.05;
/** A late call adds 1 to the pool's late score and every claimed call halves it first; at LATE_SCORE it backs off. */
const LATE_SCORE = 1.5;
const BACKOFF_MIN_MS = 20, BACKOFF_MAX_MS = 1000;

/** A worker found stopped during a call, and why. */
class Stopped extends Error {}

/** Whether this thread may block in Atomics.wait (not a browser's main thread). */
function mayBlock(i32: Int32Array): boolean {
  try {
    Atomics.wait(i32, 0, i32[0] + 1, 0); // a value that does not match: returns "not-equal" at once where allowed
    return true;
  } catch {
    return false;
  }
}

/**
 * The pool's workers and their control blocks, as the calling thread sees them: run() posts one share of a job to each
 * worker, runs its own, then the unclaimed ones, and waits for the rest. Pool (pool.ts) adds each kernel's split.
 */
export class JobPool {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly canWait: boolean;
  /** Elements per block of the kernels' long f64 sums (assembly/vec.ts BLOCK). */
  protected readonly block: number;
  /** The live workers; worker t's control block starts at i32 index blocks[t]. */
  private readonly workers: WorkerHandle[];
  private readonly blocks: number[];
  /** Workers whose 'exit' or 'error' event came between calls, and why: the next call drops them and throws. */
  private readonly stops = new Map<WorkerHandle, string>();
  /** This thread's share of the last call of each job function (by index), ms. */
  private readonly shareMs = new Map<number, number>();
  /**
   * Shares posted to workers, the posts that notified a sleeping worker, the shares the caller ran itself; calls run
   * whole on the calling thread while backing off from late workers, and the back-offs.
   */
  readonly counts = { posted: 0, woken: 0, stolen: 0, serial: 0, backoffs: 0 };
  /** Calls run whole on this thread until then (performance.now()): the workers came late (LATE_MIN_MS). */
  private serialUntil = 0;
  /** The next back-off, ms. @internal (tests set it) */
  backoffMs = BACKOFF_MIN_MS;
  /** Whether late calls make the pool back off. @internal (tests that count posts turn it off) */
  backoff = true;
  /** Late calls lately, halved at each claimed call (LATE_SCORE). */
  private lateScore = 0;
  /** Whether the next call that wakes a worker goes unscored: the first after a back-off. */
  private grace = false;
  /** When each worker was last notified (performance.now()). */
  private readonly woken: number[] = [];
  /**
   * A sleeping worker is notified for a share shorter than WAKE_MIN_MS at most this often, ms (the caller runs the
   * share itself meanwhile). @internal (tests raise it)
   */
  wakeEveryMs = 10;
  /**
   * Per worker, the first job it was asked to look at (post) that was stolen from it before it looked (SEEN), and when
   * it was posted.
   */
  private readonly unseen: ({ seq: number; posted: number } | undefined)[] = [];
  /** Per worker, whether it was asked to look at its last job (post: awake, or notified), read by steal and wait. */
  private readonly asked: boolean[] = [];

  constructor(protected readonly e: Engine, workers: WorkerHandle[], ctrl: number) {
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

  protected get k(): ThreadKernels {
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
    if (posted < this.serialUntil) { // backing off from late workers: every share here, as one thread runs them
      this.counts.serial++;
      return jobs.map((args) => callJob(own, index, args));
    }
    // a share as long as WAKE_MIN_MS (this job function's last one here, or one not seen yet) wakes a sleeping worker
    const wake = !(this.shareMs.get(index)! < WAKE_MIN_MS);
    const woken = this.counts.woken;
    const seqs: number[] = [];
    for (let t = 1; t < jobs.length; t++) seqs.push(this.post(t - 1, index, jobs[t], wake));
    const results: number[] = new Array(jobs.length);
    let error: unknown;
    const started = performance.now(); // posting took started - posted (a notify under load: up to milliseconds)
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
    const waitFrom = performance.now();
    let claimed = false;
    for (let t = 1; t < jobs.length; t++) { // every claimed share is waited for, even after a trap
      if (stolen[t]) continue;
      claimed = true;
      try {
        results[t] = this.wait(t - 1, seqs[t - 1], posted, deadline);
      } catch (err) {
        if (err instanceof Stopped) stopped.push({ t: t - 1, why: err.message });
        else error ??= err;
      }
    }
    this.noteCall(started - posted + performance.now() - waitFrom, this.shareMs.get(index)!, claimed,
      this.counts.woken !== woken);
    if (stopped.length > 0) throw this.drop(stopped);
    if (error !== undefined) throw error;
    return results;
  }

  /**
   * Scores a call that spent `lost` ms posting its shares and waiting for the claimed ones (`claimed`: any) besides its
   * own share of `ownMs`, and backs off at LATE_SCORE. A call whose shares were all stolen cheaply says nothing. The
   * first call after a back-off that wakes a sleeping worker (`notified`) says nothing either: the worker slept through
   * the back-off, and its wake would otherwise prolong the back-off on an idle machine too. (Counting every wake at
   * half weight instead measured no better than no back-off at load 2-2.5: most of a busy machine's loss is wakes.)
   */
  private noteCall(lost: number, ownMs: number, claimed: boolean, notified = false): void {
    const late = lost > Math.max(ownMs, LATE_MIN_MS);
    if (!this.backoff || (!late && !claimed)) return;
    if (notified && this.grace) {
      this.grace = false;
      return;
    }
    this.lateScore = this.lateScore / 2 + (late ? 1 : 0);
    if (!late) {
      this.backoffMs = Math.max(BACKOFF_MIN_MS, this.backoffMs / 2);
    } else if (this.lateScore >= LATE_SCORE) {
      this.serialUntil = performance.now() + this.backoffMs;
      this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs * 2);
      this.lateScore = 0;
      this.grace = true;
      this.counts.backoffs++;
    }
  }

  /**
   * Posts a job to worker w; a sleeping worker is notified if `wake` (the share is large enough) or if it was last
   * notified wakeEveryMs ago or more. Returns the job's sequence number for wait(); notes whether the worker was asked
   * to look at it (asked[w]: awake, or notified): a sleeping worker not notified looks only once a later notify wakes it.
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
    const asleep = Atomics.load(this.i32, b + SLEEPING) !== 0;
    this.asked[w] = !asleep || wake || !(performance.now() - this.woken[w] < this.wakeEveryMs);
    if (asleep && this.asked[w]) this.notify(w);
    return seq;
  }

  /** Wakes worker w, asleep on its SEQ word (or about to be: then its wait sees the new SEQ and returns at once). */
  private notify(w: number): void {
    this.woken[w] = performance.now();
    this.counts.woken++;
    Atomics.notify(this.i32, this.blocks[w] + SEQ);
  }

  /**
   * Takes worker w's job `seq` for this thread if the worker has not claimed it (whichever compare-exchange lands
   * first decides); a worker asked to look at it (post) that then does not look within CLAIM_MS is taken for stopped.
   */
  private steal(w: number, seq: number, posted: number): boolean {
    const b = this.blocks[w];
    if (Atomics.compareExchange(this.i32, b + CLAIM, (seq - 1) | 0, seq) !== ((seq - 1) | 0)) return false;
    if (this.asked[w]) this.unseen[w] ??= { seq, posted };
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
   * Waits for worker w to finish job `seq` (posted at `posted`, by performance.now()); returns its result. A worker not
   * asked to look at the job (asleep, not notified: post) is notified now. Throws Stopped when the worker's loop
   * failed, when it has not claimed the job within CLAIM_MS of being asked (the job is revoked: only after a trap on
   * this thread, when no share is stolen), or when its claimed job is still running at `deadline` ms after posting.
   */
  private wait(w: number, seq: number, posted: number, deadline: number): number {
    const b = this.blocks[w];
    const asked = this.asked[w];
    if (!asked && Atomics.load(this.i32, b + SLEEPING) !== 0) this.notify(w);
    const askedAt = asked ? posted : performance.now();
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
      const now = performance.now(), waited = now - posted;
      if (!claimed) {
        claimed = Atomics.load(this.i32, b + CLAIM) === seq;
        if (!claimed && now - askedAt > CLAIM_MS) {
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
      for (const perWorker of [this.blocks, this.unseen, this.asked, this.woken]) perWorker.splice(t, 1);
      this.stops.delete(w);
      Promise.resolve(w.terminate()).catch(() => {}); // an exited worker's terminate() is a no-op
    }
    return new Error(`softmax-wasm: a worker of the thread pool stopped (${whys.join("; ")}); this call's results are ` +
      `not valid (a Network being trained may hold a partial step). Later calls run on the ${this.size} remaining ` +
      `thread${this.size === 1 ? "" : "s"}, with the same results as before, more slowly.`);
  }

  /** Stops the workers; later calls run on the calling thread alone. */
  close(): void {
    for (const w of this.workers.splice(0)) w.terminate();
    for (const perWorker of [this.blocks, this.unseen, this.asked, this.woken]) perWorker.length = 0;
    this.stops.clear();
  }
}
