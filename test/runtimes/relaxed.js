// The relaxed-SIMD build's workload (test/relaxed.test.ts, and Deno, Bun and Chromium in edge.test.ts and
// browser.test.ts): softmax, crossEntropy and the GEMM-backed Network.gradient on fixed inputs, returned as plain
// arrays so a runtime can print them as JSON and the test can compare them with Node's default build within a
// tolerance (the relaxed build's fused multiply-adds may change the last bits). Plain ESM importing only
// workload.js; `lib` is the softmax-wasm namespace after `await lib.ready(...)`.

import { floats } from "./workload.js";

/** Every output of the workload, as arrays of numbers. */
export function relaxedWorkload(lib) {
  const out = { build: lib.wasmBuild() };
  // softmax and crossEntropy at widths that take the narrow (4 rows at a time) and the row paths
  for (const [rows, cols] of [[13, 10], [3, 4097]]) {
    const x = floats(rows * cols, 8, rows * 31 + cols);
    const labels = Int32Array.from({ length: rows }, (_, i) => (i * 7) % cols);
    out[`softmax ${rows}x${cols}`] = Array.from(lib.softmax(x, cols));
    const ce = lib.crossEntropy(x, cols, labels, { reduction: "none" });
    out[`crossEntropy loss ${rows}x${cols}`] = Array.from(ce.loss);
    out[`crossEntropy grad ${rows}x${cols}`] = Array.from(ce.grad);
  }
  // Network.gradient: dense inputs take gemm_forward, gemm_dw and gemm_dx (the 2x16 micro-kernel and its narrower
  // tiles: 40 and 10 columns); MNIST-like inputs, 80% zeros, take the sparse forms of the first layer.
  for (const [name, x] of [
    ["dense", floats(24 * 50, 1, 11)],
    ["sparse", Uint8Array.from(floats(24 * 50, 1, 12), (v) => (v < 0.6 ? 0 : Math.floor(v * 255)))],
  ]) {
    const net = new lib.Network({ sizes: [50, 40, 10], seed: 3 });
    const labels = Uint8Array.from({ length: 24 }, (_, i) => (i * 3) % 10);
    const g = net.gradient(x, labels);
    out[`gradient loss ${name}`] = [g.loss];
    out[`gradient ${name}`] = Array.from(g.grad);
    out[`predict ${name}`] = Array.from(net.predict(x));
    net.dispose();
  }
  return out;
}
