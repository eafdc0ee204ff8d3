// A browser's thread worker (module type): started by browser-threads.ts, for softmax-wasm/full's
// ready({ threads: n }), with `new Worker(new URL("./thread-worker.js", import.meta.url), { type: "module" })`; runs
// jobs until terminated.
import { workerMain, type WorkerInit } from "./threads.js";

const scope = globalThis as unknown as {
  onmessage: ((ev: { data: WorkerInit }) => void) | null;
  postMessage(msg: unknown): void;
};
scope.onmessage = (ev) => {
  scope.onmessage = null;
  workerMain(ev.data, () => scope.postMessage("started")).catch((err: unknown) => scope.postMessage({ error: String(err) }));
};
