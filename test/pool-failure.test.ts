// A worker of ready({ threads: n })'s pool that stops (terminated, crashed mid-job, its job loop failed, or waking too
// late) fails the call that finds it with a clear Error within a bounded time, never a hang; the pool drops it and
// goes on with the remaining threads, whose results keep the default build's bits; a live worker asleep through a share
// it was not woken for is never taken for stopped. Workers run in this process (node:worker_threads), each library
// copy loaded fresh (vi.resetModules) beside a default-build copy for reference.
import { Worker } from "node:worker_threads";
import { readFile } from "node:fs/promises";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { floats } from "./runtimes/workload.js";
import { networkDigests, parallelDigests } from "./runtimes/threads-workload.js";
import type { WorkerHandle, WorkerInit } from "../src/threads.js";

type Lib = typeof import("../dist/index.js");
/** The pool's members a test reaches (private in TypeScript). */
interface PoolInside {
  workers: Worker[];
  size: number;
  backoff: boolean;
  wakeEveryMs: number;
  counts: { posted: number; woken: number; stolen: number };
  /** This thread's share of the last call of each job function (by index in JOB_FNS), ms. */
  shareMs: Map<number, number>;
  i32: Int32Array;
  blocks: number[];
  run(fn: string, jobs: number[][]): number[];
  softmax_forward(x: number, y: number, rows: number, cols: number, scale: number): void;
  close(): void;
}

const CLAIM_MS = 5000, DEADLINE_MS = 10_000;
const SEQ = 0, SLEEPING = 72, SEEN = 73; // control block slots (threads.ts)
const STOPPED = /^softmax-wasm: a worker of the thread pool stopped \(worker (\d) of (\d): (.*)\); this call's results are not valid \(a Network being trained may hold a partial step\)\. Later calls run on the (\d) remaining threads?, with the same results as before, more slowly\.$/;

/** A fresh copy of the library after `ready(opts)`, and its pool when it has one. */
async function load(opts?: { threads: number }): Promise<{ lib: Lib; pool: PoolInside }> {
  vi.resetModules();
  const lib = await import("../dist/index.js");
  const { engine } = await import("../dist/engine.js");
  await lib.ready(opts);
  return { lib, pool: engine("test").pool as unknown as PoolInside };
}

/** What `f` throws, and after how many ms. */
function caught(f: () => unknown): { error: Error; ms: number } {
  const t = performance.now();
  try {
    f();
  } catch (error) {
    return { error: error as Error, ms: performance.now() - t };
  }
  throw new Error("expected a throw");
}

/** Calls `f` back to back (no turn of the event loop) until it throws: the error, ms since the first call, calls before. */
function untilThrow(f: () => unknown, limitMs = 20_000): { error: Error; ms: number; calls: number } {
  const t = performance.now();
  for (let calls = 0; performance.now() - t < limitMs; calls++) {
    try {
      f();
    } catch (error) {
      return { error: error as Error, ms: performance.now() - t, calls };
    }
  }
  throw new Error(`expected a throw within ${limitMs} ms`);
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const sameBits = (a: Uint32Array, b: Uint32Array) => a.length === b.length && a.every((v, i) => v === b[i]);
const X = floats(64 * 1000, 8, 7); // 64 rows of 1000: the pool's parallel softmax path

let ref: Lib;
let images: Uint8Array, labels: Uint8Array;
let refParallel: Record<string, string>, refNetwork: Record<string, string>;
const pools: PoolInside[] = [];

beforeAll(async () => {
  ref = (await load()).lib; // the default single-threaded build
  expect(ref.wasmBuild()).toBe("simd");
  const { train } = await ref.loadMnist();
  images = train.images;
  labels = train.labels;
  refParallel = await parallelDigests(ref);
  refNetwork = await networkDigests(ref, images, labels);
}, 60_000);

afterEach(() => {
  for (const p of pools.splice(0)) p.close();
});

async function threaded(n: number) {
  const got = await load({ threads: n });
  expect(got.pool.size).toBe(n);
  got.pool.backoff = false; // these tests time stops and claims: a back-off from a late worker would post nothing
  pools.push(got.pool);
  return got;
}

describe("a stopped worker of the thread pool", () => {
  it("terminated before the next call: its shares run on the calling thread with the default bits until a call past the claim bound throws", async () => {
    const { lib, pool } = await threaded(3);
    expect(bits(lib.softmax(X, 1000))).toEqual(bits(ref.softmax(X, 1000)));
    void pool.workers[0].terminate(); // no turn of the event loop before the throw: only shared memory can tell
    const want = bits(ref.softmax(X, 1000));
    let differ = 0;
    const { error, ms, calls } = untilThrow(() => { differ += sameBits(bits(lib.softmax(X, 1000)), want) ? 0 : 1; });
    const m = STOPPED.exec(error.message);
    expect(m, error.message).not.toBeNull();
    expect(m!.slice(1, 3)).toEqual(["1", "2"]);
    // never looked at a job again (it stopped asleep or spinning) or, if it woke to one as it was terminated, claimed
    // it and never finished
    expect(m![3]).toMatch(/^it did not take its job within 5 s$|^its share of softmax_forward ran \d+\.\d s, past the deadline of 10 s \+ 50x the calling thread's share$/);
    expect(ms).toBeGreaterThanOrEqual(CLAIM_MS);
    expect(ms).toBeLessThan((m![3].startsWith("it did") ? CLAIM_MS : DEADLINE_MS) + 2000);
    expect(calls).toBeGreaterThan(10);
    expect(differ).toBe(0); // the calls before it ran the dead worker's share here, with the right bits
    expect(m![4]).toBe("2");
    expect(pool.size).toBe(2);
    expect(bits(lib.softmax(X, 1000))).toEqual(bits(ref.softmax(X, 1000)));
    expect(await parallelDigests(lib)).toEqual(refParallel);
  }, 60_000);

  it("whose exit event came between calls: the next call (a Network.fit) throws at once, naming the exit code", async () => {
    const { lib, pool } = await threaded(3);
    const w = pool.workers[1];
    const exited = new Promise((resolve) => w.once("exit", resolve));
    void w.terminate();
    expect(await exited).toBe(1);
    const net = new lib.Network({ sizes: [784, 128, 64, 10], seed: 3 });
    const t = performance.now();
    const fit = net.fit(images.subarray(0, 128 * 784), labels.subarray(0, 128), { epochs: 1, batchSize: 64 });
    await expect(fit).rejects.toThrow(STOPPED);
    await expect(fit).rejects.toThrow("(worker 2 of 2: it exited with code 1)");
    expect(performance.now() - t).toBeLessThan(1000);
    net.dispose();
    expect(pool.size).toBe(2);
    expect(await networkDigests(lib, images, labels)).toEqual(refNetwork);
  }, 60_000);

  it("is found before anything is computed when a listener saw it: the outputs are left as they were", async () => {
    const { lib, pool } = await threaded(2);
    const w = pool.workers[0];
    const exited = new Promise((resolve) => w.once("exit", resolve));
    void w.terminate();
    await exited;
    const out = new Float32Array(X.length).fill(7);
    expect(() => lib.softmax(X, 1000, { out })).toThrow("(worker 1 of 1: it exited with code 1); this call's results " +
      "are not valid (a Network being trained may hold a partial step). Later calls run on the 1 remaining thread,");
    expect(out.every((v) => v === 7)).toBe(true);
    expect(pool.size).toBe(1);
    expect(bits(lib.softmax(X, 1000, { out }))).toEqual(bits(ref.softmax(X, 1000)));
  });

  it("whose job loop throws: the worker says so in shared memory and the call throws its message at once", async () => {
    const { lib, pool } = await threaded(3);
    // a job naming no kernel: the worker's loop throws (this thread's own share fails too; the stop is the error)
    const { error, ms } = caught(() => pool.run("no_such_kernel", [[], [], []]));
    expect(error.message).toMatch(STOPPED);
    expect(error.message).toContain("(worker 1 of 2: its job loop failed: RangeError: softmax-wasm: a thread worker got " +
      "the unknown job function -1; worker 2 of 2: its job loop failed: RangeError: softmax-wasm: a thread worker got " +
      "the unknown job function -1)");
    expect(ms).toBeLessThan(1000);
    expect(pool.size).toBe(1);
    expect(await parallelDigests(lib)).toEqual(refParallel);
  });

  it("sleeps while idle, before and after a stop (no spinning thread)", async () => {
    const { lib, pool } = await threaded(3);
    const idle = async () => {
      await new Promise((r) => setTimeout(r, 200)); // past the workers' spin
      const before = process.cpuUsage(); // every thread of this process
      await new Promise((r) => setTimeout(r, 500));
      const used = process.cpuUsage(before);
      return (used.user + used.system) / 1000;
    };
    lib.softmax(X, 1000);
    expect(await idle()).toBeLessThan(100); // two spinning workers would take ~1000 ms of CPU
    const w = pool.workers[0];
    const exited = new Promise((resolve) => w.once("exit", resolve));
    void w.terminate();
    await exited;
    expect(() => lib.softmax(X, 1000)).toThrow(STOPPED);
    lib.softmax(X, 1000);
    expect(pool.size).toBe(2);
    expect(await idle()).toBeLessThan(100);
  });
});

// Workers that fail on cue: the library's own workerMain in a worker started here, with a kernel that ends the thread
// mid-job (process.exit), an Atomics.wait that wakes 6 s late, or a stall just after starting; a pool of them made by
// startPool as ready() makes one.
const WORKER = `
const { workerData, parentPort } = require("node:worker_threads");
const { mode, threadsUrl, ...init } = workerData;
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async (module, imports) => {
  const exports = { ...(await instantiate(module, imports)).exports };
  if (mode === "exit") exports.softmax_forward = () => process.exit(7);
  return { exports };
};
if (mode === "late") {
  const wait = Atomics.wait;
  let late = true;
  Atomics.wait = (...args) => {
    const r = wait(...args);
    if (late) { late = false; wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 6000); }
    return r;
  };
}
// "slow": stalls 300 ms just after saying it started, as a thread may be descheduled there
const stall = () => { if (mode === "slow") Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300); };
import(threadsUrl).then(({ workerMain }) => workerMain(init, () => { parentPort.postMessage("started"); stall(); }));
`;

async function cuedPool(modes: string[], handle: (w: Worker) => WorkerHandle = (w) => w) {
  vi.resetModules();
  const { Engine } = await import("../dist/engine.js");
  const { startPool } = await import("../dist/pool-start.js");
  const module = await WebAssembly.compile(await readFile(new URL("../dist/softmax-threads.wasm", import.meta.url)));
  const e = await Engine.createShared(module);
  const threadsUrl = new URL("../dist/threads.js", import.meta.url).href;
  const workers: Worker[] = [];
  const pool = await startPool(e, module, modes.length + 1, async (init: WorkerInit) => {
    const w = new Worker(WORKER, { eval: true, workerData: { ...init, mode: modes[workers.length], threadsUrl } });
    workers.push(w);
    w.unref();
    await new Promise((resolve, reject) => {
      w.once("message", resolve);
      w.once("error", reject);
    });
    return handle(w);
  }) as unknown as PoolInside;
  pool.backoff = false; // as in threaded()
  pools.push(pool);
  const rows = 64, cols = 1000;
  const x = e.put(X), y = e.put(new Float32Array(rows * cols).fill(7));
  return {
    pool, workers, e, x, y: () => e.f32(y, rows * cols).slice(), yAt: y,
    softmax: () => pool.softmax_forward(x, y, rows, cols, 1),
  };
}

/** Resolves once every worker of `pool` sleeps, having looked at its last job (polled every ms). */
async function asleep(pool: PoolInside): Promise<void> {
  const slot = (t: number, at: number) => Atomics.load(pool.i32, pool.blocks[t] + at);
  const awake = () => pool.blocks.some((_, t) => slot(t, SLEEPING) !== 1 || slot(t, SEEN) !== slot(t, SEQ));
  for (const t0 = Date.now(); awake();) {
    if (Date.now() - t0 > 10_000) throw new Error("a worker never went to sleep");
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe("a worker of the thread pool that stops mid-job or wakes too late", () => {
  it("stalled just after it started is still live: a job posted the moment the pool is ready is taken", async () => {
    const { pool, softmax, y } = await cuedPool(["plain", "slow"]);
    const t = performance.now();
    softmax();
    expect(performance.now() - t).toBeLessThan(2000);
    expect(pool.size).toBe(3);
    expect(bits(y())).toEqual(bits(ref.softmax(X, 1000)));
  });

  it("ended in the middle of its share: the call throws at the deadline, the pool goes on with the others", async () => {
    const { pool, workers, softmax, y } = await cuedPool(["exit", "plain"]);
    const exited = new Promise((resolve) => workers[0].once("exit", resolve));
    const want = bits(ref.softmax(X, 1000));
    let differ = 0, callMs = 0;
    // the calls it does not take run here; the first one it takes ends it, and that call throws
    const { error } = untilThrow(() => {
      const t = performance.now();
      try {
        softmax();
      } finally {
        callMs = performance.now() - t;
      }
      differ += sameBits(bits(y()), want) ? 0 : 1;
    });
    expect(error.message).toMatch(STOPPED);
    const m = /\(worker 1 of 2: its share of softmax_forward ran (\d+\.\d) s, past the deadline of 10 s \+ 50x the calling thread's share\)/.exec(error.message);
    expect(m, error.message).not.toBeNull();
    // the deadline is 10 s from posting plus 50x the caller's own share, which a busy machine stretches (the worker
    // woken for the job may take the caller's core): 10 s at least, and the call lasted as long as the share it reports
    const ranMs = Number(m![1]) * 1000;
    expect(ranMs).toBeGreaterThanOrEqual(DEADLINE_MS);
    expect(callMs).toBeGreaterThanOrEqual(ranMs - 50); // ran is rounded to 0.1 s
    expect(differ).toBe(0); // the calls before it ran its shares here, with the right bits
    expect(await exited).toBe(7);
    expect(pool.size).toBe(2);
    softmax(); // the other worker, perhaps asleep through the 10 s wait for a share it was not woken for, is live
    expect(bits(y())).toEqual(want);
  }, 30_000);

  it("asleep past the claim bound: its jobs run here meanwhile, a call then drops it, and it ends its loop when it wakes", async () => {
    let terminated = 0;
    const { pool, workers, softmax, y } = await cuedPool(["late"], (w) => ({ // a terminate() that leaves it running
      terminate: () => terminated++,
      on: (event: "exit" | "error", listener: (arg: never) => void) => w.on(event, listener),
    }));
    const exited = new Promise((resolve) => workers[0].once("exit", resolve));
    const want = bits(ref.softmax(X, 1000));
    let differ = 0;
    const { error, ms, calls } = untilThrow(() => {
      softmax();
      differ += sameBits(bits(y()), want) ? 0 : 1; // its rows computed here
    });
    expect(error.message).toMatch(STOPPED);
    expect(error.message).toContain("(worker 1 of 1: it did not take its job within 5 s)");
    expect(ms).toBeGreaterThanOrEqual(CLAIM_MS);
    expect(ms).toBeLessThan(CLAIM_MS + 1000);
    expect(calls).toBeGreaterThan(10);
    expect(differ).toBe(0);
    expect(terminated).toBe(1);
    expect(await exited).toBe(0); // woke at 6 s, found itself revoked, left its loop: the thread ended by itself
    expect(pool.size).toBe(1);
    softmax();
    expect(bits(y())).toEqual(bits(ref.softmax(X, 1000)));
  }, 30_000);
});

// A sleeping worker is notified for a small share at most every wakeEveryMs (pool-sleep.test.ts): the caller runs the
// shares it was not woken for itself, and the worker sleeps on until a later notify. Not being asked, it is not late.
describe("a live worker of the thread pool asleep through a small share it was not woken for", () => {
  /** A pool of two plain workers, both asleep, whose next softmax shares notify neither. */
  async function sleepingPool() {
    const got = await cuedPool(["plain", "plain"]);
    const { JOB_FNS } = await import("../dist/threads.js");
    await asleep(got.pool);
    got.pool.wakeEveryMs = 0;
    got.softmax(); // both asleep: each is notified (a sleeper never notified yet would be, whatever the share)
    await asleep(got.pool);
    got.pool.wakeEveryMs = Infinity; // from now on only a share of WAKE_MIN_MS (0.25 ms) or more wakes one
    got.pool.shareMs.set(JOB_FNS.indexOf("softmax_forward"), 0); // shares too small to wake one, whatever the load
    return got;
  }

  it("is not taken for stopped, however long the library then pauses", async () => {
    const { pool, softmax, y } = await sleepingPool();
    const { woken, stolen } = pool.counts;
    softmax();
    expect(pool.counts.woken).toBe(woken); // neither worker was notified:
    expect(pool.counts.stolen - stolen).toBe(2); // the caller ran both shares
    const looked = (b: number) => Atomics.load(pool.i32, b + SEEN) === Atomics.load(pool.i32, b + SEQ);
    expect(pool.blocks.map(looked)).toEqual([false, false]); // asleep still: each looks at that job once woken
    // the library pauses past the claim bound (the pool's clock moves on)
    const now = performance.now.bind(performance);
    const clock = vi.spyOn(performance, "now").mockImplementation(() => now() + CLAIM_MS + 1000);
    try {
      softmax();
    } finally {
      clock.mockRestore();
    }
    expect(pool.size).toBe(3);
    expect(bits(y())).toEqual(bits(ref.softmax(X, 1000)));
    pool.wakeEveryMs = 0; // and both take jobs when woken
    softmax();
    await asleep(pool);
    expect(pool.size).toBe(3);
  });

  it("when the caller's own share traps, is woken for its share, and the call throws the trap, not a stop", async () => {
    const { pool, e, x, y, yAt } = await sleepingPool();
    const { woken } = pool.counts;
    const row = 1000 * 4;
    const outside = e.memory.buffer.byteLength; // past the end of memory: the caller's share traps
    const { error } = caught(() => pool.run("softmax_forward", [
      [outside, yAt, 22, 1000, 1],
      [x + 22 * row, yAt + 22 * row, 22, 1000, 1],
      [x + 44 * row, yAt + 44 * row, 20, 1000, 1],
    ]));
    expect(error).toBeInstanceOf(WebAssembly.RuntimeError);
    expect(error.message).toMatch(/out of bounds/);
    expect(pool.counts.woken - woken).toBe(2); // each notified when the caller came to wait for its share
    expect(pool.size).toBe(3);
    expect(bits(y()).subarray(22 * 1000)).toEqual(bits(ref.softmax(X, 1000)).subarray(22 * 1000)); // their rows
  });
});
