// softmax-wasm/full's threads part in browsers, loaded by browser-full.ts only for ready({ threads: n }) through a
// dynamic import(): the threads builds, the module Web Worker and the pool, in a chunk of their own that bundlers
// split off.
import { beside } from "./beside.js";
import { startPool, threadsUnavailable } from "./pool-start.js";
import type { ThreadsBuilds } from "./ready.js";

export const threads: ThreadsBuilds = {
  wasm: () => fetch(beside("softmax-threads.wasm", () => new URL("./softmax-threads.wasm", import.meta.url))),
  relaxed: () => fetch(beside("softmax-threads-relaxed.wasm",
    () => new URL("./softmax-threads-relaxed.wasm", import.meta.url))),
  spawn: (init) => new Promise((resolve, reject) => {
    // written out whole: bundlers recognise new Worker(new URL(..., import.meta.url)) only in this form
    const w = new Worker(new URL("./thread-worker.js", import.meta.url), { type: "module" });
    w.onmessage = (ev: MessageEvent) => {
      w.onmessage = null;
      if (ev.data === "started") resolve(w);
      else { w.terminate(); reject(new Error(ev.data?.error)); }
    };
    w.onerror = (ev: ErrorEvent) => { w.terminate(); reject(new Error(ev.message || "the worker failed to load")); };
    w.postMessage(init);
  }),
  pool: { startPool, threadsUnavailable },
};
