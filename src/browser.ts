// The entry point for browsers and bundlers: the .wasm is fetched from beside this module, a URL bundlers
// (Vite, webpack 5, Parcel) recognise and copy with the build. No Node built-in is reached from here.

import { makeReady } from "./ready.js";

/**
 * Instantiates the Wasm once (default: fetches softmax.wasm beside this module; with `{ relaxed: true }`,
 * softmax-relaxed.wasm where the engine supports it; with `{ threads: n }`, softmax-threads.wasm (or
 * softmax-threads-relaxed.wasm with both) and n - 1 module Web Workers, which need a cross-origin isolated page); or
 * from a Module, bytes, Response, URL.
 */
export const ready = makeReady({
  simd: () => fetch(new URL("./softmax.wasm", import.meta.url)),
  relaxed: () => fetch(new URL("./softmax-relaxed.wasm", import.meta.url)),
  threads: {
    wasm: () => fetch(new URL("./softmax-threads.wasm", import.meta.url)),
    relaxed: () => fetch(new URL("./softmax-threads-relaxed.wasm", import.meta.url)),
    spawn: (init) => new Promise((resolve, reject) => {
      const w = new Worker(new URL("./thread-worker.js", import.meta.url), { type: "module" });
      w.onmessage = (ev: MessageEvent) => {
        w.onmessage = null;
        if (ev.data === "started") resolve(w);
        else { w.terminate(); reject(new Error(ev.data?.error)); }
      };
      w.onerror = (ev: ErrorEvent) => { w.terminate(); reject(new Error(ev.message || "the worker failed to load")); };
      w.postMessage(init);
    }),
  },
});
export * from "./api.js";
