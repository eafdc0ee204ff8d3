// The entry point for browsers and bundlers: the .wasm is fetched from beside this module, a URL bundlers
// (Vite, webpack 5, Parcel) recognise and copy with the build. No Node built-in is reached from here. It names only
// the default build, softmax.wasm, so that a bundler copies nothing else into an app: the relaxed and threads builds,
// the pool and its worker are softmax-wasm/full's (browser-full.ts), the same API with every build.

import { defaultBuild } from "./beside.js";
import { makeReady } from "./ready.js";

/**
 * Instantiates the Wasm once (default: fetches softmax.wasm beside this module); or from a Module, bytes, Response,
 * URL. `{ relaxed: true }` and `{ threads: n }` warn once and load softmax.wasm: they need softmax-wasm/full's ready().
 */
export const ready = makeReady({
  simd: defaultBuild,
  defaultOnly: (asked) => "the browser entry \"softmax-wasm\" carries only the default build (softmax.wasm), so that " +
    `bundlers copy no other; import { ready } from "softmax-wasm/full" to load ${asked} in a browser bundle`,
});
export * from "./api.js";
