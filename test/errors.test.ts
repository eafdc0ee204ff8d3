// Every bad argument throws (TypeError for a wrong type, RangeError for a wrong value, the message naming the
// argument) before any pointer reaches Wasm: the Wasm memory is byte-for-byte unchanged, inputs and out buffers are
// untouched, and the next good call of the same function gives the right answer.
import { beforeAll, describe, expect, it } from "vitest";
import {
  ready, softmax, logSoftmax, softmaxBackward, logSoftmaxBackward, crossEntropy, binaryCrossEntropyWithLogits, sigmoid,
  quadraticCost, logitsFromProbs, wasmMemory,
} from "../dist/index.js";
import { expectClose, randn, refLogSoftmax, refSoftmax, rng } from "./helpers.js";
import {
  labelsFor, numericGrad, numericLogSoftmaxVjp, numericSoftmaxVjp, probRows, refBce, refCrossEntropyIndex,
  refCrossEntropyProb, refQuadratic, uniform,
} from "./reference.js";

beforeAll(() => ready());

const ROWS = 3;
const COLS = 5;
const N = ROWS * COLS;
const CE_ROWS = 4;

/** Inputs of a call: fresh random values per case, so a copy into Wasm memory would change its bytes. */
interface Data {
  x: Float32Array; y: Float32Array; dy: Float32Array; labels: Int32Array; q: Float32Array; p: Float32Array;
  w: Float32Array; t: Float32Array; out: Float32Array; logits4: Float32Array;
}
let seed = 1;
function fresh(): Data {
  const s = 1000 * seed++;
  const x = randn(N, 1.5, s);
  return {
    x,
    y: Float32Array.from(refSoftmax(x, COLS)),
    dy: randn(N, 1, s + 1),
    labels: labelsFor(rng(s + 2), ROWS, COLS),
    q: probRows(rng(s + 3), ROWS, COLS),
    p: probRows(rng(s + 4), ROWS, COLS),
    w: uniform(rng(s + 5), COLS, 0.5, 2),
    t: uniform(rng(s + 6), N),
    out: new Float32Array(N).fill(12345),
    logits4: randn(CE_ROWS * COLS, 1, s + 7),
  };
}

type Fn = "softmax" | "logSoftmax" | "softmaxBackward" | "logSoftmaxBackward" | "crossEntropy" |
  "binaryCrossEntropyWithLogits" | "sigmoid" | "quadraticCost" | "logitsFromProbs";

// The shape of each function's arguments: its good positional arguments, which positions hold float arrays (and
// their names), where cols and opts go, and the name of its output buffer option.
interface Shape {
  call: (...args: unknown[]) => unknown;
  args: (d: Data) => unknown[];
  f32: [number, string][];
  cols?: number;
  opts: number;
  buf: "out" | "grad";
  typo: string;
}
const call = <F extends (...a: never[]) => unknown>(f: F) => f as unknown as (...args: unknown[]) => unknown;
const SHAPES: Record<Fn, Shape> = {
  softmax: { call: call(softmax), args: (d) => [d.x, COLS], f32: [[0, "x"]], cols: 1, opts: 2, buf: "out", typo: "temprature" },
  logSoftmax: { call: call(logSoftmax), args: (d) => [d.x, COLS], f32: [[0, "x"]], cols: 1, opts: 2, buf: "out", typo: "Temperature" },
  softmaxBackward: {
    call: call(softmaxBackward), args: (d) => [d.y, d.dy, COLS], f32: [[0, "y"], [1, "dy"]], cols: 2, opts: 3, buf: "out",
    typo: "output",
  },
  logSoftmaxBackward: {
    call: call(logSoftmaxBackward), args: (d) => [d.y.map(Math.log), d.dy, COLS], f32: [[0, "logp"], [1, "dy"]], cols: 2,
    opts: 3, buf: "out", typo: "grad",
  },
  crossEntropy: {
    call: call(crossEntropy), args: (d) => [d.x, COLS, d.labels], f32: [[0, "logits"]], cols: 1, opts: 3, buf: "grad",
    typo: "labelsmoothing",
  },
  binaryCrossEntropyWithLogits: {
    call: call(binaryCrossEntropyWithLogits), args: (d) => [d.x, d.t], f32: [[0, "logits"], [1, "target"]], opts: 2,
    buf: "grad", typo: "pos_weight",
  },
  sigmoid: { call: call(sigmoid), args: (d) => [d.x], f32: [[0, "x"]], opts: 1, buf: "out", typo: "temperature" },
  quadraticCost: {
    call: call(quadraticCost), args: (d) => [d.y, d.t, COLS], f32: [[0, "a"], [1, "y"]], cols: 2, opts: 3, buf: "grad",
    typo: "reduction",
  },
  logitsFromProbs: { call: call(logitsFromProbs), args: (d) => [d.p, COLS], f32: [[0, "p"]], cols: 1, opts: 2, buf: "out", typo: "outt" },
};

// A good call of each function, checked against float64 references: run after every error.
const G = fresh();
const GOOD: Record<Fn, () => void> = {
  softmax: () => expectClose(softmax(G.x, COLS, { temperature: 0.5 }), refSoftmax(G.x, COLS, 0.5), 3e-5, 0, "softmax"),
  logSoftmax: () => expectClose(logSoftmax(G.x, COLS), refLogSoftmax(G.x, COLS), 1e-5, 3e-6, "logSoftmax"),
  softmaxBackward: () => expectClose(softmaxBackward(G.y, G.dy, COLS), numericSoftmaxVjp(G.x, G.dy, COLS), 1e-4, 1e-6,
    "softmaxBackward"),
  logSoftmaxBackward: () => expectClose(logSoftmaxBackward(Float32Array.from(refLogSoftmax(G.x, COLS)), G.dy, COLS),
    numericLogSoftmaxVjp(G.x, G.dy, COLS), 1e-4, 1e-6, "logSoftmaxBackward"),
  crossEntropy: () => {
    const o = { weight: G.w, labelSmoothing: 0.1 };
    const { loss, grad } = crossEntropy(G.x, COLS, G.labels, o);
    expectClose([loss as number], [refCrossEntropyIndex(G.x, COLS, G.labels, o).loss], 2e-5, 0, "loss");
    expectClose(grad, numericGrad((z) => refCrossEntropyIndex(z, COLS, G.labels, o).loss, G.x), 1e-4, 1e-6, "grad");
    const r = crossEntropy(G.x, COLS, G.q, { reduction: "none" });
    expectClose(r.loss as Float32Array, refCrossEntropyProb(G.x, COLS, G.q, { reduction: "none" }).losses, 2e-5, 0, "prob");
  },
  binaryCrossEntropyWithLogits: () => {
    const o = { posWeight: G.w };
    const { loss, grad } = binaryCrossEntropyWithLogits(G.x, G.t, o);
    expectClose([loss as number], [refBce(G.x, G.t, o).loss], 2e-5, 0, "loss");
    expectClose(grad, numericGrad((z) => refBce(z, G.t, o).loss, G.x), 1e-4, 1e-6, "grad");
  },
  sigmoid: () => expectClose(sigmoid(G.x), Array.from(G.x, (v) => 1 / (1 + Math.exp(-v))), 3e-5, 0, "sigmoid"),
  quadraticCost: () => {
    const { loss, grad } = quadraticCost(G.y, G.t, COLS);
    expectClose([loss], [refQuadratic(G.y, G.t, COLS)], 2e-5, 0, "loss");
    expectClose(grad, numericGrad((v) => refQuadratic(v, G.t, COLS), G.y), 1e-4, 1e-6, "grad");
  },
  logitsFromProbs: () => expectClose(softmax(logitsFromProbs(G.p, COLS), COLS), G.p, 3e-5, 0, "round trip"),
};

type ErrorClass = typeof TypeError | typeof RangeError;
type Case = [label: string, fn: Fn, make: (d: Data) => unknown[], err: ErrorClass, msg: RegExp];
const cases: Case[] = [];

/** The good arguments of fn with position i replaced (and opts merged in). */
function withArg(fn: Fn, i: number, v: unknown): (d: Data) => unknown[] {
  return (d) => {
    const a = SHAPES[fn].args(d);
    a[i] = v;
    return a;
  };
}
function withOpts(fn: Fn, opts: (d: Data) => unknown, args?: (d: Data) => unknown[]): (d: Data) => unknown[] {
  return (d) => {
    const a = (args ?? SHAPES[fn].args)(d);
    while (a.length < SHAPES[fn].opts) a.push(undefined);
    a[SHAPES[fn].opts] = opts(d);
    return a;
  };
}
const str = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : Array.isArray(v) ? "Array" :
  ArrayBuffer.isView(v) ? v.constructor.name : typeof v === "function" ? "a function" : String(v));
const word = (name: string): RegExp => new RegExp(`(^|[^\\w.])${name.replace(/[.[\]]/g, "\\$&")}\\b`);

// ---- the checks every function shares ----
for (const fn of Object.keys(SHAPES) as Fn[]) {
  const s = SHAPES[fn];
  for (const [i, name] of s.f32) {
    const wrong: unknown[] = [Array.from({ length: N }, () => 0.5), new Float64Array(N), "1,2,3", null, undefined,
      new Int32Array(N), 42, {}];
    for (const v of wrong) cases.push([`${name} = ${str(v)}`, fn, withArg(fn, i, v), TypeError, word(name)]);
  }
  if (s.cols !== undefined) {
    for (const v of ["5", undefined, null, {}, true]) cases.push([`cols = ${str(v)}`, fn, withArg(fn, s.cols, v), TypeError, /cols/]);
    for (const v of [0, -1, 2.5, NaN, Infinity, -Infinity, 2 ** 32]) {
      cases.push([`cols = ${v}`, fn, withArg(fn, s.cols, v), RangeError, /cols/]);
    }
    // 15 floats do not make rows of 4 or of 2
    for (const v of [4, 2]) {
      cases.push([`cols = ${v} (not dividing the length)`, fn, withArg(fn, s.cols, v), RangeError,
        new RegExp(`${s.f32[0][1]}\\.length.*cols`)]);
    }
    cases.push([`${s.f32[0][1]}.length 14, not a multiple of cols`, fn,
      (d) => { const a = s.args(d); a[0] = (a[0] as Float32Array).subarray(0, 14); return a; }, RangeError, /cols/]);
  }
  for (const v of ["fast", 5, null, [], true, () => ({})]) {
    cases.push([`opts = ${str(v)}`, fn, withOpts(fn, () => v), TypeError, /opts/]);
  }
  cases.push([`unknown option ${s.typo}`, fn, withOpts(fn, () => ({ [s.typo]: 1 })), TypeError, new RegExp(s.typo)]);
  const buf = `opts.${s.buf}`;
  for (const v of [Array.from({ length: N }, () => 0), new Float64Array(N), "out", 7, null]) {
    cases.push([`${buf} = ${str(v)}`, fn, withOpts(fn, () => ({ [s.buf]: v })), TypeError, word(buf)]);
  }
  for (const len of [N - 1, 0]) {
    cases.push([`${buf} of length ${len}`, fn, withOpts(fn, () => ({ [s.buf]: new Float32Array(len) })), RangeError, word(buf)]);
  }
}

// ---- temperature ----
for (const fn of ["softmax", "logSoftmax"] as const) {
  for (const t of [0, -1, NaN, Infinity, -Infinity, -0]) {
    cases.push([`temperature ${Object.is(t, -0) ? "-0" : t}`, fn, withOpts(fn, (d) => ({ temperature: t, out: d.out })),
      RangeError, /temperature/]);
  }
  for (const t of ["2", null, [2]]) {
    cases.push([`temperature ${str(t)}`, fn, withOpts(fn, () => ({ temperature: t })), TypeError, /temperature/]);
  }
}

// ---- mismatched lengths ----
for (const fn of ["softmaxBackward", "logSoftmaxBackward"] as const) {
  cases.push(["dy shorter than y", fn, (d) => { const a = SHAPES[fn].args(d); a[1] = d.dy.subarray(0, 10); return a; },
    RangeError, /dy/]);
  cases.push(["dy longer than y", fn, (d) => { const a = SHAPES[fn].args(d); a[1] = randn(20, 1, 7); return a; },
    RangeError, /dy/]);
}
cases.push(["y shorter than a", "quadraticCost", (d) => [d.y, d.t.subarray(0, 10), COLS], RangeError, word("y")]);
cases.push(["y longer than a", "quadraticCost", (d) => [d.y, uniform(rng(3), 20), COLS], RangeError, word("y")]);
cases.push(["target shorter than logits", "binaryCrossEntropyWithLogits", (d) => [d.x, d.t.subarray(0, 14)], RangeError,
  /target/]);
cases.push(["target longer than logits", "binaryCrossEntropyWithLogits", (d) => [d.x, uniform(rng(4), 16)], RangeError,
  /target/]);
cases.push(["probability target of the wrong length", "crossEntropy", (d) => [d.x, COLS, d.q.subarray(0, 10)], RangeError,
  /target/]);
cases.push(["labels: one per row, not per element", "crossEntropy", (d) => [d.x, COLS, new Int32Array(N)], RangeError,
  /target/]);
cases.push(["labels: too few", "crossEntropy", (d) => [d.x, COLS, d.labels.subarray(0, 2)], RangeError, /target/]);

// ---- crossEntropy's targets and options ----
for (const v of [[0, 1, 2], new Float64Array(ROWS), "012", null, undefined, new Int16Array(ROWS), new Uint32Array(ROWS),
  new Int8Array(ROWS), 1]) {
  cases.push([`target = ${str(v)}`, "crossEntropy", withArg("crossEntropy", 2, v), TypeError, /target/]);
}
/** crossEntropy on 4 rows with these labels (a given grad buffer must stay untouched). */
const ce = (labels: Int32Array | Uint8Array | Uint16Array, opts?: object) => (d: Data): unknown[] =>
  [d.logits4, COLS, labels, { ...opts, grad: new Float32Array(CE_ROWS * COLS).fill(-3) }];
cases.push(["label 5 = cols at target[3]", "crossEntropy", ce(Int32Array.of(0, 1, 2, 5)), RangeError, /target\[3\]/]);
cases.push(["label 99 at target[0]", "crossEntropy", ce(Int32Array.of(99, 1, 2, 3)), RangeError, /target\[0\]/]);
cases.push(["negative label -1 at target[1]", "crossEntropy", ce(Int32Array.of(0, -1, 2, 3)), RangeError, /target\[1\]/]);
cases.push(["label -100 when ignoreIndex is 2", "crossEntropy", ce(Int32Array.of(0, 1, -100, 3), { ignoreIndex: 2 }),
  RangeError, /target\[2\]/]);
cases.push(["label -2147483648", "crossEntropy", ce(Int32Array.of(0, 1, 2, -2147483648)), RangeError, /target\[3\]/]);
cases.push(["Uint8Array label 200", "crossEntropy", ce(Uint8Array.of(0, 200, 1, 1)), RangeError, /target\[1\]/]);
cases.push(["Uint16Array label 65535", "crossEntropy", ce(Uint16Array.of(0, 1, 1, 65535)), RangeError, /target\[3\]/]);
cases.push(["Uint8Array label 255 without ignoreIndex 255", "crossEntropy", ce(Uint8Array.of(255, 0, 1, 1)), RangeError,
  /target\[0\]/]);
const ceOpts = (opts: (d: Data) => object) => withOpts("crossEntropy", opts);
for (const len of [COLS - 1, COLS + 1, 0, N]) {
  cases.push([`weight of length ${len}`, "crossEntropy", ceOpts(() => ({ weight: new Float32Array(len).fill(1) })), RangeError,
    /opts\.weight/]);
}
cases.push(["weight of the wrong length with a probability target", "crossEntropy",
  withOpts("crossEntropy", () => ({ weight: new Float32Array(COLS + 2).fill(1) }), (d) => [d.x, COLS, d.q]), RangeError,
  /opts\.weight/]);
for (const v of [[1, 1, 1, 1, 1], new Float64Array(COLS), "w", null, 1]) {
  cases.push([`weight = ${str(v)}`, "crossEntropy", ceOpts(() => ({ weight: v })), TypeError, /opts\.weight/]);
}
for (const v of [-0.1, 1.5, NaN, Infinity, -Infinity, 1.0000001]) {
  cases.push([`labelSmoothing ${v}`, "crossEntropy", ceOpts((d) => ({ labelSmoothing: v, grad: d.out })), RangeError, /labelSmoothing/]);
  cases.push([`labelSmoothing ${v}, probability target`, "crossEntropy",
    withOpts("crossEntropy", () => ({ labelSmoothing: v }), (d) => [d.x, COLS, d.q]), RangeError, /labelSmoothing/]);
}
for (const v of ["0.1", null, true]) {
  cases.push([`labelSmoothing ${str(v)}`, "crossEntropy", ceOpts(() => ({ labelSmoothing: v })), TypeError, /labelSmoothing/]);
}
for (const fn of ["crossEntropy", "binaryCrossEntropyWithLogits"] as const) {
  for (const v of ["avg", "Mean", "", "SUM", "none "]) {
    cases.push([`reduction ${JSON.stringify(v)}`, fn, withOpts(fn, (d) => ({ reduction: v, grad: d.out })), RangeError, /reduction/]);
  }
  for (const v of [0, null, ["mean"]]) {
    cases.push([`reduction ${str(v)}`, fn, withOpts(fn, () => ({ reduction: v })), TypeError, /reduction/]);
  }
}
for (const v of [1.5, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31) - 1, -100.5]) {
  cases.push([`ignoreIndex ${v}`, "crossEntropy", ceOpts(() => ({ ignoreIndex: v })), RangeError, /ignoreIndex/]);
}
for (const v of ["-100", null, [1]]) {
  cases.push([`ignoreIndex ${str(v)}`, "crossEntropy", ceOpts(() => ({ ignoreIndex: v })), TypeError, /ignoreIndex/]);
}

// ---- posWeight ----
for (const len of [2, 4, 6, 7, 0, 16]) {
  cases.push([`posWeight of length ${len} (15 logits)`, "binaryCrossEntropyWithLogits",
    withOpts("binaryCrossEntropyWithLogits", (d) => ({ posWeight: new Float32Array(len).fill(2), grad: d.out })), RangeError,
    /posWeight/]);
}
for (const v of [[1, 2, 3, 4, 5], new Float64Array(COLS), "pw", null, 2]) {
  cases.push([`posWeight = ${str(v)}`, "binaryCrossEntropyWithLogits",
    withOpts("binaryCrossEntropyWithLogits", () => ({ posWeight: v })), TypeError, /posWeight/]);
}

// ---- logitsFromProbs: probabilities ----
for (const [i, v] of [[2, -0.25], [1, NaN], [14, Infinity], [0, -Infinity], [7, -1e-30]] as [number, number][]) {
  cases.push([`p[${i}] = ${v}`, "logitsFromProbs", (d) => { const p = Float32Array.from(d.p); p[i] = v; return [p, COLS, { out: d.out }]; },
    RangeError, new RegExp(`p\\[${i}\\]`)]);
}

/** A copy of the whole Wasm memory. */
function memoryBytes(): Uint8Array {
  return new Uint8Array(wasmMemory()!.buffer).slice();
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/** Snapshots of every typed array reachable from the arguments (opts included). */
function snapshots(args: unknown[]): [ArrayLike<number>, number[]][] {
  const out: [ArrayLike<number>, number[]][] = [];
  const visit = (v: unknown): void => {
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) out.push([v as unknown as ArrayLike<number>, Array.from(v as unknown as ArrayLike<number>)]);
    else if (v !== null && typeof v === "object" && !Array.isArray(v)) Object.values(v).forEach(visit);
  };
  args.forEach(visit);
  return out;
}

describe("bad arguments throw before any pointer reaches Wasm; the next good call is right", () => {
  it("covers every function", () => {
    const fns = new Set(cases.map((c) => c[1]));
    expect([...fns].sort()).toEqual(Object.keys(SHAPES).sort());
    expect(cases.length).toBeGreaterThan(300);
  });

  it.each(cases)("%s: %s", (_, fn, make, err, msg) => {
    GOOD[fn](); // leaves its own data in the arena
    const d = fresh();
    const args = make(d);
    const snaps = snapshots(args);
    const mem = memoryBytes();
    const f = (): unknown => SHAPES[fn].call(...args);
    expect(f).toThrow(err);
    expect(f).toThrow(msg);
    if (err === TypeError) expect(f).not.toThrow(RangeError);
    // nothing was copied into Wasm memory, nothing grew, no input or out buffer was written
    expect(sameBytes(memoryBytes(), mem), "Wasm memory changed").toBe(true);
    for (const [v, before] of snaps) expect(Array.from(v)).toEqual(before);
    GOOD[fn]();
  });

  it("a huge input with a bad argument is rejected without copying it in (memory does not grow)", () => {
    const before = wasmMemory()!.buffer.byteLength;
    const n = Math.ceil(before / 4) * 2 + 1; // would need twice the current memory
    const big = new Float32Array(n).fill(0.5);
    expect(() => softmax(big, 2)).toThrow(RangeError);
    expect(() => logSoftmax(big, 1, { temperature: 0 })).toThrow(/temperature/);
    expect(() => softmaxBackward(big, big.subarray(1), 1)).toThrow(/dy/);
    expect(() => sigmoid(big, { out: new Float32Array(n - 1) })).toThrow(/opts\.out/);
    const cols = 1;
    const labels = new Int32Array(n);
    labels[n - 1] = 1; // the last label, past the last class
    expect(() => crossEntropy(big, cols, labels, { reduction: "none" })).toThrow(/target\[\d+\]/);
    expect(() => binaryCrossEntropyWithLogits(big, big, { posWeight: new Float32Array(2) })).toThrow(/posWeight/);
    const p = big.slice();
    p[n - 1] = -1;
    expect(() => logitsFromProbs(p, 1)).toThrow(new RegExp(`p\\[${n - 1}\\]`));
    expect(() => quadraticCost(big, big, 1, { grad: new Float32Array(3) })).toThrow(/opts\.grad/);
    expect(wasmMemory()!.buffer.byteLength).toBe(before);
    for (const fn of Object.keys(GOOD) as Fn[]) GOOD[fn]();
  });

  it("ready() is idempotent once loaded: the same promise, and functions still work", async () => {
    const a = ready();
    const b = ready();
    expect(a).toBe(b);
    await expect(a).resolves.toBeUndefined();
    await b;
    for (const fn of Object.keys(GOOD) as Fn[]) GOOD[fn]();
  });
});
