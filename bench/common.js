// What the benchmarks share: TensorFlow.js on its wasm backend, a seeded generator for inputs, and the batching
// wrapper that times sub-microsecond calls K at a time.
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { Bench } from "tinybench";

const require = createRequire(import.meta.url);

/** Switches `tf` to its wasm backend from node_modules (in Node a plain directory ending in '/'); returns its features. */
export async function useTfWasm(tf) {
  const { setWasmPaths, version_wasm } = await import("@tensorflow/tfjs-backend-wasm");
  const dir = path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + path.sep;
  setWasmPaths(dir);
  if (!(await tf.setBackend("wasm"))) throw new Error(`tfjs could not initialise its wasm backend from ${dir}`);
  await tf.ready();
  if (tf.getBackend() !== "wasm") throw new Error(`tfjs backend is ${tf.getBackend()}, expected wasm`);
  return {
    version: version_wasm,
    simd: await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"),
    threads: await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT"),
  };
}

/** What every report says of its run: when, which library (package.json's `pkg`), on what machine and Node. */
export function runMeta(pkg) {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    library: `${pkg.name} ${pkg.version}`,
    cpu: cpus[0]?.model?.trim() ?? "unknown",
    cores: cpus.length,
    platform: `${os.platform()} ${os.arch()}`,
    node: process.version,
  };
}

/** mulberry32, the seeded generator the tests and runtime workloads use, so every run times the same inputs. */
export { rng as mulberry32 } from "../test/runtimes/workload.js";

/** A fresh batching wrapper per task (new Function: its own feedback, so no task's call site is polymorphic). */
export function batched(fn, K) {
  const make = new Function("fn", "K", "now", `
    return function batch() {
      const t0 = now();
      for (let i = 0; i < K; i++) fn();
      const d = now() - t0;
      return { overriddenDuration: d / K, overriddenIterationCost: d };
    };`);
  return make(fn, K, performance.now.bind(performance));
}

/**
 * Median microseconds per call of fn over tinybench's samples; calls faster than batchMs are timed K to a sample,
 * the sample being the batch's mean (timer cost would swamp them otherwise).
 */
export async function medianMicros(fn, { timeMs, warmupMs, batchMs }) {
  fn();
  let calls = 0;
  const t0 = performance.now();
  do { fn(); calls++; } while (performance.now() - t0 < 5);
  const est = (performance.now() - t0) / calls;
  const K = Math.max(1, Math.min(10000, Math.round(batchMs / est)));
  const bench = new Bench({ time: timeMs, warmupTime: warmupMs, warmup: true, throws: true });
  bench.add("task", batched(fn, K));
  await bench.run();
  const r = bench.tasks[0].result;
  if (r.state !== "completed") throw new Error(`bench: task ended in state ${r.state}`);
  return r.latency.p50 * 1000;
}
