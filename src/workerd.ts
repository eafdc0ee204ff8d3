// The entry point for Cloudflare Workers (the `workerd` condition): Workers forbid compiling Wasm from bytes, so the
// .wasm is imported as a module, which their bundler (wrangler) compiles ahead of time into a WebAssembly.Module.
// Both builds are imported (workerd's V8 has relaxed SIMD); ready({ relaxed: true }) instantiates the second.
// @ts-ignore: a .wasm import is a WebAssembly.Module in workerd; TypeScript has no type for it here
import wasmModule from "./softmax.wasm";
// @ts-ignore: as above
import relaxedModule from "./softmax-relaxed.wasm";
import { makeReady } from "./ready.js";

/** Instantiates the Wasm once (default: the imported module); or from a Module, bytes, Response, URL. */
export const ready = makeReady({
  simd: () => wasmModule as WebAssembly.Module,
  relaxed: () => relaxedModule as WebAssembly.Module,
  noThreads: "Cloudflare Workers have no shared memory or threads",
});
export * from "./api.js";
