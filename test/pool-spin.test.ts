// A worker's spin before it sleeps (src/threads.ts SpinPolicy), driven by the gaps between jobs a training step makes.
// A sleeping worker costs each job a futex wake: measured on this 2-core VM, 8-33 µs of the caller's time to notify and
// tens to hundreds of µs before the worker runs, against jobs of about 100 µs (784-128-10, batch 64).
import { describe, expect, it } from "vitest";
import { SpinPolicy, SPIN_MAX_MS, SPIN_MIN_MS } from "../dist/threads.js";

/** A policy after `steps` training steps whose jobs come `gaps` ms apart, each seen while spinning and claimed. */
const trained = (gaps: number[], steps = 20): SpinPolicy => {
  const p = new SpinPolicy();
  for (let s = 0; s < steps; s++) for (const g of gaps) p.observe(g, false, true);
  return p;
};

describe("a worker's spin budget", () => {
  it("covers the longest gap of a training step, not only the mean", () => {
    // 784-128-10: the first layer's forward (after the batch boundary: the gather, a turn of the event loop: the
    // longest gap), dW and update jobs; then the worker waits for the next forward
    const p = trained([0.12, 0.03, 0.005]);
    expect(p.budget()).toBeGreaterThan(0.12);
  });

  it("goes back to spinning when jobs that a full spin would have caught find it asleep", () => {
    const p = trained([0.05]);
    for (let i = 0; i < 4; i++) p.observe(0.05, false, false); // descheduled while spinning: the caller stole them
    expect(p.budget()).toBeLessThan(0.05);
    for (let i = 0; i < 16; i++) p.observe(0.06, true, true); // asleep at each job, which came 60 µs after the last
    expect(p.budget()).toBeGreaterThanOrEqual(0.1);
  });

  it("goes back to spinning when it wakes to find jobs it slept through (the caller wakes it only now and then)", () => {
    const p = trained([0.05]);
    for (let i = 0; i < 4; i++) p.observe(0.05, false, false); // descheduled while spinning: the caller stole them
    expect(p.budget()).toBeLessThan(0.05);
    // woken 10 ms later (Pool.wakeEveryMs) with 80 jobs posted meanwhile, each run by the caller: a gap of 0.12 ms;
    // each such wake doubles the trust, so four bring the spin back past that gap
    for (let i = 0; i < 4; i++) p.observe(10, true, false, 80);
    expect(p.budget()).toBeGreaterThanOrEqual(0.2);
    // a worker that slept 10 ms through no job has no reason to spin more
    const idle = trained([0.05]);
    for (let i = 0; i < 4; i++) idle.observe(0.05, false, false);
    const before = idle.budget();
    idle.observe(10, true, true, 0);
    expect(idle.budget()).toBeLessThanOrEqual(before);
  });

  it("spins less on a busy machine, where jobs come while it is descheduled and the caller runs them", () => {
    const p = trained([0.1]);
    expect(p.budget()).toBeGreaterThan(0.19);
    for (let i = 0; i < 4; i++) p.observe(0.1, false, false);
    expect(p.budget()).toBeLessThan(0.2 / 8);
  });

  it("keeps most of what it learned over one pause of the library (an epoch's end, loading data)", () => {
    const p = trained([0.12, 0.03, 0.005]);
    p.observe(300, true, true);
    expect(p.budget()).toBeGreaterThan(0.1);
  });

  it("comes down to the least spin when calls come further apart than SPIN_MAX_MS", () => {
    const p = trained([0.5]);
    for (let i = 0; i < 12; i++) p.observe(10, true, true);
    expect(p.budget()).toBe(SPIN_MIN_MS);
  });

  it("never spins longer than SPIN_MAX_MS", () => {
    expect(trained([1.9]).budget()).toBe(SPIN_MAX_MS);
    expect(new SpinPolicy().budget()).toBe(SPIN_MIN_MS);
  });
});
