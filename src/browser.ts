// The entry point for browsers and bundlers: the .wasm is fetched from beside this module, a URL bundlers
// (Vite, webpack 5, Parcel) recognise and copy with the build. No Node built-in is reached from here.

import { makeReady } from "./ready.js";

/**
 * Instantiates the Wasm once (default: fetches softmax.wasm beside this module; with `{ relaxed: true }`,
 * softmax-relaxed.wasm where the engine supports it); or from a Module, bytes, Response, URL.
 */
export const ready = makeReady({
  simd: () => fetch(new URL("./softmax.wasm", import.meta.url)),
  relaxed: () => fetch(new URL("./softmax-relaxed.wasm", import.meta.url)),
});
export * from "./api.js";
