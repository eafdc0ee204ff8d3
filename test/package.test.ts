// The package as a user imports it: by name, through the exports map, with its types and its .wasm.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import * as lib from "softmax-wasm";

describe("the published package", () => {
  it("exports exactly the documented API by name", () => {
    expect(Object.keys(lib).sort()).toEqual([
      "binaryCrossEntropyWithLogits", "crossEntropy", "logSoftmax", "logSoftmaxBackward", "logitsFromProbs",
      "Network", "loadMnist", "parseIdx", "quadraticCost", "ready", "sigmoid", "softmax", "softmaxBackward", "wasmBuild",
      "wasmMemory", "wasmArray", "WasmArray", "sample", "sampleProbs", "sampler", "Sampler", "topK", "argmax",
    ].sort());
  });

  it("works when imported by name", async () => {
    await lib.ready();
    const p = lib.softmax(new Float32Array([2, 3, 4]), 3);
    expect(Array.from(p, (v) => v.toFixed(4))).toEqual(["0.0900", "0.2447", "0.6652"]);
  });

  it("ships its types and the .wasm at the exported paths", () => {
    const require = createRequire(import.meta.url);
    const wasm = require.resolve("softmax-wasm/softmax.wasm");
    expect(existsSync(wasm)).toBe(true);
    expect(existsSync(new URL("../dist/index.d.ts", import.meta.url))).toBe(true);
    expect(WebAssembly.validate(new Uint8Array(require("node:fs").readFileSync(wasm)))).toBe(true);
    // the relaxed-SIMD build too (it validates only where the engine has relaxed SIMD: not in plain Node 20)
    expect(existsSync(require.resolve("softmax-wasm/softmax-relaxed.wasm"))).toBe(true);
  });
});
