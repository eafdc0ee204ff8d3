// The small-call path (issue 12): what its cuts must leave as they were. The checks throw from functions of their own
// (so V8 inlines the checks and the call scaffold): each message is pinned here word for word. The engine remembers the
// last few small arrays that are not views of Wasm memory (a view's buffer never changes): an array passed again is
// still copied, a WasmArray's data still read and written in place, before and after memory grows; a view a growth
// detached is refused each time, never remembered; more arrays than it remembers, and large ones, take the full check. The label count without
// class weights has its own loop: ignored rows, classes at the edges and every label type give the mean's denominator.
import { beforeAll, describe, expect, it } from "vitest";
import {
  ready, softmax, logSoftmax, crossEntropy, softmaxBackward, wasmArray, wasmMemory,
} from "../dist/index.js";
import { randn } from "./helpers.js";

beforeAll(async () => {
  await ready();
});

/** The float bits (NaN payloads and signed zeros compared exactly). */
function bits(v: Float32Array): number[] {
  return Array.from(new Uint32Array(v.slice().buffer));
}

function message(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return `${(err as Error).constructor.name}: ${(err as Error).message}`;
  }
  return "no error";
}

describe("the checks' messages, word for word", () => {
  const x = new Float32Array(12);
  const cases: [string, () => unknown, string][] = [
    ["x not floats", () => softmax([1, 2] as unknown as Float32Array, 2),
      "TypeError: softmax: x must be a Float32Array or a WasmArray, got an Array"],
    ["x a disposed WasmArray", () => {
      const w = wasmArray(4);
      w.dispose();
      return softmax(w, 2);
    }, "TypeError: softmax: x is a WasmArray that was disposed"],
    ["cols a string", () => softmax(x, "3" as unknown as number), "TypeError: softmax: cols must be a number, got \"3\""],
    ["cols 0", () => softmax(x, 0), "RangeError: softmax: cols must be a positive integer, got 0"],
    ["cols 2.5", () => logSoftmax(x, 2.5), "RangeError: logSoftmax: cols must be a positive integer, got 2.5"],
    ["cols 2^31", () => softmax(x, 2 ** 31), "RangeError: softmax: cols must be a positive integer, got 2147483648"],
    ["length not a multiple", () => softmax(x, 5),
      "RangeError: softmax: x.length (12) must be a multiple of cols (5)"],
    ["opts null", () => softmax(x, 3, null as unknown as undefined), "TypeError: softmax: opts must be an object, got null"],
    ["opts an array", () => softmax(x, 3, [] as unknown as undefined),
      "TypeError: softmax: opts must be an object, got an Array"],
    ["unknown option", () => softmax(x, 3, { outt: x } as unknown as undefined),
      "TypeError: softmax: unknown option opts.outt (expected one of temperature, out)"],
    ["out too short", () => softmax(x, 3, { out: new Float32Array(11) }),
      "RangeError: softmax: opts.out.length (11) must be at least 12"],
    ["out not floats", () => softmax(x, 3, { out: new Float64Array(12) as unknown as Float32Array }),
      "TypeError: softmax: opts.out must be a Float32Array or a WasmArray, got Float64Array"],
    ["temperature a string", () => softmax(x, 3, { temperature: "1" as unknown as number }),
      "TypeError: softmax: opts.temperature must be a number, got \"1\""],
    ["temperature 0", () => softmax(x, 3, { temperature: 0 }),
      "RangeError: softmax: opts.temperature must be a positive finite number, got 0"],
    ["temperature Infinity", () => softmax(x, 3, { temperature: Infinity }),
      "RangeError: softmax: opts.temperature must be a positive finite number, got Infinity"],
    ["temperature NaN", () => softmax(x, 3, { temperature: NaN }),
      "RangeError: softmax: opts.temperature must be a positive finite number, got NaN"],
    ["dy length", () => softmaxBackward(x, new Float32Array(9), 3),
      "RangeError: softmaxBackward: dy.length (9) must equal y.length (12)"],
    ["reduction a number", () => crossEntropy(x, 3, new Int32Array(4), { reduction: 1 as unknown as "sum" }),
      "TypeError: crossEntropy: opts.reduction must be a string, got 1"],
    ["reduction 'avg'", () => crossEntropy(x, 3, new Int32Array(4), { reduction: "avg" as unknown as "sum" }),
      "RangeError: crossEntropy: opts.reduction must be 'mean', 'sum' or 'none', got \"avg\""],
    ["ignoreIndex a string", () => crossEntropy(x, 3, new Int32Array(4), { ignoreIndex: "1" as unknown as number }),
      "TypeError: crossEntropy: opts.ignoreIndex must be a number, got \"1\""],
    ["ignoreIndex 0.5", () => crossEntropy(x, 3, new Int32Array(4), { ignoreIndex: 0.5 }),
      "RangeError: crossEntropy: opts.ignoreIndex must be a 32-bit integer, got 0.5"],
    ["ignoreIndex 2^31", () => crossEntropy(x, 3, new Int32Array(4), { ignoreIndex: 2 ** 31 }),
      "RangeError: crossEntropy: opts.ignoreIndex must be a 32-bit integer, got 2147483648"],
    ["labelSmoothing null", () => crossEntropy(x, 3, new Int32Array(4), { labelSmoothing: null as unknown as number }),
      "TypeError: crossEntropy: opts.labelSmoothing must be a number, got null"],
    ["labelSmoothing 1.5", () => crossEntropy(x, 3, new Int32Array(4), { labelSmoothing: 1.5 }),
      "RangeError: crossEntropy: opts.labelSmoothing must be in [0, 1], got 1.5"],
    ["label -1", () => crossEntropy(x, 3, Int32Array.of(0, 1, -1, 2)),
      "RangeError: crossEntropy: target[2] = -1 must be a class in [0, 3) or ignoreIndex (-100)"],
    ["label = cols", () => crossEntropy(x, 3, Uint8Array.of(3, 0, 1, 2)),
      "RangeError: crossEntropy: target[0] = 3 must be a class in [0, 3) or ignoreIndex (-100)"],
    ["Uint16 label 65535", () => crossEntropy(x, 3, Uint16Array.of(0, 1, 2, 65535)),
      "RangeError: crossEntropy: target[3] = 65535 must be a class in [0, 3) or ignoreIndex (-100)"],
    ["label -2^31", () => crossEntropy(x, 3, Int32Array.of(0, -(2 ** 31), 1, 2)),
      "RangeError: crossEntropy: target[1] = -2147483648 must be a class in [0, 3) or ignoreIndex (-100)"],
    ["weighted, label 7", () => crossEntropy(x, 3, Int32Array.of(0, 1, 7, 2), { weight: new Float32Array(3).fill(1) }),
      "RangeError: crossEntropy: target[2] = 7 must be a class in [0, 3) or ignoreIndex (-100)"],
  ];
  it.each(cases)("%s", (_, f, want) => {
    expect(message(f)).toBe(want);
  });

  it("a refused call leaves a caller's out untouched", () => {
    const out = new Float32Array(12).fill(7);
    expect(() => softmax(x, 3, { out, temperature: 0 })).toThrow(RangeError);
    expect(() => crossEntropy(x, 3, Int32Array.of(0, 1, 5, 2), { grad: out })).toThrow(RangeError);
    expect(Array.from(out)).toEqual(new Array(12).fill(7));
  });
});

describe("arrays passed again, and views of Wasm memory around them", () => {
  it("a caller's arrays stay copies, a WasmArray's data stays in place, across a growth of memory", () => {
    const cols = 10;
    const rows = 64;
    const x = randn(rows * cols, 3, 41);
    const want = softmax(x, cols); // fresh out: the plain call's bits
    const out = new Float32Array(rows * cols);
    const w = wasmArray(x);
    const wOut = wasmArray(rows * cols);
    for (let round = 0; round < 3; round++) {
      out.fill(0);
      // the same Float32Arrays again (remembered as outside memory): results into out, x untouched
      expect(softmax(x, cols, { out })).toBe(out);
      expect(bits(out)).toEqual(bits(want));
      // a WasmArray's data view as the input and as out: read and written in place
      const view = wOut.data;
      view.fill(0);
      expect(softmax(w.data, cols, { out: view })).toBe(view);
      expect(bits(wOut.data)).toEqual(bits(want));
      // then memory grows: the old views are detached (or, shared, shorter); new ones are found again
      const before = wasmMemory()!.buffer.byteLength;
      const big = wasmArray((before >>> 2) + 65536);
      expect(wasmMemory()!.buffer.byteLength).toBeGreaterThan(before);
      big.dispose();
    }
    // a Float32Array that happens to hold the data of a view is a copy all the same: in place only through the view
    const copy = w.data.slice();
    expect(bits(softmax(copy, cols))).toEqual(bits(want));
    expect(bits(copy)).toEqual(bits(x));
    w.dispose();
    wOut.dispose();
  });

  it("a view detached by a growth is refused every time it is passed, never remembered as a plain array", () => {
    const w = wasmArray(randn(40, 1, 44));
    const old = w.data;
    const before = wasmMemory()!.buffer.byteLength;
    const big = wasmArray((before >>> 2) + 65536);
    expect(old.length).toBe(0);
    const want = "TypeError: softmax: x is a view of Wasm memory from before memory grew (it was detached); " +
      "read the WasmArray's data again after calls that may grow memory";
    for (let i = 0; i < 3; i++) expect(message(() => softmax(old, 4))).toBe(want);
    big.dispose();
    w.dispose();
  });

  it("more arrays than the engine remembers, and arrays too large to remember, in turn with resident ones", () => {
    const cols = 5;
    const plain = Array.from({ length: 7 }, (_, i) => randn(8 * cols, 2, 50 + i));
    const large = randn(20000 * cols, 2, 60); // 400 KB: above what the engine keeps a reference to
    const w = wasmArray(plain[0]);
    const wOut = wasmArray(plain[0].length);
    const want = plain.map((x) => softmax(x.slice(), cols));
    const wantLarge = softmax(large.slice(), cols);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < plain.length; i++) {
        const out = new Float32Array(plain[i].length);
        expect(bits(softmax(plain[i], cols, { out }))).toEqual(bits(want[i]));
        expect(softmax(w, cols, { out: wOut })).toBe(wOut);
        expect(bits(wOut.data)).toEqual(bits(want[0]));
      }
      expect(bits(softmax(large, cols))).toEqual(bits(wantLarge));
    }
    w.dispose();
    wOut.dispose();
  });

  it("an in-place call through a view (out = x) after plain calls on the same data", () => {
    const cols = 7;
    const x = randn(5 * cols, 2, 42);
    const want = logSoftmax(x, cols);
    const w = wasmArray(x);
    logSoftmax(x, cols, { out: new Float32Array(x.length) });
    const view = w.data;
    expect(logSoftmax(view, cols, { out: view })).toBe(view);
    expect(bits(w.data)).toEqual(bits(want));
    w.dispose();
  });
});

describe("the label count without class weights", () => {
  const cols = 4;
  const z = randn(6 * cols, 2, 43);

  /** The mean loss as the sum over the counted rows divided by their count. */
  function meanOf(labels: Int32Array | Uint8Array | Uint16Array, ignoreIndex: number): number {
    const rows = crossEntropy(z, cols, labels, { reduction: "none", ignoreIndex }).loss as Float32Array;
    let s = 0;
    let n = 0;
    for (let r = 0; r < labels.length; r++) {
      if (labels[r] === ignoreIndex) continue;
      s += rows[r];
      n++;
    }
    return s / n;
  }

  it.each([
    ["Int32Array, -100 ignored", Int32Array.of(0, 3, -100, 1, -100, 2), -100, 4],
    ["Int32Array, a class ignored (2 counts nothing)", Int32Array.of(0, 2, 2, 1, 3, 2), 2, 3],
    ["Uint8Array, 255 ignored", Uint8Array.of(255, 3, 0, 255, 1, 2), 255, 4],
    ["Uint16Array, none ignored", Uint16Array.of(3, 3, 0, 0, 1, 2), -100, 6],
    ["every row ignored", Int32Array.of(1, 1, 1, 1, 1, 1), 1, 0],
  ] as const)("%s", (_, labels, ignoreIndex, counted) => {
    const sum = crossEntropy(z, cols, labels, { reduction: "sum", ignoreIndex }).loss as number;
    const mean = crossEntropy(z, cols, labels, { ignoreIndex }).loss as number;
    if (counted === 0) {
      expect(sum).toBe(0);
      expect(mean).toBeNaN(); // 0 / 0, as PyTorch
      return;
    }
    expect(mean).toBe(sum * (1 / counted));
    expect(mean).toBeCloseTo(meanOf(labels, ignoreIndex), 5);
  });
});
