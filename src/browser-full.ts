// softmax-wasm/full in browsers and bundlers: browser.ts's API with every build. The relaxed-SIMD build and the
// threads part (the threads builds, the pool, its module Web Worker) sit behind dynamic imports, in chunks a page
// fetches only when ready() asks for them; a bundler still copies all four .wasm files and the worker into the app.
// It shares ready()'s one load and the one engine with the default entry, so an app may import ready from here and
// the kernels from "softmax-wasm".

import { defaultBuild } from "./beside.js";
import { makeReady } from "./ready.js";

/**
 * Instantiates the Wasm once (default: fetches softmax.wasm beside this module; with `{ relaxed: true }`,
 * softmax-relaxed.wasm where the engine supports it; with `{ threads: n }`, softmax-threads.wasm (or
 * softmax-threads-relaxed.wasm with both) and n - 1 module Web Workers, which need a cross-origin isolated page); or
 * from a Module, bytes, Response, URL.
 */
export const ready = makeReady({
  simd: defaultBuild,
  relaxed: async () => (await import("./browser-relaxed.js")).relaxed(),
  threads: async () => (await import("./browser-threads.js")).threads,
});
export * from "./api.js";
