// A Node thread worker (node:worker_threads; also Deno and Bun, which carry that module): started by index.ts's
// ready({ threads: n }) with the module, the shared memory and its blocks as workerData; runs jobs until terminated.
import { parentPort, workerData } from "node:worker_threads";
import { workerMain, type WorkerInit } from "./threads.js";

workerMain(workerData as WorkerInit, () => parentPort!.postMessage("started"))
  .catch((err: unknown) => parentPort!.postMessage({ error: String(err) }));
