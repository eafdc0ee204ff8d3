// The entry point for Node, Deno and Bun: the .wasm is read from the file beside this module (Node's fetch cannot
// read file: URLs), and loadMnist reads IDX files from disk. The threads part (node-threads.ts, the pool) loads only
// for ready({ threads: n }).
import { readFile } from "node:fs/promises";
import { makeReady } from "./ready.js";

const fromFile = (url: URL) => (url.protocol === "file:" ? readFile(url) : fetch(url));

/**
 * Instantiates the Wasm once (default: dist/softmax.wasm beside this file; with `{ relaxed: true }`,
 * dist/softmax-relaxed.wasm where the engine supports it; with `{ threads: n }`, dist/softmax-threads.wasm, or
 * softmax-threads-relaxed.wasm with both, and n - 1 worker_threads); or from a Module, bytes, Response, URL.
 */
export const ready = makeReady({
  simd: () => readFile(new URL("./softmax.wasm", import.meta.url)),
  relaxed: () => readFile(new URL("./softmax-relaxed.wasm", import.meta.url)),
  threads: async () => (await import("./node-threads.js")).threads,
  fetchUrl: fromFile,
});
export { loadMnist } from "./mnist-files.js";
export type { LoadMnistOptions, MnistProgress } from "./mnist-files.js";
export * from "./api.js";
