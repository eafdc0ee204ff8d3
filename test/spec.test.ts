// The spec as tests: the seed's worked example, finite-difference gradient checks of every loss and backward pass
// against float64 references written from the formulas (test/reference.ts), properties on random inputs, extreme
// inputs, every option, and the arena's memory behaviour. (test/torch.test.ts covers the PyTorch fixtures.)
// Tolerances: softmax 3e-5 relative; log-softmax 1e-5 relative + 3e-6 absolute; backward passes and gradients
// 1e-4 relative + 1e-6 absolute; losses 2e-5 relative.
import { beforeAll, describe, expect, it } from "vitest";
import {
  ready, softmax, logSoftmax, softmaxBackward, logSoftmaxBackward, crossEntropy, binaryCrossEntropyWithLogits, sigmoid,
  quadraticCost, logitsFromProbs, wasmMemory,
} from "../dist/index.js";
import { expectClose, randn, refLogSoftmax, refSoftmax, rng } from "./helpers.js";
import {
  labelsFor, numericGrad, numericLogSoftmaxVjp, numericSoftmaxVjp, probRows, refBce, refCrossEntropyIndex,
  refCrossEntropyProb, refQuadratic, uniform, type Red, type RefLoss,
} from "./reference.js";

beforeAll(() => ready());

const SM = 3e-5;
const LSM_REL = 1e-5;
const LSM_ABS = 3e-6;
const G_REL = 1e-4;
const G_ABS = 1e-6;
const LOSS = 2e-5;
const REDUCTIONS: Red[] = ["mean", "sum", "none"];
const SHAPES: [number, number][] = [[3, 5], [2, 7], [1, 1], [4, 9]];

/** The library's loss (a number, or per-row / per-element losses for 'none') against the float64 reference. */
function expectLoss(got: number | Float32Array, want: RefLoss, red: Red, what = "loss"): void {
  if (red === "none") {
    expect(got).toBeInstanceOf(Float32Array);
    expectClose(got as Float32Array, want.losses, LOSS, 0, what);
  } else {
    expect(typeof got).toBe("number");
    expectClose([got as number], [want.loss], LOSS, 0, what);
  }
}

/** The scalar whose gradient the library returns: the reduced loss, or the summed losses for 'none'. */
function scalar(r: RefLoss, red: Red): number {
  return red === "none" ? r.losses.reduce((s, v) => s + v, 0) : r.loss;
}

function rowOf(v: ArrayLike<number>, r: number, cols: number): number[] {
  return Array.from(v).slice(r * cols, (r + 1) * cols);
}

function sumRow(v: ArrayLike<number>, r: number, cols: number): number {
  return rowOf(v, r, cols).reduce((s, x) => s + x, 0);
}

/** float64 inverse softmax: ln p less the row's mean finite ln p. */
function refLogits(p: ArrayLike<number>, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < p.length / cols; r++) {
    const l = rowOf(p, r, cols).map(Math.log);
    const finite = l.filter(Number.isFinite);
    const mean = finite.reduce((s, v) => s + v, 0) / finite.length;
    out.push(...l.map((v) => v - mean));
  }
  return out;
}

function snapshot<T extends ArrayLike<number>>(v: T): number[] {
  return Array.from(v);
}

/** x with every value a multiple of 2^-10 in (-16, 16): adding 7.5 or -1000 to it is exact in float32. */
function quantized(n: number, seed: number): Float32Array {
  return randn(n, 3, seed).map((v) => Math.max(-15, Math.min(15, Math.round(v * 1024) / 1024)));
}

describe("the seed's worked example", () => {
  const logits = Float32Array.of(2, 3, 4);

  it("softmax([2, 3, 4]) = [0.0900, 0.2447, 0.6652]", () => {
    const p = softmax(logits, 3);
    expectClose(p, [0.09, 0.2447, 0.6652], 0, 5e-5, "p");
    expectClose(p, refSoftmax([2, 3, 4], 3), SM, 0, "p");
  });

  it("crossEntropy with true class 1, reduction 'sum': loss -ln(0.2447), gradient [0.0900, -0.7553, 0.6652]", () => {
    const { loss, grad } = crossEntropy(logits, 3, Int32Array.of(1), { reduction: "sum" });
    expect(typeof loss).toBe("number");
    expectClose([loss as number], [-Math.log(0.2447)], 0, 2e-4, "loss (4 decimals)");
    expectClose([loss as number], [-Math.log(refSoftmax([2, 3, 4], 3)[1])], LOSS, 0, "loss");
    expectClose(grad, [0.09, -0.7553, 0.6652], 0, 5e-5, "grad");
  });

  it("'mean' over two identical rows: the same loss, half the gradient", () => {
    const sum1 = crossEntropy(logits, 3, Int32Array.of(1), { reduction: "sum" });
    const two = Float32Array.of(2, 3, 4, 2, 3, 4);
    const { loss, grad } = crossEntropy(two, 3, Int32Array.of(1, 1), { reduction: "mean" });
    expectClose([loss as number], [-Math.log(refSoftmax([2, 3, 4], 3)[1])], LOSS, 0, "loss");
    expectClose([loss as number], [sum1.loss as number], LOSS, 0, "loss vs one row");
    const half = [0.045, -0.37765, 0.3326];
    expectClose(grad, [...half, ...half], 0, 5e-5, "grad (4 decimals)");
    const g1 = Array.from(sum1.grad, (v) => v / 2);
    expectClose(grad, [...g1, ...g1], G_REL, G_ABS, "grad vs one row / 2");
  });
});

describe("finite-difference gradients (float64 references)", () => {
  interface CeCase {
    name: string; weight?: boolean; ignoreIndex?: number; ignoreRow?: boolean; labelSmoothing?: number;
  }
  const ceIndexCases: CeCase[] = [
    { name: "plain" },
    { name: "weight", weight: true },
    { name: "default ignoreIndex -100 on a row", ignoreRow: true },
    { name: "ignoreIndex 2 (a class) on its rows", ignoreIndex: 2, ignoreRow: true },
    { name: "labelSmoothing 0.1", labelSmoothing: 0.1 },
    { name: "labelSmoothing 1", labelSmoothing: 1 },
    { name: "weight + ignoreIndex + labelSmoothing 0.25", weight: true, ignoreRow: true, labelSmoothing: 0.25 },
  ];

  const indexRuns = SHAPES.flatMap(([rows, cols], si) => ceIndexCases.flatMap((c) => REDUCTIONS.map((red) =>
    [`${rows}x${cols} ${c.name} ${red}`, rows, cols, c, red, si] as const)));

  it.each(indexRuns)("crossEntropy, index targets: %s", (_, rows, cols, c, red, si) => {
    const r = rng(100 + si);
    const logits = randn(rows * cols, 1.5, 200 + si);
    const labels = labelsFor(r, rows, cols);
    const ignoreIndex = c.ignoreIndex ?? -100;
    // ignore a row (never the only one: a mean over no rows is NaN, tested on its own)
    if (c.ignoreRow && rows > 1) labels[rows - 1] = ignoreIndex;
    if (c.ignoreIndex !== undefined && rows > 1) labels[0] = (ignoreIndex + 1) % cols;
    const weight = c.weight ? uniform(r, cols, 0.2, 2) : undefined;
    const o = { weight, ignoreIndex: c.ignoreIndex, labelSmoothing: c.labelSmoothing, reduction: red };
    const ref = refCrossEntropyIndex(logits, cols, labels, o);
    const { loss, grad } = crossEntropy(logits, cols, labels, o);
    expectLoss(loss, ref, red);
    const fd = numericGrad((z) => scalar(refCrossEntropyIndex(z, cols, labels, o), red), logits);
    expectClose(grad, fd, G_REL, G_ABS, "grad");
    if (c.ignoreRow && rows > 1) expect(rowOf(grad, rows - 1, cols).every((v) => v === 0)).toBe(true);
  });

  const probCases: CeCase[] = [
    { name: "plain" }, { name: "weight", weight: true }, { name: "labelSmoothing 0.2", labelSmoothing: 0.2 },
    { name: "weight + labelSmoothing 0.05", weight: true, labelSmoothing: 0.05 },
  ];
  const probRuns = SHAPES.flatMap(([rows, cols], si) => probCases.flatMap((c) => REDUCTIONS.map((red) =>
    [`${rows}x${cols} ${c.name} ${red}`, rows, cols, c, red, si] as const)));

  it.each(probRuns)("crossEntropy, probability targets: %s", (_, rows, cols, c, red, si) => {
    const r = rng(300 + si);
    const logits = randn(rows * cols, 1.5, 400 + si);
    const q = probRows(r, rows, cols);
    const weight = c.weight ? uniform(r, cols, 0.2, 2) : undefined;
    const o = { weight, labelSmoothing: c.labelSmoothing, reduction: red };
    const ref = refCrossEntropyProb(logits, cols, q, o);
    const { loss, grad } = crossEntropy(logits, cols, q, o);
    expectLoss(loss, ref, red);
    const fd = numericGrad((z) => scalar(refCrossEntropyProb(z, cols, q, o), red), logits);
    expectClose(grad, fd, G_REL, G_ABS, "grad");
  });

  const bceRuns = SHAPES.flatMap(([rows, cols], si) => [false, true].flatMap((pw) => REDUCTIONS.map((red) =>
    [`${rows}x${cols} ${pw ? "posWeight" : "no posWeight"} ${red}`, rows, cols, pw, red, si] as const)));

  it.each(bceRuns)("binaryCrossEntropyWithLogits: %s", (_, rows, cols, pw, red, si) => {
    const r = rng(500 + si);
    const n = rows * cols;
    const logits = randn(n, 2, 600 + si);
    const target = uniform(r, n);
    if (n > 2) { target[0] = 0; target[1] = 1; } // hard labels too
    const posWeight = pw ? uniform(r, cols, 0.3, 3) : undefined;
    const o = { posWeight, reduction: red };
    const ref = refBce(logits, target, o);
    const { loss, grad } = binaryCrossEntropyWithLogits(logits, target, o);
    expectLoss(loss, ref, red);
    if (red === "none") expect((loss as Float32Array).length).toBe(n);
    const fd = numericGrad((z) => scalar(refBce(z, target, o), red), logits);
    expectClose(grad, fd, G_REL, G_ABS, "grad");
  });

  it.each(SHAPES.map(([rows, cols], si) => [`${rows}x${cols}`, rows, cols, si] as const))(
    "quadraticCost: %s", (_, rows, cols, si) => {
      const a = randn(rows * cols, 1, 700 + si);
      const y = randn(rows * cols, 1, 800 + si);
      const { loss, grad } = quadraticCost(a, y, cols);
      expect(typeof loss).toBe("number");
      expectClose([loss], [refQuadratic(a, y, cols)], LOSS, 0, "loss");
      expectClose(grad, numericGrad((v) => refQuadratic(v, y, cols), a), G_REL, G_ABS, "grad");
    });

  it.each(SHAPES.map(([rows, cols], si) => [`${rows}x${cols}`, rows, cols, si] as const))(
    "softmaxBackward is the VJP of softmax: %s", (_, rows, cols, si) => {
      const x = randn(rows * cols, 1.5, 900 + si);
      const dy = randn(rows * cols, 1, 1000 + si);
      const y = Float32Array.from(refSoftmax(x, cols));
      expectClose(softmaxBackward(y, dy, cols), numericSoftmaxVjp(x, dy, cols), G_REL, G_ABS, "dx");
      // and with the library's own forward output
      expectClose(softmaxBackward(softmax(x, cols), dy, cols), numericSoftmaxVjp(x, dy, cols), G_REL, G_ABS, "dx");
    });

  it.each(SHAPES.map(([rows, cols], si) => [`${rows}x${cols}`, rows, cols, si] as const))(
    "logSoftmaxBackward is the VJP of log-softmax: %s", (_, rows, cols, si) => {
      const x = randn(rows * cols, 1.5, 1100 + si);
      const dy = randn(rows * cols, 1, 1200 + si);
      const logp = Float32Array.from(refLogSoftmax(x, cols));
      expectClose(logSoftmaxBackward(logp, dy, cols), numericLogSoftmaxVjp(x, dy, cols), G_REL, G_ABS, "dx");
      expectClose(logSoftmaxBackward(logSoftmax(x, cols), dy, cols), numericLogSoftmaxVjp(x, dy, cols), G_REL, G_ABS,
        "dx");
    });
});

describe("properties on random inputs", () => {
  const WIDTHS = [...Array.from({ length: 17 }, (_, i) => i + 1), 33, 1000];
  const ROWS = 3;

  it.each(WIDTHS)("rows sum to 1 (width %i)", (cols) => {
    for (const sd of [1, 5, 20]) {
      const p = softmax(randn(ROWS * cols, sd, cols * 7 + sd), cols);
      for (let r = 0; r < ROWS; r++) {
        expect(Math.abs(sumRow(p, r, cols) - 1), `row ${r} sd ${sd}`).toBeLessThanOrEqual(1e-5);
      }
    }
  });

  it.each(WIDTHS)("adding a constant to a row changes nothing (width %i)", (cols) => {
    const x = quantized(ROWS * cols, 2000 + cols);
    const p = softmax(x, cols);
    expectClose(p, refSoftmax(x, cols), SM, 0, "p");
    for (const c of [7.5, -1000, 1000]) {
      const shifted = x.map((v) => v + c);
      // exact in float32 by construction, so the test is of the library, not of rounding
      for (let i = 0; i < x.length; i++) expect(shifted[i] - c).toBe(x[i]);
      expectClose(softmax(shifted, cols), p, SM, 0, `softmax(x + ${c})`);
      expectClose(logSoftmax(shifted, cols), logSoftmax(x, cols), LSM_REL, LSM_ABS, `logSoftmax(x + ${c})`);
    }
    // a different constant per row
    const perRow = x.map((v, i) => v + [7.5, -1000, 0][Math.floor(i / cols)]);
    expectClose(softmax(perRow, cols), p, SM, 0, "per-row constants");
  });

  it.each(WIDTHS.filter((w) => w > 1 && w <= 33))("softmax Jacobian signs (width %i)", (cols) => {
    const x = randn(cols, 2, 3000 + cols);
    const y = softmax(x, cols);
    const y64 = refSoftmax(x, cols);
    for (let k = 0; k < cols; k++) {
      const dy = new Float32Array(cols);
      dy[k] = 1;
      // dx_j = sum_i dy_i d a_i / d z_j = d a_k / d z_j
      const dx = softmaxBackward(y, dy, cols);
      for (let j = 0; j < cols; j++) {
        if (j === k) expect(dx[j], `d a_${k} / d z_${k}`).toBeGreaterThan(0);
        else expect(dx[j], `d a_${k} / d z_${j}`).toBeLessThan(0);
      }
      const want = Array.from({ length: cols }, (_, j) => y64[k] * ((j === k ? 1 : 0) - y64[j]));
      expectClose(dx, want, G_REL, G_ABS, `column ${k}`);
    }
  });

  it.each(WIDTHS)("logSoftmax = ln(softmax) where p > 1e-30 (width %i)", (cols) => {
    for (const sd of [1, 8]) {
      const x = randn(ROWS * cols, sd, 4000 + cols + sd);
      const p = softmax(x, cols);
      const lp = logSoftmax(x, cols);
      const got: number[] = [];
      const want: number[] = [];
      for (let i = 0; i < p.length; i++) if (p[i] > 1e-30) { got.push(lp[i]); want.push(Math.log(p[i])); }
      expect(got.length).toBeGreaterThan(0);
      expectClose(got, want, LSM_REL, LSM_ABS, `sd ${sd}`);
      expectClose(lp, refLogSoftmax(x, cols), LSM_REL, LSM_ABS, "vs float64");
    }
  });

  it.each(WIDTHS)("softmax(logitsFromProbs(p)) = p (width %i)", (cols) => {
    const r = rng(5000 + cols);
    const p = probRows(r, ROWS, cols);
    if (cols > 1) {
      // row 1 gets an exact 0 (its mass moved to the next entry)
      p[cols + 1] += p[cols];
      p[cols] = 0;
    }
    const z = logitsFromProbs(p, cols);
    if (cols > 1) expect(z[cols]).toBe(-Infinity);
    expectClose(z, refLogits(p, cols), LSM_REL, LSM_ABS, "logits vs float64");
    for (let row = 0; row < ROWS; row++) {
      const finite = rowOf(z, row, cols).filter(Number.isFinite);
      expect(finite.length).toBe(row === 1 && cols > 1 ? cols - 1 : cols);
      const mean = finite.reduce((s, v) => s + v, 0) / finite.length;
      const scaleOf = Math.max(1, ...finite.map(Math.abs));
      expect(Math.abs(mean), `row ${row} mean of finite logits`).toBeLessThanOrEqual(1e-5 * scaleOf);
    }
    const back = softmax(z, cols);
    expectClose(back, p, SM, 0, "softmax(logitsFromProbs(p))");
    if (cols > 1) expect(Object.is(back[cols], 0)).toBe(true);
  });

  it.each([0.1, 0.5, 2, 100])("temperature %d = softmax of x / T in float64", (t) => {
    for (const cols of [1, 5, 33, 1000]) {
      const x = randn(ROWS * cols, 1, 6000 + cols);
      expectClose(softmax(x, cols, { temperature: t }), refSoftmax(x, cols, t), SM, 0, `softmax cols ${cols}`);
      expectClose(logSoftmax(x, cols, { temperature: t }), refLogSoftmax(x, cols, t), LSM_REL, LSM_ABS,
        `logSoftmax cols ${cols}`);
    }
  });

  it("temperature 1 is the default; a tiny temperature gives a near one-hot", () => {
    const x = randn(33, 1, 6100);
    expect(Array.from(softmax(x, 33, { temperature: 1 }))).toEqual(Array.from(softmax(x, 33)));
    const row = Float32Array.of(0.3, 0.1, 0.2, 0.25, 0.29, -4, 0.299);
    // the top two differ by 0.001: T = 1e-5 puts them e^-100 apart
    for (const t of [1e-5, 1e-6, 1e-8]) {
      const p = softmax(row, row.length, { temperature: t });
      expect(p[0], `T ${t}`).toBeGreaterThan(1 - 1e-6);
      for (let j = 1; j < row.length; j++) expect(p[j], `T ${t} p[${j}]`).toBeLessThan(1e-6);
    }
    // and a big temperature flattens towards uniform
    const flat = softmax(row, row.length, { temperature: 1e6 });
    expectClose(flat, new Array(row.length).fill(1 / row.length), 1e-5, 0, "T 1e6");
  });

  it("sigmoid = 1 / (1 + e^-x) in float64, over [-100, 100]", () => {
    const xs: number[] = [0, 1e-8, -1e-8, 87, -87, 88, -88, 100, -100, 30, -30];
    for (let v = -100; v <= 100; v += 0.37) xs.push(v);
    xs.push(...randn(1001, 4, 6200));
    const x = Float32Array.from(xs);
    const want = Array.from(x, (v) => 1 / (1 + Math.exp(-v)));
    // below the smallest normal float32 (1.18e-38, x < -87.3) no float32 holds 3e-5 relative: allow that absolute
    expectClose(sigmoid(x), want, SM, 1.1754943508222875e-38, "sigmoid");
    const s = sigmoid(Float32Array.of(0, 100, -100, 20, -20));
    expect(s[0]).toBe(0.5);
    expect(s[1]).toBe(1);
    expect(s[2]).toBeGreaterThanOrEqual(0);
    expect(s[2]).toBeLessThan(1.2e-38);
    expectClose([s[4]], [1 / (1 + Math.exp(20))], SM, 0, "sigmoid(-20)");
    // monotone over the sorted range
    const sorted = Float32Array.from(xs).sort();
    const ss = sigmoid(sorted);
    for (let i = 1; i < ss.length; i++) expect(ss[i], `at ${sorted[i]}`).toBeGreaterThanOrEqual(ss[i - 1]);
  });
});

describe("extreme inputs", () => {
  /** What float64 math says, rounded to the float32 output (so -6e38 becomes -Infinity). */
  const f32of = (v: number[]): number[] => Array.from(Float32Array.from(v));

  it.each([[1e30], [3e38]])("logits +-%d", (big) => {
    const rows = [[big, -big, 0], [-big, 0, big], [0, big, -big, 1, 2], [-big, -big, -big + 1e32]];
    for (const row of rows) {
      const x = Float32Array.from(row);
      const cols = x.length;
      expectClose(softmax(x, cols), refSoftmax(x, cols), SM, 0, `softmax ${row}`);
      expectClose(logSoftmax(x, cols), f32of(refLogSoftmax(x, cols)), LSM_REL, LSM_ABS, `logSoftmax ${row}`);
    }
    const x = Float32Array.of(big, -big, 0);
    expect(Array.from(softmax(x, 3), (v) => v + 0)).toEqual([1, 0, 0]); // + 0: the sign of a zero is not asked
    const lp = logSoftmax(x, 3);
    expect(lp[0] + 0).toBe(0);
    expect(lp[2]).toBe(-Math.fround(big));
    // float64 says -2 big: -2e30 fits float32, -6e38 overflows it to -Infinity
    expect(lp[1]).toBe(Math.fround(-2 * Math.fround(big)));
    if (big === 3e38) expect(lp[1]).toBe(-Infinity);
    // cross-entropy on them: 0 when the target is the big logit, 2 big when it is the small one
    const ce = crossEntropy(Float32Array.of(big, -big, 0, big, -big, 0), 3, Int32Array.of(0, 2), { reduction: "none" });
    expectClose(ce.loss as Float32Array, f32of(refCrossEntropyIndex(Float32Array.of(big, -big, 0, big, -big, 0), 3,
      [0, 2], { reduction: "none" }).losses), LOSS, 0, "losses");
    expectClose(ce.grad, [0, 0, 0, 1, 0, -1], G_REL, G_ABS, "grad");
  });

  it("-Infinity entries: probability exactly 0, log-softmax -Infinity, never NaN", () => {
    for (const cols of [2, 3, 4, 5, 8, 9, 33]) {
      const x = randn(3 * cols, 2, 7000 + cols);
      for (let i = 0; i < x.length; i += 2) x[i] = -Infinity; // every other entry, the row keeps a finite one
      const p = softmax(x, cols);
      const lp = logSoftmax(x, cols);
      expectClose(p, refSoftmax(x, cols), SM, 0, `softmax cols ${cols}`);
      expectClose(lp, refLogSoftmax(x, cols), LSM_REL, LSM_ABS, `logSoftmax cols ${cols}`);
      for (let i = 0; i < x.length; i++) {
        expect(Number.isNaN(p[i]) || Number.isNaN(lp[i]), `NaN at ${i}`).toBe(false);
        if (x[i] === -Infinity) {
          expect(Object.is(p[i], 0), `p[${i}]`).toBe(true);
          expect(lp[i]).toBe(-Infinity);
        }
      }
      for (let r = 0; r < 3; r++) expect(Math.abs(sumRow(p, r, cols) - 1)).toBeLessThanOrEqual(1e-5);
    }
  });

  it("crossEntropy with a masked (-Infinity) class that is not the target: finite, zero gradient there", () => {
    const logits = Float32Array.of(1, -Infinity, 2, 0.5, -Infinity, 3, 0, 1);
    const labels = Int32Array.of(2, 3);
    for (const red of REDUCTIONS) {
      const ref = refCrossEntropyIndex(logits, 4, labels, { reduction: red });
      const { loss, grad } = crossEntropy(logits, 4, labels, { reduction: red });
      expectLoss(loss, ref, red);
      expect(Array.from(red === "none" ? (loss as Float32Array) : [loss as number]).every(Number.isFinite)).toBe(true);
      expect(Math.abs(grad[1]), "grad at the masked class, row 0").toBe(0);
      expect(Math.abs(grad[4]), "grad at the masked class, row 1").toBe(0);
      const p = refSoftmax(logits, 4);
      const s = red === "mean" ? 0.5 : 1;
      const want = p.map((v, i) => s * (v - (i === 2 || i === 7 ? 1 : 0)));
      expectClose(grad, want, G_REL, G_ABS, `grad ${red}`);
    }
    // a probability target with 0 on the masked class
    const q = Float32Array.of(0.2, 0, 0.5, 0.3, 0, 0.1, 0.6, 0.3);
    const ref = refCrossEntropyProb(logits, 4, q, { reduction: "none" });
    const { loss, grad } = crossEntropy(logits, 4, q, { reduction: "none" });
    expectLoss(loss, ref, "none");
    expect(Array.from(grad).every(Number.isFinite)).toBe(true);
    expect(grad[1] === 0 && grad[4] === 0).toBe(true);
  });

  it("a row of all -Infinity gives NaN for that row only", () => {
    for (const cols of [1, 3, 4, 7, 16]) {
      const x = randn(3 * cols, 1, 7100 + cols);
      for (let j = 0; j < cols; j++) x[cols + j] = -Infinity;
      for (const [name, fn, ref] of [
        ["softmax", softmax, refSoftmax], ["logSoftmax", logSoftmax, refLogSoftmax],
      ] as const) {
        const y = fn(x, cols);
        expect(rowOf(y, 1, cols).every(Number.isNaN), `${name} row 1 cols ${cols}`).toBe(true);
        const want = ref(x, cols);
        for (const r of [0, 2]) {
          expectClose(rowOf(y, r, cols), rowOf(want, r, cols), LSM_REL, LSM_ABS, `${name} row ${r}`);
        }
      }
    }
  });

  it("a NaN poisons its own row and no other", () => {
    for (const cols of [1, 2, 5, 8, 13]) {
      const x = randn(3 * cols, 1, 7200 + cols);
      x[cols + (cols >> 1)] = NaN;
      const sm = softmax(x, cols);
      const lsm = logSoftmax(x, cols);
      const labels = labelsFor(rng(7300 + cols), 3, cols);
      const ce = crossEntropy(x, cols, labels, { reduction: "none" });
      const losses = ce.loss as Float32Array;
      expect(rowOf(sm, 1, cols).every(Number.isNaN), "softmax row 1").toBe(true);
      expect(rowOf(lsm, 1, cols).every(Number.isNaN), "logSoftmax row 1").toBe(true);
      expect(Number.isNaN(losses[1]), "crossEntropy loss row 1").toBe(true);
      expect(rowOf(ce.grad, 1, cols).every(Number.isNaN), "crossEntropy grad row 1").toBe(true);
      const pRef = refSoftmax(x, cols);
      const lpRef = refLogSoftmax(x, cols);
      const ceRef = refCrossEntropyIndex(x, cols, labels, { reduction: "none" });
      for (const r of [0, 2]) {
        expectClose(rowOf(sm, r, cols), rowOf(pRef, r, cols), SM, 0, `softmax row ${r}`);
        expectClose(rowOf(lsm, r, cols), rowOf(lpRef, r, cols), LSM_REL, LSM_ABS, `logSoftmax row ${r}`);
        expectClose([losses[r]], [ceRef.losses[r]], LOSS, 0, `loss row ${r}`);
        const g = rowOf(pRef, r, cols).map((v, j) => v - (j === labels[r] ? 1 : 0));
        expectClose(rowOf(ce.grad, r, cols), g, G_REL, G_ABS, `grad row ${r}`);
      }
    }
  });

  it("sigmoid of +-Infinity, NaN and -0", () => {
    const s = sigmoid(Float32Array.of(Infinity, -Infinity, NaN, -0, 0));
    expect(s[0]).toBe(1);
    expect(s[1] + 0).toBe(0);
    expect(Number.isNaN(s[2])).toBe(true);
    expect(s[3]).toBe(0.5);
    expect(s[4]).toBe(0.5);
  });

  it("zero rows: empty results, and a mean over nothing is NaN (as PyTorch)", () => {
    const e = new Float32Array(0);
    for (const f of [softmax, logSoftmax, logitsFromProbs]) {
      const r = f(e, 3);
      expect(r).toBeInstanceOf(Float32Array);
      expect(r.length).toBe(0);
    }
    expect(softmaxBackward(e, e, 4).length).toBe(0);
    expect(sigmoid(e).length).toBe(0);
    expect(Number.isNaN(crossEntropy(e, 3, new Int32Array(0)).loss as number)).toBe(true);
    expect((crossEntropy(e, 3, new Int32Array(0), { reduction: "sum" }).loss as number) + 0).toBe(0);
    const none = crossEntropy(e, 3, e, { reduction: "none" });
    expect(none.loss).toBeInstanceOf(Float32Array);
    expect((none.loss as Float32Array).length).toBe(0);
    expect(none.grad.length).toBe(0);
    expect(Number.isNaN(binaryCrossEntropyWithLogits(e, e).loss as number)).toBe(true);
    expect((binaryCrossEntropyWithLogits(e, e, { reduction: "sum" }).loss as number) + 0).toBe(0);
    // and the next call is unaffected
    const x = randn(12, 1, 7990);
    expectClose(softmax(x, 4), refSoftmax(x, 4), SM, 0, "softmax after empty calls");
  });

  it("BCE at an infinite logit: PyTorch's formula's losses (NaN where it meets Infinity times 0), a finite gradient", () => {
    // the four cases at every place of a vector and in the tail (9 elements: two whole vectors and one more)
    const cases: [number, number, number, number][] = [ // z, y, loss, grad (reduction 'none')
      [-Infinity, 0, NaN, 0], [Infinity, 1, NaN, 0], [-Infinity, 1, Infinity, -1], [Infinity, 0, NaN, 1]];
    for (let at = 0; at < 9; at++) {
      for (const [z, y, loss, grad] of cases) {
        const x = Float32Array.from({ length: 9 }, (_, i) => (i === at ? z : i - 4));
        const t = Float32Array.from({ length: 9 }, (_, i) => (i === at ? y : 0.25));
        const r = binaryCrossEntropyWithLogits(x, t, { reduction: "none" });
        const l = r.loss as Float32Array;
        expect(Object.is(l[at], loss) || (Number.isNaN(loss) && Number.isNaN(l[at])), `z ${z}, y ${y} at ${at}: ${l[at]}`).toBe(true);
        expect(r.grad[at]).toBe(grad);
        for (let i = 0; i < 9; i++) { // the finite neighbours are untouched
          if (i === at) continue;
          const want = refBce(x, t, { reduction: "none" }).losses[i];
          expect(Math.abs(l[i] - want)).toBeLessThanOrEqual(LOSS * (1 + want));
        }
      }
    }
  });

  it("equal logits give uniform", () => {
    for (const cols of [1, 2, 3, 4, 5, 7, 8, 9, 33, 1000]) {
      for (const v of [0, 3.25, -1e30, 1e30, -50]) {
        const x = new Float32Array(2 * cols).fill(v);
        expectClose(softmax(x, cols), new Array(2 * cols).fill(1 / cols), SM, 0, `softmax ${v} x ${cols}`);
        expectClose(logSoftmax(x, cols), new Array(2 * cols).fill(-Math.log(cols)), LSM_REL, LSM_ABS,
          `logSoftmax ${v} x ${cols}`);
      }
    }
  });

  it("cols = 1 gives 1 and 0", () => {
    const x = Float32Array.of(0, 5, -5, 1e30, -1e30, 3e38, -3e38, 1e-30);
    expect(Array.from(softmax(x, 1))).toEqual(new Array(x.length).fill(1));
    expect(Array.from(logSoftmax(x, 1)).every((v) => v === 0)).toBe(true);
    const ce = crossEntropy(x, 1, new Int32Array(x.length), { reduction: "sum" });
    expect((ce.loss as number) + 0).toBe(0);
    expect(Array.from(ce.grad).every((v) => v === 0)).toBe(true);
  });

  it("a 100,000-wide row", () => {
    const cols = 100_000;
    const x = randn(cols, 2, 7400);
    const p = softmax(x, cols);
    const want = refSoftmax(x, cols);
    expect(Math.abs(sumRow(p, 0, cols) - 1)).toBeLessThanOrEqual(1e-5);
    const order = Array.from({ length: cols }, (_, i) => i).sort((a, b) => want[b] - want[a]);
    const top = order.slice(0, 100);
    expectClose(top.map((i) => p[i]), top.map((i) => want[i]), SM, 0, "largest");
    const sample = Array.from({ length: 1000 }, (_, k) => (k * 997 + 13) % cols);
    expectClose(sample.map((i) => p[i]), sample.map((i) => want[i]), SM, 0, "sample");
    expectClose(p, want, SM, 0, "all");
    expectClose(logSoftmax(x, cols), refLogSoftmax(x, cols), LSM_REL, LSM_ABS, "logSoftmax");
    const { loss, grad } = crossEntropy(x, cols, Int32Array.of(order[0]));
    expectClose([loss as number], [-Math.log(want[order[0]])], LOSS, 0, "loss");
    expectClose(grad, want.map((v, i) => v - (i === order[0] ? 1 : 0)), G_REL, G_ABS, "grad");
  });

  it.each([4095, 4096, 4097, 10_001])("rows %i wide (the kernels reduce in blocks of 4096) against float64", (cols) => {
    const rows = 2;
    const x = randn(rows * cols, 2, 7500 + cols);
    const r = rng(7600 + cols);
    expectClose(softmax(x, cols), refSoftmax(x, cols), SM, 0, "softmax");
    expectClose(logSoftmax(x, cols, { temperature: 0.7 }), refLogSoftmax(x, cols, 0.7), LSM_REL, LSM_ABS, "logSoftmax");
    const dy = randn(rows * cols, 1, 7700 + cols);
    const y = Float32Array.from(refSoftmax(x, cols));
    const dot = [0, 1].map((row) => rowOf(dy, row, cols).reduce((s, v, j) => s + v * y[row * cols + j], 0));
    expectClose(softmaxBackward(y, dy, cols), Array.from(y, (v, i) => v * (dy[i] - dot[Math.floor(i / cols)])), G_REL, G_ABS,
      "softmaxBackward");
    const sumDy = [0, 1].map((row) => sumRow(dy, row, cols));
    expectClose(logSoftmaxBackward(Float32Array.from(refLogSoftmax(x, cols)), dy, cols),
      Array.from(y, (v, i) => dy[i] - v * sumDy[Math.floor(i / cols)]), G_REL, G_ABS, "logSoftmaxBackward");
    // losses: the gradient of cross-entropy is analytic here (t the soft target): (sum_c t_c) p - t
    const weight = uniform(r, cols, 0.5, 2);
    const labels = labelsFor(r, rows, cols);
    const o = { weight, labelSmoothing: 0.2, reduction: "none" as const };
    const ce = crossEntropy(x, cols, labels, o);
    expectLoss(ce.loss, refCrossEntropyIndex(x, cols, labels, o), "none");
    const eps = 0.2;
    const tIndex = (i: number): number => {
      const row = Math.floor(i / cols);
      const c = i % cols;
      return weight[c] * eps / cols + (c === labels[row] ? (1 - eps) * weight[c] : 0);
    };
    const tSum = [0, 1].map((row) => rowOf(x, row, cols).reduce((s, _, c) => s + tIndex(row * cols + c), 0));
    expectClose(ce.grad, Array.from(y, (v, i) => v * tSum[Math.floor(i / cols)] - tIndex(i)), G_REL, G_ABS, "ce grad");
    const q = probRows(r, rows, cols);
    const cp = crossEntropy(x, cols, q, { weight, reduction: "sum" });
    expectLoss(cp.loss, refCrossEntropyProb(x, cols, q, { weight, reduction: "sum" }), "sum");
    const qSum = [0, 1].map((row) => rowOf(q, row, cols).reduce((s, v, c) => s + v * weight[c], 0));
    expectClose(cp.grad, Array.from(y, (v, i) => v * qSum[Math.floor(i / cols)] - q[i] * weight[i % cols]), G_REL, G_ABS,
      "ce prob grad");
    const t = uniform(r, rows * cols);
    const pw = uniform(r, cols, 0.5, 3);
    const bce = binaryCrossEntropyWithLogits(x, t, { posWeight: pw, reduction: "none" });
    expectLoss(bce.loss, refBce(x, t, { posWeight: pw, reduction: "none" }), "none");
    const sig = (v: number): number => 1 / (1 + Math.exp(-v));
    expectClose(bce.grad, Array.from(x, (v, i) => {
      const w = pw[i % cols];
      return (1 + (w - 1) * t[i]) * sig(v) - w * t[i];
    }), G_REL, G_ABS, "bce grad");
    expectClose(softmax(logitsFromProbs(q, cols), cols), q, SM, 0, "logitsFromProbs round trip");
    const qc = quadraticCost(y, t, cols);
    expectClose([qc.loss], [refQuadratic(y, t, cols)], LOSS, 0, "quadratic");
  });

  it("posWeight broadcasts over many rows (its tiling for SIMD)", () => {
    for (const cols of [1, 3, 7, 1000, 1025]) {
      const rows = Math.ceil(5000 / cols);
      const x = randn(rows * cols, 2, 7800 + cols);
      const t = uniform(rng(7900 + cols), rows * cols);
      const pw = uniform(rng(7950 + cols), cols, 0.2, 4);
      for (const red of REDUCTIONS) {
        const got = binaryCrossEntropyWithLogits(x, t, { posWeight: pw, reduction: red });
        expectLoss(got.loss, refBce(x, t, { posWeight: pw, reduction: red }), red, `loss cols ${cols} ${red}`);
      }
    }
  });

  it.each(Array.from({ length: 40 }, (_, i) => i + 1))("width %i (every SIMD remainder) against float64", (cols) => {
    const rows = 3;
    const x = randn(rows * cols, 2, 8000 + cols);
    const p = softmax(x, cols);
    expectClose(p, refSoftmax(x, cols), SM, 0, "softmax");
    expectClose(logSoftmax(x, cols), refLogSoftmax(x, cols), LSM_REL, LSM_ABS, "logSoftmax");
    const dy = randn(rows * cols, 1, 8100 + cols);
    expectClose(softmaxBackward(Float32Array.from(refSoftmax(x, cols)), dy, cols), numericSoftmaxVjp(x, dy, cols),
      G_REL, G_ABS, "softmaxBackward");
    expectClose(logSoftmaxBackward(Float32Array.from(refLogSoftmax(x, cols)), dy, cols),
      numericLogSoftmaxVjp(x, dy, cols), G_REL, G_ABS, "logSoftmaxBackward");
    const labels = labelsFor(rng(8200 + cols), rows, cols);
    const o = { labelSmoothing: 0.1, weight: uniform(rng(8300 + cols), cols, 0.5, 1.5), reduction: "sum" as const };
    const ce = crossEntropy(x, cols, labels, o);
    expectLoss(ce.loss, refCrossEntropyIndex(x, cols, labels, o), "sum");
    expectClose(ce.grad, numericGrad((z) => refCrossEntropyIndex(z, cols, labels, o).loss, x), G_REL, G_ABS, "ce grad");
    const lf = logitsFromProbs(p, cols);
    expectClose(softmax(lf, cols), p, SM, 0, "round trip");
    const target = uniform(rng(8400 + cols), rows * cols);
    const bce = binaryCrossEntropyWithLogits(x, target, { reduction: "none" });
    expectLoss(bce.loss, refBce(x, target, { reduction: "none" }), "none");
    expectClose(sigmoid(x), Array.from(x, (v) => 1 / (1 + Math.exp(-v))), SM, 0, "sigmoid");
    const q = quadraticCost(p, target, cols);
    expectClose([q.loss], [refQuadratic(p, target, cols)], LOSS, 0, "quadratic");
  });
});

describe("options", () => {
  const cols = 7;
  const rows = 3;
  const x = randn(rows * cols, 1.5, 9000);
  const dy = randn(rows * cols, 1, 9001);
  const y = Float32Array.from(refSoftmax(x, cols));
  const logp = Float32Array.from(refLogSoftmax(x, cols));
  const labels = Int32Array.of(1, 6, 0);
  const q = probRows(rng(9002), rows, cols);
  const p = probRows(rng(9003), rows, cols);
  const weight = uniform(rng(9004), cols, 0.5, 2);
  const posWeight = uniform(rng(9005), cols, 0.5, 2);
  const bceTarget = uniform(rng(9006), rows * cols);

  // every function that fills an out / grad buffer: name, a call with that buffer, and what it must hold
  type Call = (buf: Float32Array | undefined) => Float32Array;
  const outs: [string, Call, () => number[]][] = [
    ["softmax", (o) => softmax(x, cols, { out: o }), () => refSoftmax(x, cols)],
    ["softmax with temperature", (o) => softmax(x, cols, { out: o, temperature: 0.5 }), () => refSoftmax(x, cols, 0.5)],
    ["logSoftmax", (o) => logSoftmax(x, cols, { out: o }), () => refLogSoftmax(x, cols)],
    ["softmaxBackward", (o) => softmaxBackward(y, dy, cols, { out: o }), () => numericSoftmaxVjp(x, dy, cols)],
    ["logSoftmaxBackward", (o) => logSoftmaxBackward(logp, dy, cols, { out: o }), () => numericLogSoftmaxVjp(x, dy, cols)],
    ["sigmoid", (o) => sigmoid(x, { out: o }), () => Array.from(x, (v) => 1 / (1 + Math.exp(-v)))],
    ["logitsFromProbs", (o) => logitsFromProbs(p, cols, { out: o }), () => refLogits(p, cols)],
  ];
  const grads: [string, (g: Float32Array | undefined) => Float32Array, () => number[]][] = [
    ["crossEntropy index", (g) => crossEntropy(x, cols, labels, { grad: g, weight }).grad,
      () => numericGrad((z) => refCrossEntropyIndex(z, cols, labels, { weight }).loss, x)],
    ["crossEntropy prob", (g) => crossEntropy(x, cols, q, { grad: g, labelSmoothing: 0.1 }).grad,
      () => numericGrad((z) => refCrossEntropyProb(z, cols, q, { labelSmoothing: 0.1 }).loss, x)],
    ["binaryCrossEntropyWithLogits", (g) => binaryCrossEntropyWithLogits(x, bceTarget, { grad: g, posWeight }).grad,
      () => numericGrad((z) => refBce(z, bceTarget, { posWeight }).loss, x)],
    ["quadraticCost", (g) => quadraticCost(x, bceTarget, cols, { grad: g }).grad,
      () => numericGrad((v) => refQuadratic(v, bceTarget, cols), x)],
  ];

  it.each([...outs, ...grads].map(([name, call, want]) => [name, call, want] as const))(
    "%s: a given out / grad buffer is filled and returned; a longer one gets its prefix filled", (name, call, want) => {
      const isLog = name === "logSoftmax" || name === "logitsFromProbs";
      const [rel, abs] = name.startsWith("softmax") && !name.includes("Backward") || name === "sigmoid" ? [SM, 0]
        : isLog ? [LSM_REL, LSM_ABS] : [G_REL, G_ABS];
      const plain = call(undefined);
      expect(plain).toBeInstanceOf(Float32Array);
      expect(plain.length).toBe(rows * cols);
      expectClose(plain, want(), rel, abs, `${name} (new buffer)`);

      const out = new Float32Array(rows * cols).fill(NaN);
      expect(call(out)).toBe(out);
      expect(Array.from(out)).toEqual(Array.from(plain));

      const long = new Float32Array(rows * cols + 5).fill(42);
      expect(call(long)).toBe(long);
      expect(Array.from(long.subarray(0, rows * cols))).toEqual(Array.from(plain));
      expect(Array.from(long.subarray(rows * cols))).toEqual([42, 42, 42, 42, 42]);
    });

  it("inputs are never mutated, by any function", () => {
    const inputs = { x, dy, y, logp, labels, q, p, weight, posWeight, bceTarget };
    const u8 = Uint8Array.from(labels);
    const u16 = Uint16Array.from(labels);
    const withNaN = Float32Array.from(x);
    withNaN[3] = NaN;
    withNaN[10] = -Infinity;
    const before = new Map<ArrayLike<number>, number[]>();
    for (const v of [...Object.values(inputs), u8, u16, withNaN]) before.set(v, snapshot(v));
    for (const red of REDUCTIONS) {
      softmax(x, cols); softmax(x, cols, { temperature: 0.3 }); softmax(withNaN, cols);
      logSoftmax(x, cols); logSoftmax(x, cols, { temperature: 3 }); logSoftmax(withNaN, cols);
      softmaxBackward(y, dy, cols); logSoftmaxBackward(logp, dy, cols);
      crossEntropy(x, cols, labels, { reduction: red, weight, labelSmoothing: 0.2, ignoreIndex: 6 });
      crossEntropy(x, cols, u8, { reduction: red }); crossEntropy(x, cols, u16, { reduction: red, weight });
      crossEntropy(withNaN, cols, labels, { reduction: red });
      crossEntropy(x, cols, q, { reduction: red, weight, labelSmoothing: 0.1 });
      binaryCrossEntropyWithLogits(x, bceTarget, { reduction: red, posWeight });
      binaryCrossEntropyWithLogits(x, bceTarget, { reduction: red });
      sigmoid(x); quadraticCost(x, bceTarget, cols); logitsFromProbs(p, cols);
      softmax(x, cols, { out: new Float32Array(x.length) });
      crossEntropy(x, cols, labels, { reduction: red, grad: new Float32Array(x.length) });
    }
    for (const [v, snap] of before) expect(snapshot(v)).toEqual(snap);
  });

  it("in-place use (out === x, grad === logits) works", () => {
    const copy = (v: Float32Array): Float32Array => Float32Array.from(v);
    const cases: [string, (b: Float32Array) => Float32Array, Float32Array, () => Float32Array][] = [
      ["softmax", (b) => softmax(b, cols, { out: b }), x, () => softmax(x, cols)],
      ["softmax T", (b) => softmax(b, cols, { out: b, temperature: 0.7 }), x, () => softmax(x, cols, { temperature: 0.7 })],
      ["logSoftmax", (b) => logSoftmax(b, cols, { out: b }), x, () => logSoftmax(x, cols)],
      ["sigmoid", (b) => sigmoid(b, { out: b }), x, () => sigmoid(x)],
      ["logitsFromProbs", (b) => logitsFromProbs(b, cols, { out: b }), p, () => logitsFromProbs(p, cols)],
      ["softmaxBackward out === dy", (b) => softmaxBackward(y, b, cols, { out: b }), dy, () => softmaxBackward(y, dy, cols)],
      ["softmaxBackward out === y", (b) => softmaxBackward(b, dy, cols, { out: b }), y, () => softmaxBackward(y, dy, cols)],
      ["logSoftmaxBackward out === dy", (b) => logSoftmaxBackward(logp, b, cols, { out: b }), dy,
        () => logSoftmaxBackward(logp, dy, cols)],
      ["logSoftmaxBackward out === logp", (b) => logSoftmaxBackward(b, dy, cols, { out: b }), logp,
        () => logSoftmaxBackward(logp, dy, cols)],
      ["crossEntropy index", (b) => crossEntropy(b, cols, labels, { grad: b, weight, labelSmoothing: 0.1 }).grad, x,
        () => crossEntropy(x, cols, labels, { weight, labelSmoothing: 0.1 }).grad],
      ["crossEntropy prob", (b) => crossEntropy(b, cols, q, { grad: b }).grad, x, () => crossEntropy(x, cols, q).grad],
      ["crossEntropy prob, grad === target", (b) => crossEntropy(x, cols, b, { grad: b }).grad, q,
        () => crossEntropy(x, cols, q).grad],
      ["bce", (b) => binaryCrossEntropyWithLogits(b, bceTarget, { grad: b, posWeight }).grad, x,
        () => binaryCrossEntropyWithLogits(x, bceTarget, { posWeight }).grad],
      ["bce grad === target", (b) => binaryCrossEntropyWithLogits(x, b, { grad: b }).grad, bceTarget,
        () => binaryCrossEntropyWithLogits(x, bceTarget).grad],
      ["quadraticCost", (b) => quadraticCost(b, bceTarget, cols, { grad: b }).grad, x,
        () => quadraticCost(x, bceTarget, cols).grad],
    ];
    for (const [name, call, input, want] of cases) {
      const b = copy(input);
      const expected = want();
      expect(call(b), name).toBe(b);
      expect(Array.from(b), name).toEqual(Array.from(expected));
      expect(Array.from(b), `${name} changed its buffer`).not.toEqual(Array.from(input));
    }
  });

  it("reduction 'none' returns a Float32Array of a loss per row (per element for BCE); 'mean' is the default", () => {
    const ce = crossEntropy(x, cols, labels, { reduction: "none" });
    expect(ce.loss).toBeInstanceOf(Float32Array);
    expect((ce.loss as Float32Array).length).toBe(rows);
    expectLoss(ce.loss, refCrossEntropyIndex(x, cols, labels, { reduction: "none" }), "none");
    const cp = crossEntropy(x, cols, q, { reduction: "none" });
    expect((cp.loss as Float32Array).length).toBe(rows);
    const bce = binaryCrossEntropyWithLogits(x, bceTarget, { reduction: "none" });
    expect(bce.loss).toBeInstanceOf(Float32Array);
    expect((bce.loss as Float32Array).length).toBe(rows * cols);
    const mean = crossEntropy(x, cols, labels);
    expectLoss(mean.loss, refCrossEntropyIndex(x, cols, labels, { reduction: "mean" }), "mean");
    const bmean = binaryCrossEntropyWithLogits(x, bceTarget);
    expectLoss(bmean.loss, refBce(x, bceTarget, { reduction: "mean" }), "mean");
    // 'none' gives the gradient of the summed losses, so it equals 'sum'
    expectClose(ce.grad, crossEntropy(x, cols, labels, { reduction: "sum" }).grad, 1e-6, 0, "none vs sum");
  });

  it("ignoreIndex defaults to -100 with Int32Array labels", () => {
    const l = Int32Array.of(1, -100, 4);
    const { loss, grad } = crossEntropy(x, cols, l, { reduction: "none" });
    const losses = loss as Float32Array;
    expect(losses[1] + 0).toBe(0);
    expect(rowOf(grad, 1, cols).every((v) => v === 0)).toBe(true);
    const mean = crossEntropy(x, cols, l);
    // the mean is over the two counted rows
    expectClose([mean.loss as number], [(losses[0] + losses[2]) / 2], LOSS, 0, "mean over counted rows");
    expectLoss(mean.loss, refCrossEntropyIndex(x, cols, l), "mean");
    expectClose(mean.grad, numericGrad((z) => refCrossEntropyIndex(z, cols, l).loss, x), G_REL, G_ABS, "grad");
    // with another ignoreIndex, -100 is an error, not ignored
    expect(() => crossEntropy(x, cols, l, { ignoreIndex: 3 })).toThrow(RangeError);
  });

  it("Uint8Array and Uint16Array labels give the same as Int32Array", () => {
    for (const o of [{}, { weight }, { labelSmoothing: 0.3, reduction: "none" as const }, { ignoreIndex: 6 },
      { reduction: "sum" as const, weight, ignoreIndex: 0 }]) {
      const want = crossEntropy(x, cols, labels, o);
      for (const l of [Uint8Array.from(labels), Uint16Array.from(labels)]) {
        const got = crossEntropy(x, cols, l, o);
        expect(snapshot(typeof got.loss === "number" ? [got.loss] : got.loss))
          .toEqual(snapshot(typeof want.loss === "number" ? [want.loss] : want.loss));
        expect(Array.from(got.grad)).toEqual(Array.from(want.grad));
      }
    }
    // ignoreIndex 255 in a Uint8Array
    const u8 = Uint8Array.of(1, 255, 4);
    const i32 = Int32Array.of(1, 255, 4);
    const a = crossEntropy(x, cols, u8, { ignoreIndex: 255 });
    const b = crossEntropy(x, cols, i32, { ignoreIndex: 255 });
    expect(a.loss).toBe(b.loss);
    expectLoss(a.loss, refCrossEntropyIndex(x, cols, i32, { ignoreIndex: 255 }), "mean");
  });

  it.each([1, 3, 4, 8, 33])("one rule at %d rows: each row's loss in float64, summed in float64", (rows) => {
    // [3e38, -3e38, 0] with class 1: m - z_y = 6e38 overflows float32 but not the float64 loss (narrow rows go four
    // at a time as columns, wide ones one by one: both paths keep it)
    const x = new Float32Array(rows * 3);
    for (let r = 0; r < rows; r++) x.set([3e38, -3e38, 0], r * 3);
    const y = new Int32Array(rows).fill(1);
    const row = Math.fround(3e38) * 2; // + log(1 + e^-3e38 + e^-6e38) = 0 in float32
    expect(crossEntropy(x, 3, y).loss).toBe(row);
    expect(crossEntropy(x, 3, y, { reduction: "sum" }).loss).toBe(row * rows);
    expect(Array.from(crossEntropy(x, 3, y, { reduction: "none" }).loss as Float32Array)).toEqual(new Array(rows).fill(Infinity)); // float32, as PyTorch's
    const wide = new Float32Array(rows * 40);
    for (let r = 0; r < rows; r++) wide.set([3e38, -3e38, 0], r * 40);
    expect(crossEntropy(wide, 40, y).loss).toBe(crossEntropy(wide.subarray(0, 40), 40, y.subarray(0, 1)).loss);
  });

  it("all-zero class weights: a 'mean' is 0/0 = NaN and so is every counted row's gradient, as PyTorch 1.13", () => {
    // torch: F.cross_entropy(z, [1, -100, 2], weight=[1, 0, 0]) -> nan, grad rows 0 and 2 nan, the ignored row 0
    const z = Float32Array.of(2, 3, 4, 1, 0, -1, 0.5, 0.5, 0);
    for (const o of [{ weight: Float32Array.of(1, 0, 0) }, { weight: new Float32Array(3), labelSmoothing: 0.2 }]) {
      const { loss, grad } = crossEntropy(z, 3, Int32Array.of(1, -100, 2), o);
      expect(loss).toBeNaN();
      expect(Array.from(grad, (v) => Number.isNaN(v))).toEqual([true, true, true, false, false, false, true, true, true]);
      expect(Array.from(grad.subarray(3, 6))).toEqual([0, 0, 0]);
      // 'sum' and 'none' divide by nothing: loss 0, gradient 0 (w_y = 0)
      const sum = crossEntropy(z, 3, Int32Array.of(1, -100, 2), { ...o, reduction: "sum" });
      if (o.labelSmoothing === undefined) expect(sum.loss).toBe(0);
    }
  });

  it("a 'mean' with every row ignored gives a NaN loss and an all-zero grad (as PyTorch)", () => {
    for (const o of [{}, { weight }, { labelSmoothing: 0.1 }]) {
      const { loss, grad } = crossEntropy(x, cols, Int32Array.of(-100, -100, -100), o);
      expect(Number.isNaN(loss as number)).toBe(true);
      expect(Array.from(grad).every((v) => v === 0)).toBe(true);
    }
    const sum = crossEntropy(x, cols, Int32Array.of(5, 5, 5), { ignoreIndex: 5, reduction: "sum" });
    expect((sum.loss as number) + 0).toBe(0);
    expect(Array.from(sum.grad).every((v) => v === 0)).toBe(true);
    const none = crossEntropy(x, cols, Int32Array.of(5, 5, 5), { ignoreIndex: 5, reduction: "none" });
    expect(Array.from(none.loss as Float32Array)).toEqual([0, 0, 0]);
  });
});

describe("memory", () => {
  const bytes = (): number => wasmMemory()!.buffer.byteLength;

  it("wasmMemory() is the instance's memory", () => {
    expect(wasmMemory()).toBeInstanceOf(WebAssembly.Memory);
    expect(bytes()).toBeGreaterThan(0);
  });

  it("repeated calls of one shape do not grow memory", () => {
    // inputs big enough that 50 calls leaking their arena would need twice the current memory
    const cols = 100;
    const n = Math.ceil(bytes() / 4 / 25 / cols) * cols;
    const x = randn(n, 1, 9100);
    const labels = labelsFor(rng(9101), n / cols, cols);
    const q = probRows(rng(9102), n / cols, cols);
    const t = uniform(rng(9103), n);
    const calls = [
      () => softmax(x, cols), () => logSoftmax(x, cols), () => crossEntropy(x, cols, labels),
      () => crossEntropy(x, cols, labels, { reduction: "none", weight: new Float32Array(cols).fill(1) }),
      () => crossEntropy(x, cols, q), () => binaryCrossEntropyWithLogits(x, t, { posWeight: new Float32Array(cols).fill(2) }),
      () => softmaxBackward(x, t, cols), () => quadraticCost(x, t, cols),
    ];
    for (const call of calls) {
      call(); // warm-up
      const before = bytes();
      for (let i = 0; i < 50; i++) call();
      expect(bytes()).toBe(before);
    }
    // and the answers are still right
    expectClose(softmax(x, cols), refSoftmax(x, cols), SM, 0, "softmax");
  });

  it("a much larger input grows memory, and later small calls still give right answers", () => {
    const small = randn(3 * 9, 1, 9200);
    const smallLabels = Int32Array.of(0, 4, 8);
    const before = bytes();
    const cols = 1000;
    const n = Math.ceil((before / 4) * 1.5 / cols) * cols;
    const big = randn(n, 1, 9201);
    const p = softmax(big, cols);
    expect(bytes()).toBeGreaterThan(before);
    const sample = Array.from({ length: 200 }, (_, k) => (k * 7919) % n);
    const ref = refSoftmax(big.subarray(0, 5 * cols), cols);
    expectClose(p.subarray(0, 5 * cols), ref, SM, 0, "big softmax, first rows");
    for (let r = 0; r < n / cols; r += Math.max(1, Math.floor(n / cols / 20))) {
      expect(Math.abs(sumRow(p, r, cols) - 1)).toBeLessThanOrEqual(1e-5);
    }
    expect(sample.every((i) => p[i] > 0 && p[i] < 1)).toBe(true);
    expectClose(softmax(small, 9), refSoftmax(small, 9), SM, 0, "small softmax after growth");
    const ce = crossEntropy(small, 9, smallLabels, { reduction: "sum" });
    expectLoss(ce.loss, refCrossEntropyIndex(small, 9, smallLabels, { reduction: "sum" }), "sum");
    // crossEntropy growing memory mid-call (logits, labels, weight, losses all copied in)
    const before2 = bytes();
    const n2 = Math.ceil((before2 / 4) * 1.2 / cols) * cols;
    const big2 = randn(n2, 1, 9202);
    const labels2 = labelsFor(rng(9203), n2 / cols, cols);
    const w = uniform(rng(9204), cols, 0.5, 1.5);
    const r2 = crossEntropy(big2, cols, labels2, { reduction: "none", weight: w });
    expect(bytes()).toBeGreaterThan(before2);
    const head = refCrossEntropyIndex(big2.subarray(0, 3 * cols), cols, labels2.subarray(0, 3),
      { reduction: "none", weight: w });
    expectClose((r2.loss as Float32Array).subarray(0, 3), head.losses, LOSS, 0, "big crossEntropy head");
    expectClose(softmax(small, 9), refSoftmax(small, 9), SM, 0, "small softmax after second growth");
    const ce2 = crossEntropy(small, 9, smallLabels, { reduction: "none" });
    expectLoss(ce2.loss, refCrossEntropyIndex(small, 9, smallLabels, { reduction: "none" }), "none");
    expectClose(ce2.grad, numericGrad((z) => refCrossEntropyIndex(z, 9, smallLabels, { reduction: "sum" }).loss, small),
      G_REL, G_ABS, "small grad after growth");
  });
});
