// fit resumable in the middle of an epoch (issue "One training loop everywhere"): a fit stopped by its signal leaves
// its run's position (epoch, batch, the epoch's permutation as the generator state it is drawn from, the epoch's
// figures so far), fit({ resume: true }) goes on from there, and save() keeps it, so any pattern of pauses, and a
// save / load in the middle, trains the bytes of one uninterrupted run.
import { beforeAll, describe, expect, it } from "vitest";
import { ready, Network, type FitOptions, type FitResult } from "../dist/index.js";
import { engine } from "../dist/engine.js";
import { randn, rng } from "./helpers.js";

beforeAll(async () => {
  await ready();
});

const rows = 90;
const x = randn(rows * 12, 1, 11);
const labels = Uint8Array.from({ length: rows }, (_, i) => (x[i * 12] > 0 ? 1 : 0) + (x[i * 12 + 3] > 0 ? 2 : 0));
const val = { x: x.slice(0, 30 * 12), labels: labels.slice(0, 30) };
const NET = { sizes: [12, 10, 4], seed: 5, dropout: 0.2, inputDropout: 0.1, maxNorm: 2 } as const;
const RUN: FitOptions = {
  epochs: 4, batchSize: 8, optimizer: { name: "sgd", lr: 0.1, momentum: 0.9 }, validation: val,
  schedule: { name: "cosine", warmupEpochs: 1, minLr: 0.001 },
};

async function straight(opts: Partial<FitOptions> = {}): Promise<Buffer> {
  const net = new Network(NET);
  await net.fit(x, labels, { ...RUN, ...opts });
  const bytes = Buffer.from(net.save());
  net.dispose();
  return bytes;
}

/** Trains RUN on `net`, stopping after each batch count in `stops` (counted over the whole run), resuming each time. */
async function paused(net: Network, stops: number[], opts: Partial<FitOptions> = {}): Promise<number[]> {
  const seen: number[] = [];
  let done = 0;
  for (let i = 0; i <= stops.length; i++) {
    const ctl = new AbortController();
    const stopAt = stops[i];
    const run = net.fit(x, labels, {
      ...RUN, ...opts, resume: i > 0, signal: ctl.signal,
      onBatch: (b) => { seen.push(b.epoch * b.batches + b.batch); if (++done === stopAt) ctl.abort(); },
    });
    if (i < stops.length) await expect(run).rejects.toThrow(/aborted/);
    else await run;
  }
  return seen;
}

describe("fit({ resume: true })", () => {
  it("pauses at seeded random batches, then resumes: the bytes of one uninterrupted run", async () => {
    const want = await straight();
    const r = rng(3);
    for (let trial = 0; trial < 4; trial++) {
      const total = 4 * Math.ceil(rows / 8);
      const stops = Array.from({ length: 3 }, () => 1 + Math.floor(r() * (total - 1))).sort((a, b) => a - b)
        .filter((v, i, a) => i === 0 || v !== a[i - 1]);
      const net = new Network(NET);
      const seen = await paused(net, stops);
      expect(seen).toEqual(Array.from({ length: total }, (_, i) => i)); // every batch once, in order
      expect(net.interruptedFit).toBeUndefined();
      expect(Buffer.compare(Buffer.from(net.save()), want), `stops ${stops}`).toBe(0);
      net.dispose();
    }
  });

  it("a pause between epochs (in onEpoch) and a pause at an epoch's first batch resume exactly too", async () => {
    const want = await straight();
    const batches = Math.ceil(rows / 8);
    const net = new Network(NET);
    await paused(net, [batches, 2 * batches + 1]);
    expect(Buffer.compare(Buffer.from(net.save()), want)).toBe(0);
    const b = new Network(NET);
    const ctl = new AbortController();
    await expect(b.fit(x, labels, { ...RUN, signal: ctl.signal, onEpoch: (e) => { if (e.epoch === 1) ctl.abort(); } }))
      .rejects.toThrow(/aborted/);
    expect(b.interruptedFit).toEqual({ epochs: 4, epoch: 2, batch: 0, batchSize: 8, rows: 90 });
    await b.fit(x, labels, { ...RUN, resume: true });
    expect(Buffer.compare(Buffer.from(b.save()), want)).toBe(0);
    for (const n of [net, b]) n.dispose();
  });

  it("save in the middle of an epoch, load, continue: the same bytes (the position is in the file)", async () => {
    const want = await straight();
    const net = new Network(NET);
    const ctl = new AbortController();
    let n = 0;
    await expect(net.fit(x, labels, { ...RUN, signal: ctl.signal, onBatch: () => { if (++n === 17) ctl.abort(); } }))
      .rejects.toThrow(/aborted/);
    expect(net.interruptedFit).toEqual({ epochs: 4, epoch: 1, batch: 5, batchSize: 8, rows: 90 });
    const loaded = Network.load(net.save());
    net.dispose();
    expect(loaded.interruptedFit).toEqual({ epochs: 4, epoch: 1, batch: 5, batchSize: 8, rows: 90 });
    const { epochs } = await loaded.fit(x, labels, { ...RUN, resume: true });
    expect(epochs.length).toBe(3); // the rest of epoch 1, then 2 and 3
    expect(Buffer.compare(Buffer.from(loaded.save()), want)).toBe(0);
    loaded.dispose();
  });

  it("without shuffling and with Adam, too; a new fit without resume starts a new run", async () => {
    const opts = { shuffle: false, optimizer: { name: "adam", lr: 0.01 } } as const;
    const want = await straight(opts);
    const net = new Network(NET);
    await paused(net, [5, 23], opts);
    expect(Buffer.compare(Buffer.from(net.save()), want)).toBe(0);
    const c = new Network(NET);
    const ctl = new AbortController();
    await expect(c.fit(x, labels, { ...RUN, signal: ctl.signal, onBatch: () => ctl.abort() })).rejects.toThrow(/aborted/);
    await c.fit(x, labels, { ...RUN, epochs: 2 }); // a new run: the old position is dropped
    expect(c.interruptedFit).toBeUndefined();
    for (const k of [net, c]) k.dispose();
  });

  it.each([
    [{ epochs: 5 }, RangeError, "Network.fit: opts.resume: opts.epochs is 5, the interrupted run's was 4"],
    [{ batchSize: 16 }, RangeError, "Network.fit: opts.resume: opts.batchSize is 16, the interrupted run's was 8"],
    [{ shuffle: false }, RangeError, "Network.fit: opts.resume: opts.shuffle is false, the interrupted run's was true"],
    [{ seed: 3 }, TypeError, "Network.fit: opts.seed restarts the shuffles: it does not go with opts.resume"],
    [{ earlyStopping: { patience: 2 } }, RangeError, "Network.fit: opts.resume: opts.earlyStopping is {\"patience\":2,\"minDelta\":0,\"restoreBest\":true}, the interrupted run's was none"],
    [{ schedule: { name: "onecycle" } }, RangeError, /^Network\.fit: opts\.resume: opts\.schedule is \{"name":"onecycle","warmupEpochs":0,.*\}, the interrupted run's was \{"name":"cosine","warmupEpochs":1,"minLr":0\.001,.*\} \(a resumed run goes on with the options it started with\)$/],
    [{ schedule: undefined }, RangeError, "Network.fit: opts.resume: opts.schedule is none, the interrupted run's was"],
    [{ optimizer: { name: "sgd", lr: 5 } }, RangeError, "Network.fit: opts.resume: opts.optimizer is {\"name\":\"sgd\",\"lr\":5,\"momentum\":0,\"nesterov\":false,\"weightDecay\":0}, the interrupted run's was {\"name\":\"sgd\",\"lr\":0.1,\"momentum\":0.9,"],
    [{ augment: { width: 4, height: 3, shift: 1 } }, RangeError, "Network.fit: opts.resume: opts.augment is {\"width\":4,\"height\":3,\"shift\":1,\"rotate\":0,\"scale\":0,\"alpha\":0,\"sigma\":0,\"radius\":0}, the interrupted run's was none"],
  ])("refuses to resume with %o, and the run stays open", async (change, type, message) => {
    const net = new Network(NET);
    const ctl = new AbortController();
    await expect(net.fit(x, labels, { ...RUN, signal: ctl.signal, onBatch: () => ctl.abort() })).rejects.toThrow(/aborted/);
    const before = Buffer.from(net.save());
    const refused = net.fit(x, labels, { ...RUN, ...change, resume: true } as FitOptions);
    await expect(refused).rejects.toThrow(type);
    await expect(refused).rejects.toThrow(message);
    expect(Buffer.compare(Buffer.from(net.save()), before)).toBe(0);
    await expect(net.fit(x.subarray(0, 80 * 12), labels.subarray(0, 80), { ...RUN, resume: true }))
      .rejects.toThrow("Network.fit: opts.resume: rows of x is 80, the interrupted run's was 90");
    net.dispose();
  });

  it("a run loaded from a file resumes with the optimizer the file keeps, and refuses another", async () => {
    const net = new Network(NET);
    const ctl = new AbortController();
    await expect(net.fit(x, labels, { ...RUN, signal: ctl.signal, onBatch: () => ctl.abort() })).rejects.toThrow(/aborted/);
    const bytes = net.save();
    net.dispose();
    const loaded = Network.load(bytes);
    await expect(loaded.fit(x, labels, { ...RUN, optimizer: { name: "adam", lr: 0.1 }, resume: true }))
      .rejects.toThrow(/^Network\.fit: opts\.resume: opts\.optimizer is \{"name":"adam","lr":0\.1,.* the interrupted run's was \{"name":"sgd","lr":0\.1,"momentum":0\.9,/);
    expect(Buffer.compare(Buffer.from(loaded.save()), Buffer.from(bytes))).toBe(0);
    const { optimizer: _, ...noOptimizer } = RUN; // not given: the file's
    await loaded.fit(x, labels, { ...noOptimizer, resume: true });
    expect(Buffer.compare(Buffer.from(loaded.save()), await straight())).toBe(0);
    loaded.dispose();
  });

  it("a save while fit runs (in onBatch, or while it yields between batches) resumes to the straight run's bytes", async () => {
    const want = await straight();
    const batches = Math.ceil(rows / 8);
    // after the first batch, mid-epoch, and after an epoch's last batch (its end, validation and onEpoch still to come)
    for (const at of [1, 5, batches, 2 * batches - 1]) {
      for (const when of ["in onBatch", "while yielding"] as const) {
        const net = new Network(NET);
        let n = 0;
        let snap: Uint8Array | undefined;
        await net.fit(x, labels, { ...RUN, onBatch: () => {
          if (++n !== at) return;
          if (when === "in onBatch") snap = net.save();
          else setImmediate(() => { snap = net.save(); });
        } });
        expect(Buffer.compare(Buffer.from(net.save()), want)).toBe(0); // the save changed nothing in the run
        net.dispose();
        const loaded = Network.load(snap!);
        expect(loaded.interruptedFit, `${when} after batch ${at}`).toEqual({ epochs: 4, epoch: Math.floor((at - 1) / batches),
          batch: (at - 1) % batches + 1, batchSize: 8, rows: 90 }); // the batches trained so far, not one fewer
        await loaded.fit(x, labels, { ...RUN, resume: true });
        expect(Buffer.compare(Buffer.from(loaded.save()), want), `${when} after batch ${at}`).toBe(0);
        loaded.dispose();
      }
    }
  });

  it("an onBatch that throws leaves the run after that batch, which resumes to the straight run's bytes", async () => {
    const want = await straight();
    const net = new Network(NET);
    let n = 0;
    await expect(net.fit(x, labels, { ...RUN, onBatch: () => { if (++n === 7) throw new Error("callback failed"); } }))
      .rejects.toThrow("callback failed");
    expect(net.interruptedFit).toEqual({ epochs: 4, epoch: 0, batch: 7, batchSize: 8, rows: 90 });
    await net.fit(x, labels, { ...RUN, resume: true });
    expect(Buffer.compare(Buffer.from(net.save()), want)).toBe(0);
    net.dispose();
  });

  describe("with early stopping", () => {
    // validation labels shifted by one class: the validation loss falls, then rises, and the run stops early
    const shifted = { x: val.x, labels: val.labels.map((y) => (y + 1) % 4) };
    const STOP: FitOptions = { ...RUN, epochs: 12, schedule: undefined, validation: shifted, earlyStopping: { patience: 2 } };

    /** STOP trained on `net`, paused after each batch count in `stops` and resumed; the last call's result and every epoch. */
    async function pausedStop(net: Network, stops: number[], opts: Partial<FitOptions> = {}): Promise<[FitResult, number[]]> {
      const losses: number[] = [];
      let done = 0;
      for (let i = 0; ; i++) {
        const ctl = new AbortController();
        const run = net.fit(x, labels, {
          ...STOP, ...opts, resume: i > 0, signal: ctl.signal, onBatch: () => { if (++done === stops[i]) ctl.abort(); },
          onEpoch: (e) => losses.push(e.valLoss!),
        });
        if (i < stops.length) await expect(run).rejects.toThrow(/aborted/);
        else return [await run, losses];
      }
    }

    it.each([[{}], [{ earlyStopping: { patience: 2, restoreBest: false } }]])("%o: paused anywhere, resumed: the straight run's epochs, best, kept and stopped epochs, and bytes", async (opts) => {
      const top = engine("test").mark();
      const a = new Network(NET);
      const want = await a.fit(x, labels, { ...STOP, ...opts });
      expect(want.stoppedEpoch).toBeLessThan(11); // it stops early
      const wantBytes = Buffer.from(a.save());
      a.dispose();
      const r = rng(9);
      const total = (want.stoppedEpoch! + 1) * Math.ceil(rows / 8);
      for (let trial = 0; trial < 3; trial++) {
        const stops = Array.from({ length: 3 }, () => 1 + Math.floor(r() * (total - 1))).sort((p, q) => p - q)
          .filter((v, i, all) => i === 0 || v !== all[i - 1]);
        const b = new Network(NET);
        const [got, losses] = await pausedStop(b, stops, opts);
        expect(losses, `stops ${stops}`).toEqual(want.epochs.map((e) => e.valLoss));
        expect([got.bestEpoch, got.keptEpoch, got.stoppedEpoch]).toEqual([want.bestEpoch, want.keptEpoch, want.stoppedEpoch]);
        expect(Buffer.compare(Buffer.from(b.save()), wantBytes), `stops ${stops}`).toBe(0);
        b.dispose();
      }
      expect(engine("test").mark()).toBe(top); // the best parameters' blocks went back with each run
    });

    it("an onEpoch that throws (at any epoch, the stopping one too) leaves a run that resumes as the straight one", async () => {
      const a = new Network(NET);
      const want = await a.fit(x, labels, STOP);
      const wantBytes = Buffer.from(a.save());
      a.dispose();
      for (let at = 0; at <= want.stoppedEpoch!; at++) {
        const net = new Network(NET);
        await expect(net.fit(x, labels, { ...STOP, onEpoch: ({ epoch }) => { if (epoch === at) throw new Error("epoch callback"); } }))
          .rejects.toThrow("epoch callback");
        const got = await net.fit(x, labels, { ...STOP, resume: true });
        expect([got.bestEpoch, got.keptEpoch, got.stoppedEpoch], `onEpoch threw at epoch ${at}`)
          .toEqual([want.bestEpoch, want.keptEpoch, want.stoppedEpoch]);
        expect(got.epochs.length).toBe(want.stoppedEpoch! - at); // the epochs after it, none after the stopping one
        expect(Buffer.compare(Buffer.from(net.save()), wantBytes), `onEpoch threw at epoch ${at}`).toBe(0);
        net.dispose();
      }
    });

    it("a paused run's best parameters go back when a new run replaces it and when the network is disposed", async () => {
      const top = engine("test").mark();
      const net = new Network(NET);
      await pausedStop(net, [20, 30]); // a whole run, paused twice
      const ctl = new AbortController();
      await expect(net.fit(x, labels, { ...STOP, signal: ctl.signal, onBatch: () => ctl.abort() })).rejects.toThrow(/aborted/);
      await expect(net.fit(x, labels, { ...STOP, signal: ctl.signal })).rejects.toThrow(/aborted/); // a new run, aborted at once
      net.dispose();
      expect(engine("test").mark()).toBe(top);
    });

    it("refuses to resume it without early stopping, and a run loaded from a file with it", async () => {
      const net = new Network(NET);
      const ctl = new AbortController();
      await expect(net.fit(x, labels, { ...STOP, signal: ctl.signal, onBatch: () => ctl.abort() })).rejects.toThrow(/aborted/);
      const { earlyStopping: _, ...without } = STOP;
      await expect(net.fit(x, labels, { ...without, resume: true })).rejects.toThrow(new RangeError("Network.fit: opts.resume: " +
        "opts.earlyStopping is none, the interrupted run's was {\"patience\":2,\"minDelta\":0,\"restoreBest\":true} (a " +
        "resumed run goes on with the options it started with)"));
      const loaded = Network.load(net.save());
      net.dispose();
      await expect(loaded.fit(x, labels, { ...STOP, resume: true })).rejects.toThrow(new TypeError("Network.fit: " +
        "opts.earlyStopping does not go with opts.resume of a run loaded from a file (the format keeps no copy of the " +
        "best epoch's parameters): resume without it, or start a new run"));
      await loaded.fit(x, labels, { ...without, resume: true }); // without it, the file's run goes on
      expect(loaded.interruptedFit).toBeUndefined();
      loaded.dispose();
    });
  });

  it("with nothing to resume it says so", async () => {
    const net = new Network(NET);
    await expect(net.fit(x, labels, { ...RUN, resume: true }))
      .rejects.toThrow(new RangeError("Network.fit: opts.resume: there is no interrupted run to go on with"));
    net.dispose();
  });
});
