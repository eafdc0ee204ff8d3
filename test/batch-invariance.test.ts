// A row's results do not depend on the batch it comes in: alone, or inside a bigger batch at any offset, every
// row-wise kernel gives it the same bits (output, gradient, per-row loss). Narrow rows (under 32 columns) run four at
// a time as column vectors, a last partial group padded with a repeat of its last row; these pin that no row takes
// another path (before, the rows past a multiple of four ran one by one and differed in the last bit).
import { beforeAll, describe, expect, it } from "vitest";
import {
  ready, softmax, logSoftmax, softmaxBackward, logSoftmaxBackward, crossEntropy, binaryCrossEntropyWithLogits,
  quadraticCost, logitsFromProbs, Network,
} from "../dist/index.js";
import { randn, rng } from "./helpers.js";

const MAX_ROWS = 17;
const MAX_COLS = 40;

beforeAll(async () => {
  await ready();
});

/** The index of the first float whose bits differ (NaN payloads included), or -1. */
function firstDiff(got: Float32Array, want: Float32Array): number {
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Per-row results of a call on `rows` rows starting at row `from` of the batch: each array holds whole rows. */
type RowWise = (from: number, rows: number) => { perRow: Float32Array; width: number }[];

/**
 * For every cols in 1..MAX_COLS, the kernel on MAX_ROWS rows, then on every window of 1..MAX_ROWS rows at every
 * offset: each window's rows must equal the same rows of the whole batch, bit for bit.
 */
function expectInvariant(name: string, make: (cols: number) => RowWise): void {
  for (let cols = 1; cols <= MAX_COLS; cols++) {
    const run = make(cols);
    const whole = run(0, MAX_ROWS);
    for (let rows = 1; rows <= MAX_ROWS; rows++) {
      for (let from = 0; from + rows <= MAX_ROWS; from++) {
        const part = run(from, rows);
        part.forEach(({ perRow, width }, k) => {
          const want = whole[k].perRow.subarray(from * width, (from + rows) * width);
          const at = firstDiff(perRow, want);
          if (at >= 0) {
            expect.fail(`${name}, ${cols} cols, rows [${from}, ${from + rows}) of ${MAX_ROWS}, result ${k}: row ` +
              `${from + Math.floor(at / width)} float ${at % width} is ${perRow[at]}, ${want[at]} in the whole batch`);
          }
        });
      }
    }
  }
}

/** Logits ~ N(0, 3^2) for MAX_ROWS rows of cols, and the rows [from, from + rows) of any such array as a copy. */
const logits = (cols: number, seed: number) => randn(MAX_ROWS * cols, 3, seed + cols);
const rowsOf = (a: Float32Array, cols: number, from: number, rows: number) => a.slice(from * cols, (from + rows) * cols);

/** Probability rows (each sums to 1) of cols. */
const probs = (cols: number, seed: number) => softmax(logits(cols, seed), cols);

/** A class per row, every seventh row `ignore` when given. */
function labelsFor(cols: number, seed: number, ignore?: number): Int32Array {
  const r = rng(seed + cols);
  return Int32Array.from({ length: MAX_ROWS }, (_, i) => (ignore !== undefined && i % 7 === 3 ? ignore : Math.floor(r() * cols)));
}

describe("each row gets the same bits whatever the batch around it", () => {
  it("softmax and logSoftmax, with and without a temperature", () => {
    for (const temperature of [undefined, 0.7, 3]) {
      expectInvariant(`softmax (temperature ${temperature})`, (cols) => {
        const x = logits(cols, 1);
        return (from, rows) => [{ perRow: softmax(rowsOf(x, cols, from, rows), cols, { temperature }), width: cols }];
      });
      expectInvariant(`logSoftmax (temperature ${temperature})`, (cols) => {
        const x = logits(cols, 2);
        return (from, rows) => [{ perRow: logSoftmax(rowsOf(x, cols, from, rows), cols, { temperature }), width: cols }];
      });
    }
  });

  it("softmax with a huge temperature on huge logits (scaled before the max)", () => {
    // logits up to ~2.4e38: x - max could overflow before the scaling by 1 / 1e37
    for (const fn of [softmax, logSoftmax]) {
      expectInvariant(`${fn.name} (temperature 1e37)`, (cols) => {
        const x = logits(cols, 3).map((v) => v * 2e37);
        return (from, rows) => [{ perRow: fn(rowsOf(x, cols, from, rows), cols, { temperature: 1e37 }), width: cols }];
      });
    }
  });

  it("softmaxBackward and logSoftmaxBackward", () => {
    expectInvariant("softmaxBackward", (cols) => {
      const y = probs(cols, 4);
      const dy = randn(MAX_ROWS * cols, 1, 5 + cols);
      return (from, rows) => [{
        perRow: softmaxBackward(rowsOf(y, cols, from, rows), rowsOf(dy, cols, from, rows), cols), width: cols,
      }];
    });
    expectInvariant("logSoftmaxBackward", (cols) => {
      const logp = logSoftmax(logits(cols, 6), cols);
      const dy = randn(MAX_ROWS * cols, 1, 7 + cols);
      return (from, rows) => [{
        perRow: logSoftmaxBackward(rowsOf(logp, cols, from, rows), rowsOf(dy, cols, from, rows), cols), width: cols,
      }];
    });
  });

  it("crossEntropy with class labels: per-row loss and gradient, plain and with weights, smoothing and ignored rows", () => {
    for (const variant of ["plain", "weighted"] as const) {
      expectInvariant(`crossEntropy (labels, ${variant})`, (cols) => {
        const x = logits(cols, 8);
        const labels = labelsFor(cols, 9, variant === "weighted" ? -100 : undefined);
        const r = rng(10 + cols);
        const weight = Float32Array.from({ length: cols }, () => 0.25 + r());
        const opts = variant === "weighted" ? { weight, labelSmoothing: 0.1 } : {};
        return (from, rows) => {
          const { loss, grad } = crossEntropy(rowsOf(x, cols, from, rows), cols, labels.slice(from, from + rows),
            { reduction: "none", ...opts });
          return [{ perRow: loss as Float32Array, width: 1 }, { perRow: grad, width: cols }];
        };
      });
    }
  });

  it("crossEntropy with probability targets: per-row loss and gradient, plain and with weights and smoothing", () => {
    for (const variant of ["plain", "weighted"] as const) {
      expectInvariant(`crossEntropy (probabilities, ${variant})`, (cols) => {
        const x = logits(cols, 11);
        const q = probs(cols, 12);
        const r = rng(13 + cols);
        const weight = Float32Array.from({ length: cols }, () => 0.25 + r());
        const opts = variant === "weighted" ? { weight, labelSmoothing: 0.2 } : {};
        return (from, rows) => {
          const { loss, grad } = crossEntropy(rowsOf(x, cols, from, rows), cols, rowsOf(q, cols, from, rows),
            { reduction: "none", ...opts });
          return [{ perRow: loss as Float32Array, width: 1 }, { perRow: grad, width: cols }];
        };
      });
    }
  });

  it("binaryCrossEntropyWithLogits, with and without pos weights, and logitsFromProbs", () => {
    expectInvariant("binaryCrossEntropyWithLogits", (cols) => {
      const x = logits(cols, 14);
      const r = rng(15 + cols);
      const t = Float32Array.from({ length: MAX_ROWS * cols }, () => r());
      const posWeight = Float32Array.from({ length: cols }, () => 0.5 + 2 * r());
      return (from, rows) => {
        const plain = binaryCrossEntropyWithLogits(rowsOf(x, cols, from, rows), rowsOf(t, cols, from, rows), { reduction: "none" });
        const weighted = binaryCrossEntropyWithLogits(rowsOf(x, cols, from, rows), rowsOf(t, cols, from, rows),
          { reduction: "none", posWeight });
        return [plain.loss as Float32Array, plain.grad, weighted.loss as Float32Array, weighted.grad]
          .map((perRow) => ({ perRow, width: cols }));
      };
    });
    expectInvariant("logitsFromProbs", (cols) => {
      const p = probs(cols, 16);
      for (let i = 5; i < p.length; i += 11) p[i] = 0; // ln 0 = -Infinity, left out of the row's mean
      return (from, rows) => [{ perRow: logitsFromProbs(rowsOf(p, cols, from, rows), cols), width: cols }];
    });
  });

  it("quadraticCost's gradient (a - y) / rows: the same rows in any order of a batch of the same size", () => {
    // its gradient holds 1 / rows, so a batch of another size differs by definition: rotate the rows instead
    for (let cols = 1; cols <= MAX_COLS; cols++) {
      const a = probs(cols, 17);
      const y = probs(cols, 18);
      const whole = quadraticCost(a, y, cols).grad;
      for (let shift = 1; shift < MAX_ROWS; shift++) {
        const rot = (v: Float32Array) => {
          const out = new Float32Array(v.length);
          out.set(v.subarray(shift * cols));
          out.set(v.subarray(0, shift * cols), (MAX_ROWS - shift) * cols);
          return out;
        };
        const at = firstDiff(quadraticCost(rot(a), rot(y), cols).grad, rot(whole));
        expect(at, `quadraticCost, ${cols} cols, rows rotated by ${shift}: float ${at}`).toBe(-1);
      }
    }
  });
});

describe("Network.predict", () => {
  it("gives 3 rows the same bits alone as inside a batch of 256, at the start, the middle and the end", () => {
    for (const output of ["softmax", "sigmoid"] as const) {
      const net = new Network({ sizes: [12, 16, 10], output, seed: 5 });
      const x = randn(256 * 12, 1, 19);
      const whole = net.predict(x);
      for (const from of [0, 101, 253]) {
        const part = net.predict(x.slice(from * 12, (from + 3) * 12));
        const at = firstDiff(part, whole.subarray(from * 10, (from + 3) * 10));
        expect(at, `${output} output, rows [${from}, ${from + 3}): float ${at} is ${part[at]}, ` +
          `${whole[from * 10 + at]} in the batch of 256`).toBe(-1);
      }
      net.dispose();
    }
  });
});
