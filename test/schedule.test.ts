// Learning-rate schedules (torch.optim.lr_scheduler's formulas, fixtures from PyTorch itself:
// test/fixtures/make_schedules.py) and early stopping, as fit runs them (issue "Past 99%", part 2).
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, Network, type Schedule } from "../dist/index.js";
import { engine } from "../dist/engine.js";
import { learningRate, resolveSchedule, scheduledMomentum } from "../dist/schedule.js";
import { powInt } from "../dist/optimizer-state.js";
import { expectClose, randn } from "./helpers.js";

interface Case {
  name: string; lr: number; batches: number; epochs: number; schedule: Schedule; optimizer: "sgd" | "adam"; lrs: number[];
  /** With OneCycleLR's cycle_momentum: SGD's momentum or Adam's beta1 at each batch. */
  momenta?: number[];
}
interface Trajectory {
  optimizer: "sgd" | "adam"; lr: number; epochs: number; batch: number; sizes: number[]; x: number[]; labels: number[];
  start: number[]; end: number[];
}
const fixtures = JSON.parse(readFileSync(new URL("./fixtures/schedules.json", import.meta.url), "utf8")) as
  { torch: string; cases: Case[]; trajectories: Trajectory[] };

beforeAll(async () => {
  await ready();
});

function close(got: number, want: number, what: string): void {
  expect(Math.abs(got - want), `${what}: got ${got}, torch ${want}`).toBeLessThanOrEqual(1e-12 + 1e-9 * Math.abs(want));
}

describe("schedules equal torch.optim.lr_scheduler's, batch by batch", () => {
  it.each(fixtures.cases.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const cos = engine("test").k.cos_f64;
    const s = resolveSchedule("test", c.schedule);
    const T = c.batches * c.epochs;
    expect(c.lrs.length).toBe(T);
    c.lrs.forEach((want, t) => close(learningRate(s, c.lr, t, T, c.batches, cos), want, `step ${t}`));
    // the momentum: OneCycleLR's cycled one where the fixture has it, else the optimizer's own (undefined)
    for (let t = 0; t < T; t++) {
      const m = scheduledMomentum(s, t, T, c.batches, cos);
      if (c.momenta) close(m!, c.momenta[t], `momentum at step ${t}`);
      else expect(m).toBeUndefined();
    }
  });

  it("a cycled beta1's power (Adam's correction) by squaring: b^0 = 1, powers of two exact, else within n ulps of b^n", () => {
    expect(powInt(0.9, 0)).toBe(1);
    expect(powInt(0.85, 1)).toBe(0.85);
    expect(powInt(0.9, 2)).toBe(0.9 * 0.9);
    expect(powInt(0.5, 1000)).toBe(2 ** -1000); // powers of two: exact
    // each squaring doubles the relative error so far: about n / 2 ulps at worst, far below the f32 step's precision
    for (const [b, n] of [[0.9, 7], [0.95, 1000], [0.85, 2000], [0.99999, 1e6]] as const) {
      const ulps = Math.abs(powInt(b, n) - b ** n) / (b ** n * 2 ** -53);
      expect(ulps, `${b}^${n}`).toBeLessThanOrEqual(n);
    }
  });

  it.each(fixtures.trajectories.map((t) => [t.optimizer, t] as const))("onecycle's defaults train %s as torch does, momentum cycled", async (_, c) => {
    const net = new Network({ sizes: c.sizes, seed: 1 });
    net.setParameters(Float32Array.from(c.start));
    const optimizer = c.optimizer === "sgd" ? { name: "sgd", lr: c.lr } as const : { name: "adam", lr: c.lr } as const;
    await net.fit(Float32Array.from(c.x), Uint8Array.from(c.labels), {
      epochs: c.epochs, batchSize: c.batch, shuffle: false, optimizer, schedule: { name: "onecycle" },
    });
    expectClose(net.parameters(), c.end, 2e-5, 1e-6, c.optimizer);
    // and not as it would without the cycle: the momentum is what moved them there
    const plain = new Network({ sizes: c.sizes, seed: 1 });
    plain.setParameters(Float32Array.from(c.start));
    await plain.fit(Float32Array.from(c.x), Uint8Array.from(c.labels), {
      epochs: c.epochs, batchSize: c.batch, shuffle: false, optimizer, schedule: { name: "onecycle", cycleMomentum: false },
    });
    expect(Math.max(...Array.from(plain.parameters(), (v, i) => Math.abs(v - c.end[i])))).toBeGreaterThan(1e-3);
    for (const n of [net, plain]) n.dispose();
  });

  it("fit runs them: onBatch reports the learning rate each batch used, the torch fixture's", async () => {
    const c = fixtures.cases.find((k) => k.name === "warm-up 1 epoch then cosine")!;
    const batchSize = 4;
    const x = randn(c.batches * batchSize * 6, 1, 3);
    const labels = Uint8Array.from({ length: c.batches * batchSize }, (_, i) => i % 3);
    const net = new Network({ sizes: [6, 5, 3], seed: 1 });
    const seen: number[] = [];
    await net.fit(x, labels, {
      epochs: c.epochs, batchSize, optimizer: { name: "sgd", lr: c.lr }, schedule: c.schedule,
      onBatch: (info) => seen.push(info.lr),
    });
    expect(seen.length).toBe(c.lrs.length);
    seen.forEach((lr, t) => close(lr, c.lrs[t], `batch ${t}`));
    net.dispose();
  });

  it("a constant schedule trains the very bits of no schedule", async () => {
    const x = randn(40 * 6, 1, 4);
    const labels = Uint8Array.from({ length: 40 }, (_, i) => i % 3);
    const run = async (schedule?: Schedule) => {
      const net = new Network({ sizes: [6, 5, 3], seed: 2 });
      await net.fit(x, labels, { epochs: 2, batchSize: 8, optimizer: { name: "adam", lr: 0.01 }, schedule });
      const bytes = net.save();
      net.dispose();
      return Buffer.from(bytes);
    };
    expect(Buffer.compare(await run(), await run({ name: "constant" }))).toBe(0);
  });

  it.each([
    [{ name: "linear" }, RangeError, /opts\.schedule\.name must be 'constant' or 'step' or 'cosine' or 'onecycle', got "linear"/],
    [{}, TypeError, /opts\.schedule\.name is required/],
    ["cosine", TypeError, /opts\.schedule must be an object/],
    [{ name: "cosine", minLr: -1 }, RangeError, /opts\.schedule\.minLr must be a finite number >= 0, got -1/],
    [{ name: "step", gamma: 0 }, RangeError, /opts\.schedule\.gamma must be a positive finite number, got 0/],
    [{ name: "step", stepEpochs: 1.5 }, RangeError, /opts\.schedule\.stepEpochs must be an integer >= 1, got 1\.5/],
    [{ name: "onecycle", maxLr: NaN }, RangeError, /opts\.schedule\.maxLr must be a positive finite number, got NaN/],
    [{ name: "cosine", warmupEpochs: 3 }, RangeError, /opts\.schedule\.warmupEpochs \(3\) must be less than opts\.epochs \(3\)/],
    [{ name: "cosine", lr: 1 }, TypeError, /unknown option opts\.schedule\.lr \(expected one of name, warmupEpochs/],
    [{ name: "step", minLr: 0.1 }, TypeError, /opts\.schedule\.minLr does not apply to the 'step' schedule \(its options: gamma, stepEpochs, warmupEpochs\)/],
    [{ name: "cosine", gamma: 0.5 }, TypeError, /opts\.schedule\.gamma does not apply to the 'cosine' schedule \(its options: minLr, warmupEpochs\)/],
    [{ name: "onecycle", stepEpochs: 2 }, TypeError, /opts\.schedule\.stepEpochs does not apply to the 'onecycle' schedule \(its options: maxLr, cycleMomentum, baseMomentum, maxMomentum, warmupEpochs\)/],
    [{ name: "constant", maxLr: 1 }, TypeError, /opts\.schedule\.maxLr does not apply to the 'constant' schedule \(its options: warmupEpochs\)/],
  ])("refuses schedule %o by name and trains nothing", async (schedule, type, message) => {
    const net = new Network({ sizes: [6, 5, 3], seed: 2 });
    const before = net.parameters();
    const x = randn(16 * 6, 1, 5);
    const labels = new Uint8Array(16);
    await expect(net.fit(x, labels, { epochs: 3, schedule: schedule as Schedule })).rejects.toThrow(type);
    await expect(net.fit(x, labels, { epochs: 3, schedule: schedule as Schedule })).rejects.toThrow(message);
    expect(net.parameters()).toEqual(before);
    net.dispose();
  });
});

describe("early stopping", () => {
  // the training labels are learnable; the validation labels are the same images' labels shifted by one class, so the
  // validation loss falls for a while (the network learns the images) and then rises as it learns the wrong map
  const rows = 120;
  const x = randn(rows * 8, 1, 6);
  const labels = Uint8Array.from({ length: rows }, (_, i) => (x[i * 8] > 0 ? 1 : 0) + (x[i * 8 + 1] > 0 ? 2 : 0));
  const val = { x: x.slice(0, 60 * 8), labels: labels.slice(0, 60).map((y) => (y + 1) % 4) };

  it("stops after `patience` epochs without an improvement and restores the best epoch's parameters", async () => {
    const net = new Network({ sizes: [8, 16, 4], seed: 3 });
    const snapshots: Float32Array[] = [];
    const { epochs, bestEpoch, keptEpoch, stoppedEpoch } = await net.fit(x, labels, {
      epochs: 40, batchSize: 10, optimizer: { name: "adam", lr: 0.02 }, validation: val,
      earlyStopping: { patience: 3 }, onEpoch: () => snapshots.push(net.parameters()),
    });
    // the epoch the rule keeps, from the history: the last strict minimum before three epochs without one
    let best = 0;
    for (let e = 1; e < epochs.length; e++) if (epochs[e].valLoss! < epochs[best].valLoss!) best = e;
    expect(bestEpoch).toBe(best);
    expect(keptEpoch).toBe(best);
    expect(stoppedEpoch).toBe(best + 3);
    expect(epochs.length).toBe(best + 4);
    expect(stoppedEpoch).toBeLessThan(39); // it did stop early
    expect(net.parameters()).toEqual(snapshots[best]);
    expect(net.evaluate(val.x, val.labels).loss).toBe(epochs[best].valLoss);
    net.dispose();
  });

  it("minDelta: an improvement smaller than it does not count; restoreBest: false keeps the last parameters", async () => {
    const net = new Network({ sizes: [8, 16, 4], seed: 3 });
    let last: Float32Array | undefined;
    const { epochs, bestEpoch, keptEpoch, stoppedEpoch } = await net.fit(x, labels, {
      epochs: 40, batchSize: 10, optimizer: { name: "adam", lr: 0.02 }, validation: val,
      earlyStopping: { patience: 2, minDelta: 0.05, restoreBest: false }, onEpoch: () => { last = net.parameters(); },
    });
    let best = 0;
    let wait = 0;
    for (let e = 1; e < epochs.length; e++) {
      if (epochs[e].valLoss! < epochs[best].valLoss! - 0.05) { best = e; wait = 0; } else wait++;
    }
    expect(bestEpoch).toBe(best);
    expect(wait).toBe(2);
    expect(stoppedEpoch).toBe(epochs.length - 1);
    expect(keptEpoch).toBe(epochs.length - 1); // the parameters held are the last epoch's, not bestEpoch's
    expect(keptEpoch).not.toBe(bestEpoch);
    expect(net.parameters()).toEqual(last);
    net.dispose();
  });

  it("keptEpoch: the last epoch's when no early stop comes and restoreBest is false; the best one's when restored", async () => {
    for (const restoreBest of [true, false]) {
      const net = new Network({ sizes: [8, 16, 4], seed: 3 });
      const snapshots: Float32Array[] = [];
      const r = await net.fit(x, labels, {
        epochs: 4, batchSize: 10, optimizer: { name: "adam", lr: 0.02 }, validation: val,
        earlyStopping: { patience: 10, restoreBest }, onEpoch: () => snapshots.push(net.parameters()),
      });
      expect(r.stoppedEpoch).toBeUndefined();
      expect(r.keptEpoch).toBe(restoreBest ? r.bestEpoch : 3);
      expect(net.parameters()).toEqual(snapshots[r.keptEpoch!]);
      net.dispose();
    }
  });

  it.each([
    [{ patience: 2 }, false, TypeError, /opts\.earlyStopping watches the validation loss: it needs opts\.validation/],
    [{ patience: 0 }, true, RangeError, /opts\.earlyStopping\.patience must be an integer >= 1, got 0/],
    [{ patience: 2, minDelta: -1 }, true, RangeError, /opts\.earlyStopping\.minDelta must be a finite number >= 0, got -1/],
    [{ patience: 2, restoreBest: 1 }, true, TypeError, /opts\.earlyStopping\.restoreBest must be a boolean/],
    [{ patience: 2, monitor: "val_acc" }, true, TypeError, /unknown option opts\.earlyStopping\.monitor \(expected one of patience/],
  ])("refuses %o (validation: %s) by name", async (earlyStopping, withVal, type, message) => {
    const net = new Network({ sizes: [8, 16, 4], seed: 3 });
    const before = net.parameters();
    const opts = { epochs: 2, earlyStopping: earlyStopping as never, ...(withVal ? { validation: val } : {}) };
    await expect(net.fit(x, labels, opts)).rejects.toThrow(type);
    await expect(net.fit(x, labels, opts)).rejects.toThrow(message);
    expect(net.parameters()).toEqual(before);
    net.dispose();
  });
});
