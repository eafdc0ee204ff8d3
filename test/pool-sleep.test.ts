// How the pool wakes a sleeping worker (src/pool-jobs.ts JobPool.post): the caller notifies it for a share as long as
// WAKE_MIN_MS (0.25 ms), and for a shorter one at most every wakeEveryMs (a notify costs the caller more than a small
// share under load, and it runs an unclaimed share itself); the first small job after a pause still wakes it.
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";

interface PoolInside {
  i32: Int32Array;
  blocks: number[];
  wakeEveryMs: number;
  backoff: boolean;
  counts: { posted: number; woken: number; stolen: number };
  /** This thread's share of the last call of each job function (by index in JOB_FNS), ms. */
  shareMs: Map<number, number>;
  run(fn: string, jobs: number[][]): number[];
}

const SLEEPING = 72, SEEN = 73, SEQ = 0;
let JOB_FNS: readonly string[];
let pool: PoolInside;
let e: import("../dist/engine.js").Engine;
beforeAll(async () => {
  const lib = await import("../dist/index.js");
  await lib.ready({ threads: 2 });
  e = (await import("../dist/engine.js")).engine("test");
  ({ JOB_FNS } = await import("../dist/threads.js"));
  pool = e.pool as unknown as PoolInside;
  pool.backoff = false; // these tests count posts: a back-off from a worker late on a busy machine would skip them
});
afterEach(() => vi.restoreAllMocks());

/** The worker's slot `at` of its control block. */
const slot = (at: number) => Atomics.load(pool.i32, pool.blocks[0] + at);
/** Resolves once the worker sleeps, having looked at the last job if `seen` (polled every ms, at most 2 s). */
async function asleep(seen = true): Promise<void> {
  for (const t0 = Date.now(); slot(SLEEPING) !== 1 || (seen && slot(SEEN) !== slot(SEQ));) {
    if (Date.now() - t0 > 2000) throw new Error(`the worker never went to sleep: SLEEPING ${slot(SLEEPING)}, SEEN ${slot(SEEN)}, SEQ ${slot(SEQ)}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
/** An SGD step of n parameters split in two shares (zeros: a no-op on values); n sets the shares' length. */
function sgd(n: number): void {
  const mark = e.mark();
  try {
    const p = e.alloc(n * 4 + 64);
    const h = (n >> 1) & ~15;
    pool.run("sgd_update", [[p, p, p, h, 0, 0, 0, 0], [p + h * 4, p + h * 4, p + h * 4, n - h, 0, 0, 0, 0]]);
  } finally {
    e.release(mark);
  }
}
/** How many times `f` notifies the worker (the pool's counts say the same). */
function notifies(f: () => void): number {
  const notify = vi.spyOn(Atomics, "notify");
  const before = { ...pool.counts };
  f();
  const n = notify.mock.calls.filter(([a, i]) => a === pool.i32 && i === pool.blocks[0] + SEQ).length;
  notify.mockRestore();
  expect(pool.counts.posted - before.posted).toBe(1);
  expect(pool.counts.woken - before.woken).toBe(n);
  return n;
}

describe("a sleeping worker of the pool", () => {
  it("is notified for the first small share after a pause, then at most every wakeEveryMs for small shares", async () => {
    pool.wakeEveryMs = 60_000;
    try {
      sgd(64); // this job function's last share here: a few µs, under WAKE_MIN_MS
      await new Promise((r) => setTimeout(r, 20));
      await asleep();
      pool.wakeEveryMs = 10;
      expect(notifies(() => sgd(64))).toBe(1); // notified 20 ms ago or more: woken
      pool.wakeEveryMs = 60_000;
      await asleep();
      // a small share, whatever the load: the last one, timed while the woken worker took this core, may have run long
      pool.shareMs.set(JOB_FNS.indexOf("sgd_update"), 0);
      const stolen = pool.counts.stolen;
      expect(notifies(() => sgd(64))).toBe(0); // not again within wakeEveryMs: the caller ran the share itself
      expect(pool.counts.stolen - stolen).toBe(1);
      expect(slot(SEEN)).not.toBe(slot(SEQ)); // asleep still: it looks at that job once woken
      pool.wakeEveryMs = 0;
      expect(notifies(() => sgd(64))).toBe(1);
      await asleep(); // woken, it has looked at the last job
    } finally {
      pool.wakeEveryMs = 10;
    }
  });

  it("is notified for every share as long as a quarter of a millisecond", async () => {
    pool.wakeEveryMs = 60_000;
    try {
      const n = 1 << 23; // shares of about a millisecond (4M parameters each, 0.2-0.3 ns a parameter here)
      sgd(n);
      expect(pool.shareMs.get(JOB_FNS.indexOf("sgd_update"))).toBeGreaterThanOrEqual(0.25); // the premise
      await asleep(false);
      expect(notifies(() => sgd(n))).toBe(1);
      await asleep();
      expect(notifies(() => sgd(n))).toBe(1);
    } finally {
      pool.wakeEveryMs = 10;
    }
  });
});
