// Before ready() resolves, every function throws a clear Error naming ready (vitest gives each test file a fresh
// module instance, so nothing here has loaded the Wasm yet); ready() is idempotent and then everything works.
// The tests run in order: the not-ready ones first.
import { describe, expect, it } from "vitest";
import {
  ready, softmax, logSoftmax, softmaxBackward, logSoftmaxBackward, crossEntropy, binaryCrossEntropyWithLogits, sigmoid,
  quadraticCost, logitsFromProbs, wasmArray, wasmMemory,
} from "../dist/index.js";
import { expectClose, refSoftmax } from "./helpers.js";

const x = Float32Array.of(2, 3, 4, 1, 1, 1);
const p = Float32Array.of(0.2, 0.3, 0.5, 0.1, 0.1, 0.8);
const calls: [string, () => unknown][] = [
  ["softmax", () => softmax(x, 3)],
  ["logSoftmax", () => logSoftmax(x, 3, { temperature: 2 })],
  ["softmaxBackward", () => softmaxBackward(p, x, 3)],
  ["logSoftmaxBackward", () => logSoftmaxBackward(p.map(Math.log), x, 3)],
  ["crossEntropy", () => crossEntropy(x, 3, Int32Array.of(1, 2))],
  ["crossEntropy (probability target)", () => crossEntropy(x, 3, p, { reduction: "none" })],
  ["binaryCrossEntropyWithLogits", () => binaryCrossEntropyWithLogits(x, p)],
  ["sigmoid", () => sigmoid(x)],
  ["quadraticCost", () => quadraticCost(x, p, 3)],
  ["logitsFromProbs", () => logitsFromProbs(p, 3)],
  ["wasmArray", () => wasmArray(3)],
];

describe("before ready()", () => {
  it("wasmMemory() is undefined", () => {
    expect(wasmMemory()).toBeUndefined();
  });

  it.each(calls)("%s throws an Error naming ready()", (name, call) => {
    expect(call).toThrow(Error);
    expect(call).toThrow(/ready/);
    // a plain Error, not an argument error: the arguments are fine
    expect(call).not.toThrow(TypeError);
    expect(call).not.toThrow(RangeError);
    expect(call).toThrow(new RegExp(name.split(" ")[0]));
  });

  it("still throws after ready() was called but before it resolved", async () => {
    const loading = ready();
    for (const [, call] of calls) expect(call).toThrow(/ready/);
    await loading;
  });
});

describe("after ready()", () => {
  it("ready() is idempotent: later calls give the same promise, and both resolve", async () => {
    const a = ready();
    const b = ready();
    expect(b).toBe(a);
    await expect(a).resolves.toBeUndefined();
    await expect(b).resolves.toBeUndefined();
    expect(wasmMemory()).toBeInstanceOf(WebAssembly.Memory);
  });

  it("every function works", () => {
    for (const [, call] of calls) expect(call).not.toThrow();
    expectClose(softmax(x, 3), refSoftmax(x, 3), 3e-5, 0, "softmax");
    const { loss } = crossEntropy(x, 3, Int32Array.of(1, 2), { reduction: "sum" });
    expectClose([loss as number], [-Math.log(refSoftmax(x, 3)[1]) - Math.log(1 / 3)], 2e-5, 0, "loss");
  });
});
