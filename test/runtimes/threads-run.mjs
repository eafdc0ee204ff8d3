// Runner for test/threads.test.ts: `node threads-run.mjs <n> [relaxed]` loads the library with ready({ threads: n })
// (n = 0: plain ready(); `relaxed` adds relaxed: true), runs the shared workload and the threads workload, and prints one JSON line of digests (and the
// console warnings seen).
import * as lib from "../../dist/index.js";
import { engine } from "../../dist/engine.js";
import { digest, floats, kernelDigests, trainingDigest, TRAIN_ROWS } from "./workload.js";
import { networkDigests, parallelDigests } from "./threads-workload.js";

const n = Number(process.argv[2]);
const relaxed = process.argv[3] === "relaxed"; // with relaxed SIMD too (Node 20: --experimental-wasm-relaxed-simd)
const warnings = [];
const warn = console.warn;
console.warn = (...a) => { warnings.push(a.join(" ")); };
await lib.ready(n === 0 ? (relaxed ? { relaxed } : undefined) : { threads: n, ...(relaxed ? { relaxed } : {}) });
console.warn = warn;

const { train } = await lib.loadMnist();
const images = train.images.subarray(0, TRAIN_ROWS * 784), labels = train.labels.subarray(0, TRAIN_ROWS);
// The dense forward pass straight on the engine (the pool's packed path when n > 1), at shapes with partial panels.
const e = engine("threads-run");
const gemm = [];
for (const [B, I, O, act] of [[64, 1000, 300, 1], [33, 517, 1030, 3], [256, 1024, 1024, 0]]) {
  const mark = e.mark();
  const x = e.put(floats(B * I, 1, B)), w = e.put(floats(I * O, 0.1, I)), bias = e.put(floats(O, 1, O)), y = e.alloc(B * O * 4);
  e.d.gemm_forward(x, w, bias, y, B, I, O, act); // the pool's packed path when n > 1
  gemm.push(await digest([e.f32(y, B * O)]));
  e.release(mark);
}
const result = {
  gemm,
  threads: e.pool?.size ?? 1,
  build: lib.wasmBuild(),
  warnings,
  kernels: await kernelDigests(lib),
  parallel: await parallelDigests(lib),
  training: { ...(await trainingDigest(lib, images, labels)), ...(await networkDigests(lib, images, labels)) },
};
console.log(JSON.stringify(result));
