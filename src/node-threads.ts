// The Node / Deno / Bun entry's threads part, loaded by index.ts only for ready({ threads: n }): the threads builds
// read from beside this module, worker_threads, and the pool.
import { readFile } from "node:fs/promises";
import { startPool, threadsUnavailable } from "./pool-start.js";
import type { ThreadsBuilds } from "./ready.js";

export const threads: ThreadsBuilds = {
  wasm: () => readFile(new URL("./softmax-threads.wasm", import.meta.url)),
  relaxed: () => readFile(new URL("./softmax-threads-relaxed.wasm", import.meta.url)),
  spawn: async (init) => {
    const { Worker } = await import("node:worker_threads");
    const w = new Worker(new URL("./thread-worker-node.js", import.meta.url), { workerData: init });
    w.unref(); // a worker asleep in Atomics.wait must not keep the process alive
    await new Promise<void>((resolve, reject) => {
      w.once("message", (m: unknown) => (m === "started" ? resolve() : reject(new Error((m as { error?: string }).error))));
      w.once("error", reject);
    });
    return w;
  },
  pool: { startPool, threadsUnavailable },
};
