// fit's onBatch info.input(rows): a copy of the batch's input as the network saw it (after opts.augment, before input
// dropout), read from Wasm only when called. The rows must be augmentBatch's output for that batch (replayed here from
// the network's saved augmentation generator), the plain rows without augment, and calling it must change nothing.
import { beforeAll, describe, expect, it } from "vitest";
import { ready, Network, type BatchInfo } from "../dist/index.js";
import { engine } from "../dist/engine.js";
import { decode } from "../dist/checkpoint.js";
import { augmentBatch, augmentWorkBytes, resolveAugment } from "../dist/augment.js";
import { rng } from "./runtimes/workload.js";

beforeAll(async () => {
  await ready();
});

const [W, H] = [8, 8];
const D = W * H;
function data(rows: number, seed: number) {
  const r = rng(seed);
  const x = Uint8Array.from({ length: rows * D }, () => (r() < 0.5 ? 0 : Math.floor(r() * 256)));
  const labels = Uint8Array.from({ length: rows }, (_, i) => (i * 3 + seed) % 4);
  return { x, labels };
}
const augment = { width: W, height: H, shift: 1.5, rotate: 12, scale: 0.1, elastic: { alpha: 2, sigma: 1.5 } };
const sgd = { name: "sgd", lr: 0.05, momentum: 0.9 } as const;

describe("fit's onBatch info.input(rows)", () => {
  it("returns augmentBatch's output for each batch (shuffle off, 3 batches, the last short)", async () => {
    const { x, labels } = data(20, 1); // batches of 8, 8, 4
    const floats = Float32Array.from(x, (v) => v / 255); // Float32Array x: the rows reach the batch buffer unchanged
    const net = new Network({ sizes: [D, 12, 4], seed: 5, dropout: 0.3, inputDropout: 0.2 });
    // the augmentation generator's state before fit, from the network's own save
    const state = decode("test", net.save()).augmentRng;
    const seen: { batch: number; rows: Float32Array; two: Float32Array }[] = [];
    await net.fit(floats, labels, {
      epochs: 1, batchSize: 8, shuffle: false, optimizer: sgd, augment,
      onBatch: (info) => seen.push({ batch: info.batch, rows: info.input(), two: info.input(2) }),
    });
    expect(seen.map((b) => b.batch)).toEqual([0, 1, 2]);
    // the batches replayed through augmentBatch from that state (arena scratch, taken after fit: fit takes blocks)
    const e = engine("test");
    const a = resolveAugment("test", augment, D);
    const mark = e.mark();
    const s = e.alloc(16);
    e.write(s, state);
    const buf = e.alloc(8 * D * 4);
    const work = e.alloc(augmentWorkBytes(e.k, a));
    for (const { batch, rows, two } of seen) {
      const B = Math.min(8, 20 - batch * 8);
      expect(rows.length).toBe(B * D);
      e.write(buf, floats.subarray(batch * 8 * D, (batch * 8 + B) * D));
      augmentBatch(e.k, a, s, buf, work, B); // one draw an image: the generator runs on from batch to batch
      const expected = e.f32(buf, B * D).slice();
      expect(Buffer.from(rows.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      expect(Array.from(two)).toEqual(Array.from(expected.subarray(0, 2 * D)));
      // augmented, not the plain rows
      expect(Array.from(rows)).not.toEqual(Array.from(floats.subarray(batch * 8 * D, (batch * 8 + B) * D)));
    }
    e.release(mark);
    net.dispose();
  });

  it("without augment: the batch's own rows, before input dropout; shuffled, an epoch's rows are a permutation of x", async () => {
    const { x, labels } = data(30, 2);
    const net = new Network({ sizes: [D, 10, 4], seed: 2, inputDropout: 0.5 });
    const rows: string[] = [];
    await net.fit(x, labels, {
      epochs: 1, batchSize: 7, optimizer: sgd,
      onBatch: (info) => {
        const v = info.input();
        for (let r = 0; r < v.length / D; r++) rows.push(Array.from(v.subarray(r * D, (r + 1) * D), (f) => Math.round(f * 255)).join());
      },
    });
    const want = Array.from({ length: 30 }, (_, r) => Array.from(x.subarray(r * D, (r + 1) * D)).join());
    expect(rows).not.toEqual(want); // shuffled
    expect([...rows].sort()).toEqual([...want].sort()); // every row once, none zeroed by input dropout
    net.dispose();
  });

  it("calling it does not change the training bytes (dropout, augmentation, two epochs)", async () => {
    const { x, labels } = data(40, 3);
    const opts = { sizes: [D, 16, 4], seed: 7, dropout: 0.25, inputDropout: 0.1 };
    const [quiet, reading] = [new Network(opts), new Network(opts)];
    const fit = { epochs: 2, batchSize: 8, optimizer: sgd, augment };
    await quiet.fit(x, labels, { ...fit, onBatch: () => {} });
    let read = 0;
    await reading.fit(x, labels, { ...fit, onBatch: (info) => { read += info.input().length + info.input(1).length; } });
    expect(read).toBe(10 * (8 * D + D));
    expect(Buffer.from(reading.save()).equals(Buffer.from(quiet.save()))).toBe(true);
    for (const n of [quiet, reading]) n.dispose();
  });

  it("refuses rows past the batch or not an integer, and a call after its onBatch returned, naming the argument", async () => {
    const { x, labels } = data(10, 4);
    const net = new Network({ sizes: [D, 6, 4], seed: 1 });
    let kept: BatchInfo | undefined;
    const errors: string[] = [];
    await net.fit(x, labels, {
      epochs: 1, batchSize: 10, optimizer: sgd,
      onBatch: (info) => {
        kept = info;
        expect(info.input(0)).toEqual(new Float32Array(0));
        for (const bad of [11, -1, 1.5, "2"]) {
          try {
            info.input(bad as number);
          } catch (err) {
            errors.push(`${(err as Error).name}: ${(err as Error).message}`);
          }
        }
      },
    });
    expect(errors).toEqual([
      "RangeError: Network.fit: info.input(rows) must be at most the batch's 10 rows, got 11",
      "RangeError: Network.fit: info.input(rows) must be an integer >= 0, got -1",
      "RangeError: Network.fit: info.input(rows) must be an integer >= 0, got 1.5",
      "TypeError: Network.fit: info.input(rows) must be a number, got \"2\"",
    ]);
    expect(() => kept!.input()).toThrow(/Network\.fit: onBatch's info\.input\(\) is only valid during its onBatch call/);
    net.dispose();
  });
});
