import { Engine, setEngine, type WasmSource } from "./engine.js";
import { defaultSource } from "./load.js";

let loading: Promise<void> | undefined;

/**
 * Instantiates the Wasm once; later calls return the same promise. By default the .wasm beside this module is read
 * (Node, Deno, Bun) or fetched (browsers); a WebAssembly.Module, bytes or a Response may be given instead.
 * A failed load can be retried.
 */
export function ready(source?: WasmSource): Promise<void> {
  loading ??= (async () => {
    setEngine(await Engine.create(source ?? (await defaultSource())));
  })().catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

/** The Wasm linear memory the kernels run in (for inspection: its size only grows when a call needs more). */
export { wasmMemory } from "./engine.js";
