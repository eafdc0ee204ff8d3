// The debug Wasm (unoptimised, with assertions) and the release Wasm (-O3) must give the same bits: the optimiser
// may not change a float result, and a difference would point at undefined behaviour in a kernel.
import { readFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";
import { randn } from "./helpers.js";

type Lib = typeof import("../dist/index.js");

async function load(file: string): Promise<Lib> {
  vi.resetModules();
  const lib = await import("../dist/index.js");
  await lib.ready(readFileSync(new URL(file, import.meta.url)));
  return lib;
}

function bits(v: number | Float32Array): number[] {
  return typeof v === "number" ? Array.from(new Uint32Array(new Float64Array([v]).buffer)) : Array.from(new Uint32Array(v.buffer.slice(0)));
}

/** Every function on one set of inputs, widths that take every path (narrow groups, rows, blocks). */
function run(lib: Lib): number[][] {
  const out: number[][] = [];
  for (const [rows, cols] of [[13, 10], [5, 33], [3, 4097]] as const) {
    const x = randn(rows * cols, 4, rows * 7919 + cols);
    const dy = randn(rows * cols, 1, cols);
    const labels = Int32Array.from({ length: rows }, (_, i) => (i * 7) % cols);
    const q = lib.softmax(randn(rows * cols, 1, 3), cols);
    out.push(bits(lib.softmax(x, cols)), bits(lib.softmax(x, cols, { temperature: 0.7 })));
    out.push(bits(lib.logSoftmax(x, cols)), bits(lib.softmaxBackward(lib.softmax(x, cols), dy, cols)));
    out.push(bits(lib.logSoftmaxBackward(lib.logSoftmax(x, cols), dy, cols)));
    for (const opts of [{}, { labelSmoothing: 0.1, weight: q.subarray(0, cols), reduction: "none" as const }]) {
      const ce = lib.crossEntropy(x, cols, labels, opts);
      out.push(bits(ce.loss), bits(ce.grad));
      const soft = lib.crossEntropy(x, cols, q, opts);
      out.push(bits(soft.loss), bits(soft.grad));
    }
    const bce = lib.binaryCrossEntropyWithLogits(x, q, { posWeight: q.subarray(0, cols) });
    out.push(bits(bce.loss), bits(bce.grad), bits(lib.sigmoid(x)));
    const qc = lib.quadraticCost(q, lib.softmax(x, cols), cols);
    out.push(bits(qc.loss), bits(qc.grad), bits(lib.logitsFromProbs(q, cols)));
  }
  return out;
}

describe("release and debug builds", () => {
  it("give bit-identical results for every function", async () => {
    const release = run(await load("../dist/softmax.wasm"));
    const debug = run(await load("../build/softmax.debug.wasm"));
    expect(debug.length).toBe(release.length);
    for (let i = 0; i < release.length; i++) expect(debug[i], `output ${i}`).toEqual(release[i]);
  });
});
