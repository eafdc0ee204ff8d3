// The entry point for browsers and bundlers: the .wasm is fetched from beside this module, a URL bundlers
// (Vite, webpack 5, Parcel) recognise and copy with the build. No Node built-in is reached from here. The relaxed
// and threads builds (and the pool) sit behind dynamic imports, in chunks an app loads only when it asks for them.

import { beside } from "./beside.js";
import { makeReady } from "./ready.js";

/**
 * Instantiates the Wasm once (default: fetches softmax.wasm beside this module; with `{ relaxed: true }`,
 * softmax-relaxed.wasm where the engine supports it; with `{ threads: n }`, softmax-threads.wasm (or
 * softmax-threads-relaxed.wasm with both) and n - 1 module Web Workers, which need a cross-origin isolated page); or
 * from a Module, bytes, Response, URL.
 */
export const ready = makeReady({
  simd: () => fetch(beside("softmax.wasm", () => new URL("./softmax.wasm", import.meta.url))),
  relaxed: async () => (await import("./browser-relaxed.js")).relaxed(),
  threads: async () => (await import("./browser-threads.js")).threads,
});
export * from "./api.js";
