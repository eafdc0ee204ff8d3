// WasmArray: floats that live in Wasm memory, which every kernel reads and writes in place. The spec: for every kernel,
// every width from 1 to past two SIMD blocks of the narrow paths and a row longer than a sum block, and every way to
// pass operands (plain Float32Array, WasmArray, a WasmArray's data view; out absent, plain, resident, or one of the
// inputs itself), the results are the plain call's bits, inputs other than `out` are untouched and `out` is returned.
// Then the lifetime: views that survive memory.grow, dispose, reuse of freed blocks, and the errors.
import { beforeAll, describe, expect, it } from "vitest";
import {
  ready, softmax, logSoftmax, softmaxBackward, logSoftmaxBackward, crossEntropy, binaryCrossEntropyWithLogits, sigmoid,
  quadraticCost, logitsFromProbs, wasmArray, WasmArray, wasmMemory, type Floats,
} from "../dist/index.js";
import { randn } from "./helpers.js";

beforeAll(async () => {
  await ready();
  // grow memory once up front, so no call below detaches the data views a case holds
  wasmArray(1 << 22).dispose();
});

/** The float bits (NaN payloads and signed zeros compared exactly). */
function bits(v: Float32Array): number[] {
  return Array.from(new Uint32Array(v.slice().buffer));
}

function data(v: Floats): Float32Array {
  return v instanceof WasmArray ? v.data : v;
}

type Run = (ins: Floats[], out: Floats | undefined) => { out: Floats; loss?: number | Float32Array };
type Way = "plain" | "wasmArray" | "view";
const WAYS: Way[] = ["plain", "wasmArray", "view"];

/**
 * Runs `run` with every way of passing each input and every choice of out, against the all-plain call's bits; n is
 * the output's length.
 */
function checkOperands(name: string, inputs: Float32Array[], n: number, run: Run): void {
  const want = run(inputs.map((v) => v.slice()), undefined);
  const wantBits = bits(data(want.out));
  const combos = WAYS.length ** inputs.length;
  for (let c = 0; c < combos; c++) {
    const ways = inputs.map((_, i) => WAYS[Math.floor(c / WAYS.length ** i) % WAYS.length]);
    const outs: (string | number)[] = ["none", "plain", "wasmArray", "view", ...inputs.map((_, i) => i)];
    for (const outWay of outs) {
      const owned: WasmArray[] = [];
      const held = inputs.map((v, i) => (ways[i] === "plain" ? v.slice() : (owned.push(wasmArray(v)), owned.at(-1)!)));
      const outArray = outWay === "wasmArray" || outWay === "view" ? wasmArray(n) : undefined;
      if (outArray) owned.push(outArray);
      // views are taken after every allocation (memory is already grown, so none detaches)
      const ins = held.map((h, i) => (ways[i] === "view" ? (h as WasmArray).data : h));
      const out = outWay === "none" ? undefined : outWay === "plain" ? new Float32Array(n)
        : outWay === "wasmArray" ? outArray : outWay === "view" ? outArray!.data : ins[outWay as number];
      const what = `${name} (${ways.join(", ")} -> out ${outWay})`;
      const got = run(ins, out);
      if (out !== undefined) expect(got.out, what).toBe(out);
      else expect(got.out, what).toBeInstanceOf(Float32Array);
      expect(bits(data(got.out)), what).toEqual(wantBits);
      expect(got.loss, what).toEqual(want.loss);
      inputs.forEach((v, i) => {
        if (outWay !== i) expect(bits(data(held[i])), `${what}: input ${i} untouched`).toEqual(bits(v));
      });
      for (const a of owned) a.dispose();
    }
  }
}

// narrow rows go 8 and 4 at a time as columns below 32 classes; 2 x 4099 crosses a 4096-element sum block
const SHAPES: [number, number][] = [];
for (let cols = 1; cols <= 40; cols++) for (const rows of [1, 4, 9]) SHAPES.push([rows, cols]);
SHAPES.push([13, 7], [2, 4099]);

function probs(rows: number, cols: number, seed: number): Float32Array {
  return softmax(randn(rows * cols, 2, seed), cols);
}

describe("every kernel takes WasmArrays, their views and plain arrays alike, with the same bits", () => {
  it("softmax and logSoftmax", () => {
    for (const [rows, cols] of SHAPES) {
      const x = randn(rows * cols, 3, rows * 100 + cols);
      checkOperands(`softmax ${rows}x${cols}`, [x], x.length, ([a], out) => ({ out: softmax(a, cols, { out }) }));
      checkOperands(`logSoftmax ${rows}x${cols}`, [x], x.length,
        ([a], out) => ({ out: logSoftmax(a, cols, { out, temperature: 0.7 }) }));
    }
  });

  it("softmaxBackward and logSoftmaxBackward (out may be either input)", () => {
    for (const [rows, cols] of SHAPES) {
      const y = probs(rows, cols, cols);
      const dy = randn(rows * cols, 1, rows + cols);
      checkOperands(`softmaxBackward ${rows}x${cols}`, [y, dy], y.length,
        ([a, b], out) => ({ out: softmaxBackward(a, b, cols, { out }) }));
      checkOperands(`logSoftmaxBackward ${rows}x${cols}`, [logSoftmax(y, cols), dy], y.length,
        ([a, b], out) => ({ out: logSoftmaxBackward(a, b, cols, { out }) }));
    }
  });

  it("crossEntropy with class indices, every reduction", () => {
    for (const [rows, cols] of SHAPES) {
      const z = randn(rows * cols, 3, cols * 7 + rows);
      const labels = Int32Array.from({ length: rows }, (_, i) => (i * 5 + 1) % cols);
      for (const opts of [{}, { reduction: "none" as const, labelSmoothing: 0.1 }, { reduction: "sum" as const }]) {
        checkOperands(`crossEntropy ${rows}x${cols} ${JSON.stringify(opts)}`, [z], z.length, ([a], grad) => {
          const r = crossEntropy(a, cols, labels, { ...opts, grad });
          return { out: r.grad, loss: r.loss };
        });
      }
    }
  });

  it("crossEntropy with probability targets (grad may even be the target)", () => {
    for (const [rows, cols] of SHAPES) {
      const z = randn(rows * cols, 3, cols * 3 + rows);
      const q = probs(rows, cols, rows * 11 + cols);
      checkOperands(`crossEntropy soft ${rows}x${cols}`, [z, q], z.length, ([a, t], grad) => {
        const r = crossEntropy(a, cols, t, { grad, labelSmoothing: 0.05 });
        return { out: r.grad, loss: r.loss };
      });
    }
  });

  it("binaryCrossEntropyWithLogits, sigmoid, quadraticCost and logitsFromProbs", () => {
    for (const [rows, cols] of SHAPES) {
      const z = randn(rows * cols, 3, cols + 17 * rows);
      const t = probs(rows, cols, cols * 5);
      const posWeight = Float32Array.from({ length: cols }, (_, i) => 0.5 + i);
      checkOperands(`binaryCrossEntropyWithLogits ${rows}x${cols}`, [z, t], z.length, ([a, b], grad) => {
        const r = binaryCrossEntropyWithLogits(a, b, { grad, posWeight, reduction: "none" });
        return { out: r.grad, loss: r.loss };
      });
      checkOperands(`sigmoid ${rows}x${cols}`, [z], z.length, ([a], out) => ({ out: sigmoid(a, { out }) }));
      checkOperands(`quadraticCost ${rows}x${cols}`, [softmax(z, cols), t], z.length, ([a, b], grad) => {
        const r = quadraticCost(a, b, cols, { grad });
        return { out: r.grad, loss: r.loss };
      });
      checkOperands(`logitsFromProbs ${rows}x${cols}`, [t], t.length, ([p], out) => ({ out: logitsFromProbs(p, cols, { out }) }));
    }
  });
});

describe("wasmArray(lengthOrValues)", () => {
  it("makes zeros, or float32 copies of any array-like of numbers", () => {
    const z = wasmArray(5);
    expect(z).toBeInstanceOf(WasmArray);
    expect(z.length).toBe(5);
    expect(Array.from(z.data)).toEqual([0, 0, 0, 0, 0]);
    expect(z.data.buffer).toBe(wasmMemory()!.buffer);
    const a = wasmArray([1.5, -2, 1 / 3]);
    expect(Array.from(a.data)).toEqual([1.5, -2, Math.fround(1 / 3)]);
    const src = Float64Array.of(0.1, 0.2);
    const b = wasmArray(src);
    src[0] = 9; // a copy: the source stays the caller's
    expect(Array.from(b.data)).toEqual([Math.fround(0.1), Math.fround(0.2)]);
    expect(wasmArray(0).data.length).toBe(0);
    for (const v of [z, a, b]) v.dispose();
  });

  it("hands out zeros even where a disposed array left its floats", () => {
    const a = wasmArray(Float32Array.from({ length: 64 }, (_, i) => i + 1));
    const at = a.data.byteOffset;
    a.dispose();
    const b = wasmArray(64);
    expect(b.data.byteOffset).toBe(at); // the freed block is reused
    expect(b.data.every((v) => v === 0)).toBe(true);
    b.dispose();
  });

  it("keeps its data across memory.grow: data is remade after a growth detaches the old view", () => {
    const a = wasmArray([1, 2, 3]);
    const before = a.data;
    const pages = wasmMemory()!.buffer.byteLength;
    const big = wasmArray(pages); // pages floats: 4x the memory's bytes, so it must grow
    expect(wasmMemory()!.buffer.byteLength).toBeGreaterThan(pages);
    expect(before.length).toBe(0); // the old view is detached, as every view of a grown memory is
    expect(Array.from(a.data)).toEqual([1, 2, 3]);
    expect(Array.from(softmax(a, 3, { out: a }).data)).toEqual(Array.from(softmax(Float32Array.of(1, 2, 3), 3)));
    big.dispose();
    a.dispose();
  });

  it("repeated calls on WasmArrays and alloc / dispose cycles never grow memory", () => {
    const x = wasmArray(randn(64 * 1000, 2, 3));
    const labels = Int32Array.from({ length: 64 }, (_, i) => i * 13);
    softmax(x, 1000, { out: x });
    const bytes = wasmMemory()!.buffer.byteLength;
    for (let i = 0; i < 200; i++) {
      const g = wasmArray(64 * 1000);
      crossEntropy(x, 1000, labels, { grad: g });
      logSoftmax(x, 1000);
      g.dispose();
    }
    expect(wasmMemory()!.buffer.byteLength).toBe(bytes);
    x.dispose();
  });

  it("dispose() frees once, then every use throws a clear error", () => {
    const a = wasmArray([1, 2, 3]);
    expect(a.disposed).toBe(false);
    a.dispose();
    a.dispose(); // a second call does nothing
    expect(a.disposed).toBe(true);
    expect(() => a.data).toThrow(/WasmArray\.data was read after dispose\(\)/);
    expect(() => softmax(a, 3)).toThrow(TypeError);
    expect(() => softmax(a, 3)).toThrow("softmax: x is a WasmArray that was disposed");
    expect(() => softmax(Float32Array.of(1, 2, 3), 3, { out: a })).toThrow("softmax: opts.out is a WasmArray that was disposed");
    expect(() => crossEntropy(Float32Array.of(1, 2, 3), 3, a)).toThrow("crossEntropy: target is a WasmArray that was disposed");
  });

  it("disposes at the end of a `using` block (Symbol.dispose)", () => {
    const a = wasmArray(4);
    (a as unknown as Record<symbol, () => void>)[Symbol.dispose]();
    expect(a.disposed).toBe(true);
  });

  it("refuses bad arguments with a TypeError or RangeError naming them", () => {
    for (const v of [-1, 1.5, NaN, 2 ** 30]) {
      expect(() => wasmArray(v)).toThrow(RangeError);
      expect(() => wasmArray(v)).toThrow(/wasmArray: length must be an integer in \[0, 2\^30\)/);
    }
    for (const v of ["3", null, undefined, {}, true]) {
      expect(() => wasmArray(v as unknown as number)).toThrow(TypeError);
      expect(() => wasmArray(v as unknown as number)).toThrow(/wasmArray: lengthOrValues must be a length or an array-like/);
    }
    const a = wasmArray(2);
    expect(() => wasmArray(a as unknown as number[])).toThrow(/a WasmArray \(copy its data\)/);
    expect(() => new (WasmArray as unknown as new () => WasmArray)()).toThrow(/make a WasmArray with wasmArray/);
    a.dispose();
  });

  it("logitsFromProbs checks a resident p in Wasm (a SIMD pass): the first bad value by index, at every position", () => {
    const out = wasmArray(64);
    for (const n of [1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 47, 64]) {
      for (const j of new Set([0, n >> 1, n - 1])) {
        for (const bad of [NaN, -0.5, Infinity, -Infinity, -1e-45]) {
          const p = wasmArray(Float32Array.from({ length: n }, (_, i) => (i === j ? bad : 1 / n)));
          if (j + 1 < n) p.data[n - 1] = NaN; // a later bad value is not the one reported
          out.data.fill(7);
          expect(() => logitsFromProbs(p, n, { out })).toThrow(RangeError);
          expect(() => logitsFromProbs(p, n, { out })).toThrow(`logitsFromProbs: p[${j}] = ${Math.fround(bad)} must be a finite probability >= 0`);
          expect(out.data.every((v) => v === 7)).toBe(true);
          p.dispose();
        }
      }
      const ok = wasmArray(Float32Array.from({ length: n }, (_, i) => (i === 0 ? -0 : 0))); // -0 and 0 are probabilities
      expect(() => logitsFromProbs(ok, n)).not.toThrow();
      ok.dispose();
    }
    out.dispose();
  });

  it("a bad argument leaves a resident out untouched", () => {
    const out = wasmArray([7, 7, 7]);
    expect(() => softmax(Float32Array.of(1, 2), 3, { out })).toThrow(RangeError);
    expect(() => softmax(Float32Array.of(1, 2, 3), 3, { out: wasmArray(2) })).toThrow(/opts.out.length \(2\) must be at least 3/);
    expect(Array.from(out.data)).toEqual([7, 7, 7]);
    out.dispose();
  });
});
