// Dropout and the max-norm constraint (issue "Past 99%", part 2): inverted dropout on the hidden layers' outputs and
// on the input (torch.nn.Dropout's semantics: drop with probability p, scale survivors by 1 / (1 - p), the identity in
// evaluation), masks from the network's seeded generator, and max-norm as torch.renorm over each hidden unit's
// incoming weights after every update. Bad options are refused by name and leave nothing behind.
import { beforeAll, describe, expect, it } from "vitest";
import { ready, Network } from "../dist/index.js";
import { engine } from "../dist/engine.js";
import { randn, rng, xoshiro } from "./helpers.js";

beforeAll(async () => {
  await ready();
});

function data(rows: number, inputs: number, classes: number, seed: number) {
  const x = randn(rows * inputs, 1, seed);
  const labels = Uint8Array.from({ length: rows }, (_, i) => (i * 7 + seed) % classes);
  return { x, labels };
}

describe("the dropout kernel", () => {
  it("drops a fraction p, scales the survivors by exactly 1 / (1 - p), and keeps the mean", () => {
    const e = engine("test");
    for (const p of [0.1, 0.5, 0.8]) {
      const n = 200_003;
      const mark = e.mark();
      const state = e.alloc(16);
      e.k.rng_seed(state, 7);
      const x = e.put(new Float32Array(n).fill(1.5));
      const y = e.alloc(n * 4);
      const mask = e.alloc(n * 4);
      e.k.dropout_forward(state, x, y, mask, n, p);
      const ys = e.f32(y, n).slice();
      const ms = e.f32(mask, n).slice();
      const scale = Math.fround(1 / (1 - Math.fround(p))); // the kernel takes p as a float32
      const dropped = ms.filter((m) => m === 0).length / n;
      expect(Math.abs(dropped - p)).toBeLessThan(4 * Math.sqrt(p * (1 - p) / n)); // 4 sigma
      expect(ms.every((m) => m === 0 || m === scale)).toBe(true);
      expect(ys.every((v, i) => v === Math.fround(1.5 * ms[i]))).toBe(true);
      const mean = ys.reduce((a, b) => a + b, 0) / n;
      expect(Math.abs(mean - 1.5)).toBeLessThan(4 * 1.5 * Math.sqrt(p / (1 - p) / n)); // E[y] = x, within 4 sigma
      // backward: dy * mask, at every width from 1 to past two SIMD blocks, guards untouched
      for (let w = 1; w <= 9; w++) {
        const dy = e.put(Float32Array.from({ length: w + 4 }, (_, i) => (i < w ? i + 1 : 12345.5)));
        e.k.dropout_backward(mask, dy, dy, w);
        expect(Array.from(e.f32(dy, w + 4))).toEqual(Array.from({ length: w + 4 }, (_, i) => (i < w ? Math.fround((i + 1) * ms[i]) : 12345.5)));
      }
      e.release(mark);
    }
  });
});

describe("the dropout kernel, bit for bit", () => {
  it("each element's mask is one draw of the generator: dropped when its top 24 bits are under round(p 2^24), at every length", () => {
    const e = engine("test");
    const GUARD = 4;
    for (const p of [0, 0.1, 0.5, 0.9]) {
      const pf = Math.fround(p); // the kernel takes p as a float32
      const threshold = Math.round(pf * 16777216), scale = Math.fround(1 / (1 - pf));
      for (const n of [...Array.from({ length: 68 }, (_, i) => i), 1001]) {
        for (const inPlace of [false, true]) {
          const mark = e.mark();
          try {
            const seed = 100 * n + (inPlace ? 7 : 3);
            const state = e.alloc(16);
            e.k.rng_seed(state, seed);
            const r = rng(seed);
            const xs = Float32Array.from({ length: n + GUARD }, (_, i) => (i < n ? 4 * r() - 2 : 12345.5));
            const x = e.put(xs), y = inPlace ? x : e.put(new Float32Array(n + GUARD).fill(12345.5));
            const mask = e.put(new Float32Array(n + GUARD).fill(12345.5));
            e.k.dropout_forward(state, x, y, mask, n, p);
            const next = xoshiro(seed);
            const wantMask = new Float32Array(n + GUARD).fill(12345.5), wantY = new Float32Array(n + GUARD).fill(12345.5);
            for (let i = 0; i < n; i++) {
              wantMask[i] = next() >>> 8 < threshold ? 0 : scale;
              wantY[i] = Math.fround(xs[i] * wantMask[i]);
            }
            expect(new Uint32Array(e.f32(mask, n + GUARD).slice().buffer), `mask, n ${n}, p ${p}`).toEqual(new Uint32Array(wantMask.buffer));
            expect(new Uint32Array(e.f32(y, n + GUARD).slice().buffer), `y, n ${n}, p ${p}`).toEqual(new Uint32Array(wantY.buffer));
            // the generator has advanced by exactly n draws: the next call's first mask is draw n
            e.k.dropout_forward(state, x, y, mask, 1, 0.5);
            expect(e.f32(mask, 1)[0], `draw ${n}`).toBe(next() >>> 8 < 8388608 ? 0 : 2);
          } finally {
            e.release(mark);
          }
        }
      }
    }
  });
});

describe("Network with dropout", () => {
  it("trains through the masks, and is off in predict, evaluate and gradient (evaluation)", async () => {
    const { x, labels } = data(96, 12, 3, 1);
    const net = new Network({ sizes: [12, 16, 8, 3], seed: 2, dropout: [0.5, 0.2], inputDropout: 0.1 });
    expect(net.dropout).toEqual([0.5, 0.2]);
    expect(net.inputDropout).toBe(0.1);
    await net.fit(x, labels, { epochs: 2, batchSize: 16, optimizer: { name: "adam", lr: 0.01 } });
    const plain = new Network({ sizes: [12, 16, 8, 3], seed: 2 });
    plain.setParameters(net.parameters());
    expect(Array.from(net.predict(x))).toEqual(Array.from(plain.predict(x)));
    expect(net.evaluate(x, labels)).toEqual(plain.evaluate(x, labels));
    expect(Array.from(net.gradient(x, labels).grad)).toEqual(Array.from(plain.gradient(x, labels).grad));
    // in training the masks change the loss, and each call draws new ones
    const a = net.gradient(x, labels, { training: true });
    const b = net.gradient(x, labels, { training: true });
    expect(a.loss).not.toBe(plain.gradient(x, labels).loss);
    expect(a.loss).not.toBe(b.loss);
    for (const n of [net, plain]) n.dispose();
  });

  it("its gradient passes a finite-difference check with the mask fixed", () => {
    const { x, labels } = data(8, 5, 3, 3);
    const start = new Network({ sizes: [5, 7, 3], hidden: "tanh", seed: 4, dropout: 0.4, inputDropout: 0.2 });
    const saved = start.save(); // the dropout generator's state: every load draws the same masks
    const at = (p: Float32Array) => {
      const n = Network.load(saved);
      n.setParameters(p);
      const r = n.gradient(x, labels, { training: true });
      n.dispose();
      return r;
    };
    const p0 = start.parameters();
    const { grad } = at(p0);
    const h = 1e-2;
    let checked = 0;
    for (let i = 0; i < p0.length; i += 3) {
      const plus = p0.slice();
      const minus = p0.slice();
      plus[i] += h;
      minus[i] -= h;
      const fd = (at(plus).loss - at(minus).loss) / (2 * h);
      expect(Math.abs(fd - grad[i]), `parameter ${i}: fd ${fd}, grad ${grad[i]}`).toBeLessThan(2e-3 + 2e-2 * Math.abs(fd));
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
    start.dispose();
  });

  it("a save mid-training resumes to the bytes of a straight run (the masks' generator is saved)", async () => {
    const { x, labels } = data(64, 10, 4, 5);
    const opts = { sizes: [10, 12, 4], seed: 6, dropout: 0.3, inputDropout: 0.2, maxNorm: 1.5 } as const;
    const fit = { batchSize: 8, optimizer: { name: "sgd", lr: 0.1, momentum: 0.9 } } as const;
    const straight = new Network({ ...opts, dropout: 0.3 });
    await straight.fit(x, labels, { ...fit, epochs: 3 });
    const first = new Network({ ...opts, dropout: 0.3 });
    await first.fit(x, labels, { ...fit, epochs: 1 });
    const resumed = Network.load(first.save());
    expect(resumed.dropout).toEqual([0.3]);
    expect(resumed.maxNorm).toBe(1.5);
    await resumed.fit(x, labels, { ...fit, epochs: 2 });
    expect(Buffer.compare(Buffer.from(resumed.save()), Buffer.from(straight.save()))).toBe(0);
    for (const n of [straight, first, resumed]) n.dispose();
  });

  it.each([
    [{ dropout: 1 }, RangeError, "Network: opts.dropout must be in [0, 1), got 1"],
    [{ dropout: -0.1 }, RangeError, "Network: opts.dropout must be in [0, 1), got -0.1"],
    [{ dropout: NaN }, RangeError, "Network: opts.dropout must be in [0, 1), got NaN"],
    [{ dropout: "0.5" }, TypeError, "Network: opts.dropout must be a number, got \"0.5\""],
    [{ dropout: [0.5] }, RangeError, "Network: opts.dropout has 1 rates, expected one per hidden layer (2)"],
    [{ dropout: [0.5, 1.5] }, RangeError, "Network: opts.dropout[1] must be in [0, 1), got 1.5"],
    [{ inputDropout: 1 }, RangeError, "Network: opts.inputDropout must be in [0, 1), got 1"],
    [{ maxNorm: 0 }, RangeError, "Network: opts.maxNorm must be a positive finite number, got 0"],
    [{ maxNorm: -2 }, RangeError, "Network: opts.maxNorm must be a positive finite number, got -2"],
    [{ maxNorm: Infinity }, RangeError, "Network: opts.maxNorm must be a positive finite number, got Infinity"],
    [{ dropout: null }, TypeError, "Network: opts.dropout must be a number, got null"],
    [{ sizes: [4, 2], dropout: null }, TypeError, "Network: opts.dropout must be a number, got null"],
    [{ sizes: [4, 2], dropout: 0.5 }, RangeError, "Network: opts.dropout (0.5) drops hidden layers' outputs, and sizes [4, 2] has no hidden layer (inputDropout drops inputs)"],
  ])("refuses %o by name, and takes no memory", (bad, type, message) => {
    const top = engine("test").mark();
    expect(() => new Network({ sizes: [4, 5, 6, 2], ...(bad as object) })).toThrow(new type(message));
    expect(engine("test").mark()).toBe(top);
  });

  it("a network without hidden layers takes dropout 0 (or []) and input dropout", () => {
    for (const dropout of [0, []]) new Network({ sizes: [4, 2], dropout, inputDropout: 0.2 }).dispose();
  });
});

describe("max-norm", () => {
  it("scales each hidden unit's incoming weights down to the bound after every update, as torch.renorm", async () => {
    const { x, labels } = data(80, 6, 3, 7);
    const c = 0.8;
    const net = new Network({ sizes: [6, 9, 5, 3], seed: 8, maxNorm: c });
    let checks = 0;
    await net.fit(x, labels, {
      epochs: 2, batchSize: 10, optimizer: { name: "sgd", lr: 0.5 },
      onBatch: () => {
        const p = net.parameters();
        let off = 0;
        for (const [I, O, hidden] of [[6, 9, true], [9, 5, true], [5, 3, false]] as const) {
          for (let j = 0; j < O; j++) {
            let s = 0;
            for (let i = 0; i < I; i++) s += p[off + i * O + j] ** 2;
            if (hidden) expect(Math.sqrt(s)).toBeLessThanOrEqual(c * (1 + 1e-5));
          }
          off += I * O + O;
        }
        checks++;
      },
    });
    expect(checks).toBe(16);
    net.dispose();
  });

  it("the kernel at every width from 1 to past two SIMD blocks (1-9 columns, 1-3 rows), guards after W untouched", () => {
    const e = engine("test");
    const f = Math.fround;
    const r = rng(21);
    for (let I = 1; I <= 3; I++) {
      for (let O = 1; O <= 9; O++) {
        const mark = e.mark();
        const W = Float32Array.from({ length: I * O }, () => (r() * 2 - 1) * 1.5);
        const c = 0.9;
        const w = e.put(Float32Array.from([...W, 12345.5, 12345.5, 12345.5, 12345.5]));
        const norms = e.alloc(O * 4);
        e.k.max_norm(w, norms, I, O, c);
        // float32 throughout, as the kernel: squares summed row by row, the norm, then c / (norm + 1e-7) when over
        const want = W.slice();
        for (let j = 0; j < O; j++) {
          let sq = 0;
          for (let i = 0; i < I; i++) sq = f(sq + f(W[i * O + j] * W[i * O + j]));
          const norm = f(Math.sqrt(sq));
          if (norm > c) for (let i = 0; i < I; i++) want[i * O + j] = f(W[i * O + j] * f(f(c) / f(norm + f(1e-7))));
        }
        expect(Array.from(e.f32(w, I * O + 4)), `${I} x ${O}`).toEqual([...want, 12345.5, 12345.5, 12345.5, 12345.5]);
        e.release(mark);
      }
    }
  });

  it("the kernel: columns over the bound become c / (norm + 1e-7) times themselves, the others are untouched", () => {
    const e = engine("test");
    const mark = e.mark();
    // W (2 x 3): column norms 0.5, 2 (3-4-5 scaled), 5
    const W = Float32Array.of(0.3, 1.2, 3, 0.4, 1.6, 4);
    const w = e.put(W);
    const norms = e.alloc(16);
    e.k.max_norm(w, norms, 2, 3, 1);
    const got = Array.from(e.f32(w, 6));
    // in float32 throughout, as the kernel: the norm of each column, then 1 / (norm + 1e-7)
    const f = Math.fround;
    const norm = (j: number) => f(Math.sqrt(f(f(W[j] * W[j]) + f(W[3 + j] * W[3 + j]))));
    const factor = (j: number) => f(1 / f(norm(j) + f(1e-7)));
    expect(norm(1)).toBeCloseTo(2, 6);
    expect(norm(2)).toBe(5);
    expect(got).toEqual([W[0], f(W[1] * factor(1)), f(W[2] * factor(2)), W[3], f(W[4] * factor(1)), f(W[5] * factor(2))]);
    e.release(mark);
  });
});
