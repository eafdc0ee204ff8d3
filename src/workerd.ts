// The entry point for Cloudflare Workers (the `workerd` condition): Workers forbid compiling Wasm from bytes, so the
// .wasm is imported as a module, which their bundler (wrangler) compiles ahead of time into a WebAssembly.Module.
// @ts-ignore: a .wasm import is a WebAssembly.Module in workerd; TypeScript has no type for it here
import wasmModule from "./softmax.wasm";
import { makeReady } from "./ready.js";

/** Instantiates the Wasm once (default: the imported module); or from a Module, bytes, Response, URL. */
export const ready = makeReady(() => wasmModule as WebAssembly.Module);
export * from "./api.js";
