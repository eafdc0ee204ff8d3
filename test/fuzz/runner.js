// The fuzz runner with its watchdog: runs a target's inputs in a worker thread that beats a heartbeat in shared memory;
// an input that takes longer than timeoutMs is failed (reported with its seed and index), the worker is terminated,
// and a new one goes on from the next input. Used by test/fuzz.test.ts and scripts/fuzz.mjs.
import { Worker } from "node:worker_threads";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HB, COUNTERS, OUTCOMES, SHARED_BYTES, readText } from "./shared.js";
import { TARGETS } from "./targets.js";

/**
 * Runs `count` inputs of `target` from index `from` (or, with `directed`, its directed cases) and resolves to
 * { target, seed, tried, outcomes, failures, slowest, restarts, seconds }. Never rejects for a fault of the library.
 */
export async function runFuzz({ target, seed = 1, count = 1000, from = 0, timeoutMs = 2000, directed = false,
  setupTimeoutMs = 120_000, onProgress } = {}) {
  if (!TARGETS[target]) throw new Error(`runFuzz: unknown target ${target} (${Object.keys(TARGETS).join(", ")})`);
  if (directed) { from = 0; count = TARGETS[target].directed?.length ?? 0; }
  const t0 = Date.now();
  const shared = new SharedArrayBuffer(SHARED_BYTES);
  const hb = new Int32Array(shared, 0, HB.length);
  const clock = new Float64Array(shared, HB.clockAt, 1);
  const counters = new Int32Array(shared, COUNTERS.at, OUTCOMES.length);
  const text = new Uint8Array(shared, HB.textAt, HB.textBytes);
  const root = mkdtempSync(join(tmpdir(), "softmax-wasm-fuzz-"));
  const failures = [];
  let slowest = { ms: 0, index: -1, what: "" };
  let restarts = 0;
  let next = from;
  const end = from + count;
  try {
    while (next < end) {
      hb[HB.next] = next;
      hb[HB.busy] = 0;
      const started = Date.now();
      const w = new Worker(new URL("./worker.js", import.meta.url), {
        workerData: { target, seed, from: next, count: end - next, tmp: join(root, `w${restarts}`), directed, shared },
      });
      let isReady = false;
      const result = await new Promise((resolve) => {
        let settled = false;
        const finish = (how) => { if (!settled) { settled = true; clearInterval(timer); resolve(how); } };
        w.on("message", (m) => {
          if (m.kind === "failure") failures.push({ seed, index: m.index, what: m.what, message: m.message, known: m.known });
          else if (m.kind === "slowest" && m.ms > slowest.ms) slowest = { ms: m.ms, index: m.index, what: m.what };
          else if (m.kind === "ready") isReady = true;
          else if (m.kind === "done") finish({ done: true });
        });
        w.on("error", (err) => finish({ error: err }));
        w.on("exit", (code) => finish({ exit: code }));
        const timer = setInterval(() => {
          onProgress?.(counters.reduce((a, v) => a + v, 0));
          const busy = Atomics.load(hb, HB.busy) === 1;
          if (busy && Date.now() - clock[0] > timeoutMs) finish({ timeout: true });
          else if (!isReady && Date.now() - started > setupTimeoutMs) finish({ setupTimeout: true });
        }, 25);
      });
      if (result.done) { await w.terminate(); break; }
      if (Atomics.exchange(hb, HB.fatal, 0) === 1) { // the input was counted and reported: go on in a new worker
        await w.terminate();
        next = hb[HB.next];
        restarts++;
        continue;
      }
      const at = Atomics.load(hb, HB.busy) === 1 || result.timeout ? hb[HB.index] : hb[HB.next];
      const desc = readText(text);
      const hint = /^\[([\w-]+)\] /.exec(desc)?.[1];
      await w.terminate();
      if (!isReady) {
        failures.push({ seed, index: -1, what: "setup", message: `the target's setup failed: ${result.error?.stack ?? "took too long"}` });
        break;
      }
      const message = result.timeout ? `took over ${timeoutMs} ms (the watchdog stopped it)`
        : `the worker died: ${result.error?.stack ?? `exit code ${result.exit}`}`;
      failures.push({ seed, index: at, what: desc.replace(/^\[[\w-]+\] /, ""), message, known: hint });
      Atomics.add(counters, OUTCOMES.indexOf("failure"), 1);
      if (result.timeout && (slowest.ms < timeoutMs)) slowest = { ms: Date.now() - clock[0], index: at, what: desc };
      next = at + 1;
      restarts++;
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const outcomes = Object.fromEntries(OUTCOMES.map((k, i) => [k, counters[i]]));
  return {
    target, seed, from, tried: Object.values(outcomes).reduce((a, v) => a + v, 0), outcomes, failures, slowest, restarts,
    seconds: (Date.now() - t0) / 1000,
  };
}
