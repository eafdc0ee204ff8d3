// The entry point for Node, Deno and Bun: the .wasm is read from the file beside this module (Node's fetch cannot
// read file: URLs), and loadMnist reads IDX files from disk.
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
  threads: {
    wasm: () => readFile(new URL("./softmax-threads.wasm", import.meta.url)),
    relaxed: () => readFile(new URL("./softmax-threads-relaxed.wasm", import.meta.url)),
    spawn: async (init) => {
      const { Worker } = await import("node:worker_threads");
      const w = new Worker(new URL("./thread-worker-node.js", import.meta.url), { workerData: init });
      w.unref(); // a worker asleep in Atomics.wait must not keep the process alive
      await new Promise<void>((resolve, reject) => {
        w.once("message", (m: unknown) => (m === "started" ? resolve() : reject(new Error((m as { error?: string }).error))));
        w.once("error", reject);
      });
      return w;
    },
  },
  fetchUrl: fromFile,
});
export { loadMnist } from "./mnist-files.js";
export * from "./api.js";
