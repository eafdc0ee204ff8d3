// How the pool wakes an idle worker (src/threads.ts): past its spin a worker naps in timed Atomics.waits, then sleeps
// until notified. The caller notifies a deep sleeper always and a napping worker only for a share as long as
// WAKE_MIN_MS (a notify costs the caller more than a small share under load); a nap not woken ends by itself, and the
// worker then takes jobs again.
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";

interface PoolInside {
  size: number;
  i32: Int32Array;
  blocks: number[];
  run(fn: string, jobs: number[][]): number[];
}

const SLEEPING = 72, SEEN = 73, SEQ = 0, NAPPING = 1, DEEP = 2;
let pool: PoolInside;
let e: import("../dist/engine.js").Engine;
beforeAll(async () => {
  const lib = await import("../dist/index.js");
  await lib.ready({ threads: 2 });
  e = (await import("../dist/engine.js")).engine("test");
  pool = e.pool as unknown as PoolInside;
});
afterEach(() => vi.restoreAllMocks());

/** The worker's slot `at` of its control block. */
const slot = (at: number) => Atomics.load(pool.i32, pool.blocks[0] + at);
/** Resolves once the worker's SLEEPING slot is `state` (polled every ms, at most 2 s). */
async function until(state: number): Promise<void> {
  for (const t0 = Date.now(); slot(SLEEPING) !== state;) {
    if (Date.now() - t0 > 2000) throw new Error(`the worker never reached SLEEPING = ${state}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
/** An SGD step of n parameters split in two shares (zeros: a no-op on values), its shares' length set by n. */
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

describe("an idle worker of the pool", () => {
  it("sleeps until notified once idle for about 50 ms, and a job then notifies it", async () => {
    sgd(64);
    await until(DEEP);
    const notify = vi.spyOn(Atomics, "notify");
    sgd(64);
    expect(notify.mock.calls.filter(([, i]) => i === pool.blocks[0] + SEQ)).toHaveLength(1);
  });

  it("napping, is not notified for a small share, and takes jobs again when its nap ends", async () => {
    sgd(64); // this function's last share here: a few µs, under WAKE_MIN_MS
    await until(NAPPING);
    const notify = vi.spyOn(Atomics, "notify");
    sgd(64);
    expect(notify.mock.calls.filter(([, i]) => i === pool.blocks[0] + SEQ)).toHaveLength(0);
    const seq = slot(SEQ);
    const t0 = Date.now();
    while (slot(SEEN) !== seq && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 1));
    expect(slot(SEEN)).toBe(seq); // it looked at the job (stolen by the caller meanwhile) without a notify
  });

  it("napping, is notified for a share as long as a quarter of a millisecond", async () => {
    const n = 1 << 21; // a share of about a millisecond
    sgd(n);
    await until(NAPPING);
    const notify = vi.spyOn(Atomics, "notify");
    sgd(n);
    expect(notify.mock.calls.filter(([, i]) => i === pool.blocks[0] + SEQ)).toHaveLength(1);
  });
});
