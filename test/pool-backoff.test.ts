// The pool backs off from late workers (src/pool-jobs.ts noteCall): a call that lost more time posting its shares and
// waiting for the claimed ones than the caller took for its own share would have been faster on the calling thread
// alone. On a machine with more busy threads than cores a worker is descheduled after it claims a share (a steal
// cannot take it then) and a notify costs the caller up to milliseconds, so two such calls close together make the
// pool run calls whole on the calling thread for a back-off that doubles while the workers stay late. The bits are
// the same either way: the same kernels over the same shares.
import { beforeAll, describe, expect, it } from "vitest";
import { ready, softmax } from "../dist/index.js";
import { engine, type Engine } from "../dist/engine.js";
import { rng } from "./helpers.js";

interface PoolInside {
  counts: { posted: number; woken: number; stolen: number; serial: number; backoffs: number };
  backoffMs: number;
  serialUntil: number;
  lateScore: number;
  grace: boolean;
  noteCall(lost: number, ownMs: number, claimed: boolean, notified?: boolean): void;
  run(fn: string, jobs: number[][]): number[];
}

let e: Engine;
let pool: PoolInside;
beforeAll(async () => {
  await ready({ threads: 2 });
  e = engine("test");
  pool = e.pool as unknown as PoolInside;
});

/** The pool's back-off state cleared: no back-off running, none scored. */
function fresh(): void {
  pool.grace = false;
  pool.serialUntil = 0;
  pool.lateScore = 0;
  pool.backoffMs = 20;
}

describe("the pool's back-off from late workers", () => {
  it("backs off after two late calls close together, for 20 ms doubling while they stay late, up to 1 s", () => {
    fresh();
    const backoffs = pool.counts.backoffs;
    pool.noteCall(3, 1, true); // 3 ms lost against a 1 ms share of its own: late
    expect(pool.serialUntil).toBe(0); // one late call is not enough
    let t = performance.now();
    pool.noteCall(3, 1, true);
    expect(pool.counts.backoffs - backoffs).toBe(1);
    expect(pool.serialUntil - t).toBeGreaterThanOrEqual(20);
    expect(pool.serialUntil - t).toBeLessThan(20 + 50);
    for (const next of [40, 80, 160, 320, 640, 1000, 1000]) {
      expect(pool.backoffMs).toBe(next);
      pool.noteCall(3, 1, true);
      t = performance.now();
      pool.noteCall(3, 1, true);
      expect(pool.serialUntil - t).toBeGreaterThanOrEqual(next - 1);
    }
    fresh();
  });

  it("needs the late calls close together: an on-time call between them halves the score", () => {
    fresh();
    pool.noteCall(3, 1, true); // late: score 1
    pool.noteCall(0.01, 1, true); // on time: 0.5
    pool.noteCall(3, 1, true); // late: 1.25, under 1.5
    expect(pool.serialUntil).toBe(0);
    pool.noteCall(3, 1, true); // late again: 1.625
    expect(pool.serialUntil).toBeGreaterThan(0);
    fresh();
  });

  it("calls on time halve the back-off; calls whose shares were all stolen cheaply say nothing", () => {
    fresh();
    pool.backoffMs = 640;
    pool.noteCall(0.01, 1, true);
    expect(pool.backoffMs).toBe(320);
    pool.noteCall(0.01, 1, false); // every share stolen, nothing lost: no evidence either way
    expect(pool.backoffMs).toBe(320);
    pool.lateScore = 1;
    pool.noteCall(0.01, 1, false);
    expect(pool.lateScore).toBe(1);
    // a notify that cost more than the share counts as late even when the caller then stole the share
    pool.noteCall(2, 1, false);
    expect(pool.serialUntil).toBeGreaterThan(0);
    fresh();
  });

  it("after a back-off, the first call that wakes the worker (asleep through the back-off) goes unscored", () => {
    fresh();
    pool.noteCall(3, 1, true);
    pool.noteCall(3, 1, true); // a back-off
    pool.serialUntil = 0; // ... over
    pool.noteCall(3, 1, true, true); // its wake: not scored
    expect(pool.lateScore).toBe(0);
    pool.noteCall(3, 1, true, true); // later wakes count
    expect(pool.lateScore).toBe(1);
    pool.noteCall(3, 1, true, true);
    expect(pool.serialUntil).toBeGreaterThan(0);
    fresh();
  });

  it("a loss under 0.05 ms is never late, whatever the share (a tiny share's wake or wait)", () => {
    fresh();
    for (let i = 0; i < 10; i++) pool.noteCall(0.04, 0.001, true);
    expect(pool.serialUntil).toBe(0);
    fresh();
  });

  it("while backing off, runs every share on the calling thread (nothing posted) with the same bits", () => {
    fresh();
    const r = rng(3);
    const rows = 64, cols = 1000; // split between the threads
    const x = Float32Array.from({ length: rows * cols }, () => 8 * r() - 4);
    const parallel = softmax(x, cols);
    const before = { ...pool.counts };
    pool.serialUntil = performance.now() + 60_000;
    const backedOff = softmax(x, cols);
    expect(pool.counts.posted - before.posted).toBe(0);
    expect(pool.counts.serial - before.serial).toBe(1);
    expect(new Uint32Array(backedOff.buffer)).toEqual(new Uint32Array(parallel.buffer));
    fresh();
    softmax(x, cols);
    expect(pool.counts.posted - before.posted).toBe(1); // posting again once the back-off is over
  });

  it("scores real calls: a worker share far longer than the caller's own makes two late calls and a back-off", () => {
    fresh();
    const n = 1 << 22; // the worker's share: 4M parameters (about 1 ms); the caller's: 1,024
    const mark = e.mark();
    try {
      const p = e.alloc(n * 4 + 64);
      const backoffs = pool.counts.backoffs;
      // shares of zeros (a no-op on values); the first call wakes the worker, which then spins for the next
      for (let i = 0; i < 500 && pool.counts.backoffs === backoffs; i++) {
        pool.run("sgd_update", [[p, p, p, 1024, 0, 0, 0, 0], [p + 4096, p + 4096, p + 4096, n, 0, 0, 0, 0]]);
      }
      expect(pool.counts.backoffs - backoffs).toBe(1);
      const serial = pool.counts.serial;
      pool.run("sgd_update", [[p, p, p, 1024, 0, 0, 0, 0], [p + 4096, p + 4096, p + 4096, n, 0, 0, 0, 0]]);
      expect(pool.counts.serial - serial).toBe(1);
    } finally {
      e.release(mark);
      fresh();
    }
  });
});
