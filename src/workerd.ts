// The entry point for Cloudflare Workers (the `workerd` condition): Workers forbid compiling Wasm from bytes, so the
// .wasm is imported as a module, which their bundler (wrangler) compiles ahead of time into a WebAssembly.Module.
// The relaxed build (workerd's V8 has relaxed SIMD) is imported only when ready({ relaxed: true }) asks for it, so a
// Worker that never does need not list softmax-relaxed.wasm among its modules.
// @ts-ignore: a .wasm import is a WebAssembly.Module in workerd; TypeScript has no type for it here
import wasmModule from "./softmax.wasm";
import { makeReady } from "./ready.js";

/** Instantiates the Wasm once (default: the imported module); or from a Module, bytes, Response, URL. */
export const ready = makeReady({
  simd: () => wasmModule as WebAssembly.Module,
  relaxed: async () => {
    try {
      // @ts-ignore: as above
      return (await import("./softmax-relaxed.wasm")).default as WebAssembly.Module;
    } catch (err) {
      throw new Error("softmax-wasm: ready({ relaxed: true }) imports softmax-relaxed.wasm, which this Worker does not " +
        "have: list it as a Wasm module beside softmax.wasm (in a workerd config, (name = \"softmax-relaxed.wasm\", " +
        `wasm = embed "<path>/softmax-relaxed.wasm")), or leave relaxed off (${String(err)})`, { cause: err });
    }
  },
  noThreads: "Cloudflare Workers have no shared memory or threads",
});
export * from "./api.js";
