// The entry point for Node, Deno and Bun: the .wasm is read from the file beside this module (Node's fetch cannot
// read file: URLs), and loadMnist reads IDX files from disk.
import { readFile } from "node:fs/promises";
import { makeReady } from "./ready.js";

const fromFile = (url: URL) => (url.protocol === "file:" ? readFile(url) : fetch(url));

/**
 * Instantiates the Wasm once (default: dist/softmax.wasm beside this file; with `{ relaxed: true }`,
 * dist/softmax-relaxed.wasm where the engine supports it); or from a Module, bytes, Response, URL.
 */
export const ready = makeReady({
  simd: () => readFile(new URL("./softmax.wasm", import.meta.url)),
  relaxed: () => readFile(new URL("./softmax-relaxed.wasm", import.meta.url)),
  fetchUrl: fromFile,
});
export { loadMnist } from "./mnist-files.js";
export * from "./api.js";
