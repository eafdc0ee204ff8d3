// Memory safety: whatever views of Wasm memory a caller passes, a call reads and writes only what it should, and a
// refused argument leaves every array and network as it was. Each case reproduces a fault found in review (issue
// "Hardening", items 1-5 and 7): a WasmArray's data view detached by a growth inside the call, a bad array-like length
// that moved the arena, a view kept after dispose(), partially overlapping operands, checkpoints that hang or leak.
import { beforeAll, describe, expect, it } from "vitest";
import {
  ready, softmax, logSoftmax, softmaxBackward, crossEntropy, binaryCrossEntropyWithLogits, sigmoid, quadraticCost,
  logitsFromProbs, wasmArray, wasmMemory, Network,
} from "../dist/index.js";
import { engine } from "../dist/engine.js";
import { crc32 } from "../dist/crc32.js";
import { randn, rng } from "./helpers.js";

beforeAll(async () => {
  await ready();
});

const memoryBytes = (): number => wasmMemory()!.buffer.byteLength;

/** The float bits, so NaN and -0 compare exactly. */
function bits(v: ArrayLike<number>): number[] {
  return Array.from(new Uint32Array(Float32Array.from(v).buffer));
}

/**
 * Runs `call` with the arena filled up to the end of Wasm memory, so that whatever the call allocates grows memory
 * (detaching every ArrayBuffer view of it) inside the call itself; asserts that it did.
 */
function growingInside(call: () => void): void {
  const e = engine("test");
  const filler = wasmArray(Math.floor((memoryBytes() - e.mark()) / 4) - 16);
  const before = memoryBytes();
  call();
  expect(memoryBytes(), "the call grew memory").toBeGreaterThan(before);
  filler.dispose();
}

describe("a WasmArray's data view when the call grows memory (item 1)", () => {
  it("softmax(a.data, cols, { out: plain }) fills out (it read nothing from a detached view)", () => {
    const n = 200_000;
    const a = wasmArray(new Float32Array(n).fill(1));
    for (let i = 0; i < 2; i++) {
      const out = new Float32Array(n);
      growingInside(() => expect(softmax(a.data, 1000, { out })).toBe(out));
      expect(out.every((v) => v === out[0])).toBe(true);
      expect(out[0]).toBeCloseTo(0.001, 8);
    }
    a.dispose();
  });

  it("crossEntropy(b.data, cols, plain probabilities) and logSoftmax(a.data) give the plain call's bits", () => {
    const n = 400_000;
    const z = randn(n, 2, 1);
    const q = softmax(randn(n, 1, 2), 1000);
    const want = crossEntropy(z, 1000, q, { reduction: "none" });
    const wantLog = logSoftmax(z, 1000);
    const b = wasmArray(z);
    growingInside(() => {
      const got = crossEntropy(b.data, 1000, q, { reduction: "none" });
      expect(bits(got.grad)).toEqual(bits(want.grad));
      expect(bits(got.loss as Float32Array)).toEqual(bits(want.loss as Float32Array));
    });
    growingInside(() => expect(bits(logSoftmax(b.data, 1000))).toEqual(bits(wantLog)));
    b.dispose();
  });

  it("Network.predict / evaluate / gradient / fit take a.data like its copy and leak nothing", async () => {
    const net = new Network({ sizes: [784, 16, 10], seed: 3 });
    const rows = 256;
    const x = Float32Array.from(randn(rows * 784, 1, 7), (v) => Math.abs(v) % 1);
    const labels = Uint8Array.from({ length: rows }, (_, i) => i % 10);
    const want = { p: net.predict(x), e: net.evaluate(x, labels), g: net.gradient(x, labels) };
    const a = wasmArray(x);
    growingInside(() => expect(bits(net.predict(a.data))).toEqual(bits(want.p)));
    growingInside(() => expect(net.evaluate(a.data, labels)).toEqual(want.e));
    growingInside(() => expect(bits(net.gradient(a.data, labels).grad)).toEqual(bits(want.g.grad)));
    net.predict(a.data);
    const after = memoryBytes();
    for (let i = 0; i < 20; i++) {
      net.predict(a.data);
      net.evaluate(a.data, labels);
      net.gradient(a.data, labels);
    }
    expect(memoryBytes()).toBe(after); // no upload block leaked
    const twin = Network.load(net.save());
    const e = engine("test");
    const filler = wasmArray(Math.floor((memoryBytes() - e.mark()) / 4) - 16);
    const before = memoryBytes();
    const got = await net.fit(a.data, labels, { epochs: 1, batchSize: 32, validation: { x: a.data, labels } });
    expect(memoryBytes()).toBeGreaterThan(before); // the upload of x detached the validation view passed with it
    const wantFit = await twin.fit(x, labels, { epochs: 1, batchSize: 32, validation: { x, labels } });
    expect(got.epochs[0].valLoss).toBe(wantFit.epochs[0].valLoss);
    expect(bits(net.parameters())).toEqual(bits(twin.parameters()));
    for (const v of [a, net, twin, filler]) v.dispose();
  });

  it("a view from before memory grew is refused by name, not read as an empty array", () => {
    const a = wasmArray(Float32Array.of(1, 2, 3));
    const stale = a.data;
    wasmArray(memoryBytes() / 4).dispose(); // grows memory: the old buffer is detached
    expect(stale.length).toBe(0);
    expect(() => softmax(stale, 3)).toThrow(new TypeError(
      "softmax: x is a view of Wasm memory from before memory grew (it was detached); read the WasmArray's data again " +
      "after calls that may grow memory"));
    expect(Array.from(softmax(a.data, 3))).toEqual(Array.from(softmax(Float32Array.of(1, 2, 3), 3)));
    const net = new Network({ sizes: [3, 2], seed: 1 });
    expect(() => net.predict(stale)).toThrow(/Network\.predict: x is a view of Wasm memory from before memory grew/);
    net.dispose();
    // in any place, not only the first: a second operand or an output is refused by name too, not blamed for its length
    const y = Float32Array.of(0.2, 0.3, 0.5), out = Float32Array.of(7, 7, 7);
    expect(() => softmaxBackward(y, stale, 3)).toThrow(new TypeError(
      "softmaxBackward: dy is a view of Wasm memory from before memory grew (it was detached); read the WasmArray's " +
      "data again after calls that may grow memory"));
    expect(() => softmax(y, 3, { out: stale })).toThrow(/^softmax: opts\.out is a view of Wasm memory from before memory grew/);
    expect(Array.from(out)).toEqual([7, 7, 7]);
    // a buffer transferred away (postMessage, structuredClone) is detached too, and said to be
    const moved = Float32Array.of(1, 2, 3);
    structuredClone(moved.buffer, { transfer: [moved.buffer] });
    expect(() => softmax(moved, 3)).toThrow(new TypeError("softmax: x is a view of a detached buffer (transferred away): it has no data"));
    expect(() => softmax(y, 3, { out: moved })).toThrow(/^softmax: opts\.out is a view of a detached buffer/);
    // an empty array is not detached: it gets the length checks as before
    expect(() => softmax(new Float32Array(0), 3)).not.toThrow(/detached/);
    a.dispose();
  });

  it("a stale view as labels, class weights, pos weights or a network's labels is refused by name, not blamed for its length", () => {
    const l = wasmArray(64);
    const labels = new Int32Array(l.data.buffer, l.data.byteOffset, 4); // labels kept in Wasm memory, viewed as i32
    const w = wasmArray(Float32Array.of(1, 2, 3));
    const weight = w.data;
    wasmArray(memoryBytes() / 4).dispose(); // grows memory: both views go stale
    const logits = new Float32Array(12);
    const stale = /is a view of Wasm memory from before memory grew \(it was detached\)/;
    expect(() => crossEntropy(logits, 3, labels)).toThrow(TypeError);
    expect(() => crossEntropy(logits, 3, labels)).toThrow(new RegExp(`^crossEntropy: target ${stale.source}`));
    expect(() => crossEntropy(logits, 3, Int32Array.of(0, 1, 2, 0), { weight })).toThrow(new RegExp(`^crossEntropy: opts\\.weight ${stale.source}`));
    expect(() => binaryCrossEntropyWithLogits(logits, new Float32Array(12), { posWeight: weight }))
      .toThrow(new RegExp(`^binaryCrossEntropyWithLogits: opts\\.posWeight ${stale.source}`));
    const net = new Network({ sizes: [3, 2], seed: 1 });
    expect(() => net.evaluate(logits, labels)).toThrow(new RegExp(`^Network\\.evaluate: labels ${stale.source}`));
    net.dispose();
    for (const v of [l, w]) v.dispose();
  });
});

describe("wasmArray's length and the arena's sizes (item 2)", () => {
  it("a length in range that memory cannot hold is a RangeError naming wasmArray and its size, and takes nothing", () => {
    const top = engine("test").mark();
    expect(() => wasmArray(2 ** 30 - 1)).toThrow(RangeError);
    expect(() => wasmArray(2 ** 30 - 1)).toThrow(/^wasmArray: 1073741823 floats \(4294967292 bytes\) do not fit in Wasm memory: .*4 GiB/);
    expect(engine("test").mark()).toBe(top);
  });

  it.each([NaN, -8, 1.5, Infinity, 2 ** 40])("wasmArray({ length: %d }) is a RangeError and moves nothing", (length) => {
    const before = wasmArray(4);
    expect(() => wasmArray({ length } as ArrayLike<number>)).toThrow(RangeError);
    expect(() => wasmArray({ length } as ArrayLike<number>)).toThrow(/wasmArray: lengthOrValues\.length must be an integer/);
    const a = wasmArray(Float32Array.of(1, 2, 3, 4));
    const b = wasmArray(Float32Array.of(5, 6, 7, 8));
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4]); // two new arrays do not share memory
    expect(Array.from(b.data)).toEqual([5, 6, 7, 8]);
    const net = new Network({ sizes: [20, 10], seed: 4 });
    expect(net.parameters().some((v) => v !== 0)).toBe(true);
    sigmoid(Float32Array.of(9, 9, 9, 9), { out: a });
    expect(net.parameters()).toEqual(new Network({ sizes: [20, 10], seed: 4 }).parameters());
    for (const v of [before, a, b, net]) v.dispose();
  });

  it("the arena itself refuses a size that is not a whole number of bytes >= 0, and stays where it was", () => {
    const e = engine("test");
    const top = e.mark();
    for (const bad of [NaN, -8, 1.5, Infinity]) {
      expect(() => e.alloc(bad)).toThrow(RangeError);
      expect(() => e.allocBlock(bad)).toThrow(/cannot allocate .* bytes \(expected a whole number >= 0\)/);
      expect(() => e.freeBlock(16, bad)).toThrow(RangeError);
    }
    expect(e.mark()).toBe(top);
  });
});

describe("views kept after dispose() (item 3)", () => {
  it("the data of a disposed WasmArray is refused as out and as input, even once its block is reused", () => {
    const a = wasmArray(8);
    const kept = a.data;
    a.dispose();
    const x = Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    expect(() => softmax(x, 8, { out: kept })).toThrow(new TypeError("softmax: opts.out is the data of a WasmArray that was disposed"));
    expect(() => sigmoid(kept)).toThrow(/sigmoid: x is the data of a WasmArray that was disposed/);
    const b = wasmArray(new Float32Array(8).fill(0.5)); // takes the freed block
    expect(() => softmax(x, 8, { out: kept })).toThrow(TypeError);
    expect(Array.from(b.data)).toEqual(new Array(8).fill(0.5));
    b.dispose();
  });

  it("a subarray of a disposed array's data is refused: its memory now belongs to a network", () => {
    const a = wasmArray(1024);
    const part = a.data.subarray(100, 200);
    a.dispose();
    const net = new Network({ sizes: [16, 8], seed: 5 }); // may reuse the freed block
    const params = net.parameters();
    expect(() => sigmoid(new Float32Array(100).fill(0.5), { out: part }))
      .toThrow(/sigmoid: opts.out is a view of Wasm memory that does not lie inside one live WasmArray/);
    expect(() => crossEntropy(part, 10, new Int32Array(10), { grad: part })).toThrow(TypeError);
    expect(net.parameters()).toEqual(params);
    net.dispose();
  });

  it("a view that runs past the end of its WasmArray is refused", () => {
    const a = wasmArray(16);
    const b = wasmArray(16);
    const past = new Float32Array(a.data.buffer, a.data.byteOffset, 40); // a, its slack and b
    expect(() => softmax(past, 4)).toThrow(/does not lie inside one live WasmArray/);
    a.dispose();
    b.dispose();
  });
});

describe("partially overlapping operands (item 4): two views of one WasmArray a row apart", () => {
  const rows = 9;
  const cols = 5;
  const n = rows * cols;
  /** Runs op on views of one WasmArray with out shifted by `shift` floats from the inputs, against plain copies. */
  function shifted(shift: number, inputs: number, op: (ins: Float32Array[], out: Float32Array) => void): void {
    const r = rng(shift + 100);
    const buf = wasmArray(n + Math.abs(shift) + 8);
    const base = shift < 0 ? -shift : 0;
    const ins = Array.from({ length: inputs }, () => buf.data.subarray(base, base + n));
    buf.data.set(Float32Array.from({ length: n }, () => r() * 0.9 + 0.05), base);
    const plainIns = ins.map((v) => v.slice());
    const want = new Float32Array(n);
    op(plainIns, want);
    const out = buf.data.subarray(base + shift, base + shift + n);
    op(ins, out);
    expect(bits(buf.data.subarray(base + shift, base + shift + n))).toEqual(bits(want));
    buf.dispose();
  }
  const ops: [string, number, (ins: Float32Array[], out: Float32Array) => void][] = [
    ["softmax", 1, ([x], out) => { softmax(x, cols, { out }); }],
    ["logSoftmax", 1, ([x], out) => { logSoftmax(x, cols, { out }); }],
    ["softmaxBackward", 2, ([y, dy], out) => { softmaxBackward(y, dy, cols, { out }); }],
    ["crossEntropy (probabilities)", 2, ([z, q], grad) => { crossEntropy(z, cols, q, { grad }); }],
    ["crossEntropy (classes)", 1, ([z], grad) => { crossEntropy(z, cols, new Int32Array(rows).fill(2), { grad }); }],
    ["binaryCrossEntropyWithLogits", 2, ([z, t], grad) => { binaryCrossEntropyWithLogits(z, t, { grad }); }],
    ["sigmoid", 1, ([x], out) => { sigmoid(x, { out }); }],
    ["quadraticCost", 2, ([a, y], grad) => { quadraticCost(a, y, cols, { grad }); }],
    ["logitsFromProbs", 1, ([p], out) => { logitsFromProbs(p, cols, { out }); }],
  ];
  for (const [name, inputs, op] of ops) {
    it.each([cols, -cols, 1, -1, 3])(`${name}, out shifted by %d floats, gives the plain call's bits`, (shift) => {
      shifted(shift, inputs, op);
    });
  }

  it("an out that is exactly an input still runs in place (no scratch copy), as before", () => {
    const a = wasmArray(randn(n, 1, 3));
    const want = softmax(a.data.slice(), cols);
    const before = memoryBytes();
    expect(softmax(a, cols, { out: a })).toBe(a);
    expect(bits(a.data)).toEqual(bits(want));
    expect(memoryBytes()).toBe(before);
    a.dispose();
  });
});

describe("checkpoints that would hang or leak (items 5 and 7)", () => {
  const L = 2;
  const P = 6 * 5 + 5 + 5 * 3 + 3;
  const p = 16 + 4 * (L + 1); // the kinds, then seed, steps, beta powers, generator state, settings
  // format 3: two 16-byte generators, the regularizers, an interrupted fit's position
  const head = p + 4 + 4 + 4 + 16 + 16 + 44 + 16 + 16 + 8 + 8 + 8 * (L - 1) + 52;
  async function trained(name: "sgd" | "adam"): Promise<Uint8Array> {
    const net = new Network({ sizes: [6, 5, 3], seed: 9 });
    const x = randn(40 * 6, 1, 2);
    const labels = Uint8Array.from({ length: 40 }, (_, i) => i % 3);
    await net.fit(x, labels, { epochs: 2, batchSize: 8, optimizer: { name, lr: 0.01 } });
    const bytes = net.save();
    net.dispose();
    return bytes;
  }
  /** The bytes with `edit` applied and the CRC-32 recomputed, so only the checks behind the CRC can refuse them. */
  function forged(bytes: Uint8Array, edit: (dv: DataView) => void): Uint8Array {
    const b = bytes.slice();
    const dv = new DataView(b.buffer);
    edit(dv);
    dv.setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
    return b;
  }

  it("the file layout the forgeries rely on", async () => {
    const bytes = await trained("adam");
    expect(bytes.length).toBe(head + P * 12 + 4);
    expect(Network.load(forged(bytes, () => {})).parameters()).toEqual(Network.load(bytes).parameters());
  });

  it("an all-zero shuffle generator (xoshiro's fixed point) is refused, so no later fit can spin", async () => {
    const bytes = await trained("sgd");
    const zero = forged(bytes, (dv) => { for (let i = 0; i < 16; i += 4) dv.setUint32(p + 28 + i, 0, true); });
    expect(() => Network.load(zero)).toThrow(/Network\.load: corrupted state: the shuffle generator's state is all zero/);
  });

  it.each([NaN, Infinity, -0.5, 1.5])("Adam's beta1^t or beta2^t of %d is refused", async (v) => {
    const bytes = await trained("adam");
    expect(() => Network.load(forged(bytes, (dv) => dv.setFloat64(p + 12, v, true)))).toThrow(/Adam's beta1\^steps is/);
    expect(() => Network.load(forged(bytes, (dv) => dv.setFloat64(p + 20, v, true)))).toThrow(/Adam's beta2\^steps is/);
  });

  it.each([-1e-30, NaN])("a second moment of %d is refused", async (v) => {
    const bytes = await trained("adam");
    const bad = forged(bytes, (dv) => dv.setFloat32(head + P * 8 + 4 * 7, v, true));
    expect(() => Network.load(bad)).toThrow(/Network\.load: corrupted state: Adam's second moment \[7\] is/);
  });

  it("422 refused loads of a CRC-valid file (lr -1) take no memory: nothing was allocated before the checks", async () => {
    const bytes = await trained("adam");
    const q = p + 28 + 16; // the saved settings: kind, nesterov, 2 spare, then f64 lr
    const bad = forged(bytes, (dv) => dv.setFloat64(q + 4, -1, true));
    expect(() => Network.load(bad)).toThrow(new RangeError("Network.load: saved optimizer.lr must be a positive finite number, got -1"));
    const top = engine("test").mark();
    const probe = wasmArray(4);
    const at = probe.data.byteOffset;
    probe.dispose();
    for (let i = 0; i < 422; i++) expect(() => Network.load(bad)).toThrow(RangeError);
    const again = wasmArray(4);
    expect(again.data.byteOffset).toBe(at); // the same free block: none was taken and kept
    expect(engine("test").mark()).toBe(top);
    again.dispose();
  });
});

describe("Network.predict({ out })", () => {
  it("writes into a caller's Float32Array or WasmArray (allocating nothing per call) and returns it", () => {
    const net = new Network({ sizes: [6, 5, 3], seed: 2 });
    const x = randn(300 * 6, 1, 9); // over one evaluation batch of 256 rows
    const want = net.predict(x);
    const plain = new Float32Array(300 * 3 + 2).fill(7);
    expect(net.predict(x, { out: plain })).toBe(plain);
    expect(bits(plain.subarray(0, 900))).toEqual(bits(want));
    expect(Array.from(plain.subarray(900))).toEqual([7, 7]); // nothing past the rows x classes it owns
    const resident = wasmArray(900);
    growingInside(() => expect(net.predict(x, { out: resident })).toBe(resident)); // a growth inside the call too
    expect(bits(resident.data)).toEqual(bits(want));
    expect(() => net.predict(x, { out: new Float32Array(899) }))
      .toThrow(new RangeError("Network.predict: opts.out.length (899) must be at least 900"));
    expect(() => net.predict(x, { outt: plain } as never)).toThrow(TypeError);
    resident.dispose();
    expect(() => net.predict(x, { out: resident })).toThrow(/Network\.predict: opts\.out is a WasmArray that was disposed/);
    net.dispose();
  });
});
