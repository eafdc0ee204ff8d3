// The fuzz runner's worker: sets a target up, then runs inputs [from, from + count) (or the target's directed cases),
// writing a heartbeat into shared memory before each input so the runner can fail and restart a hung one.
import { workerData, parentPort } from "node:worker_threads";
import { TARGETS, inputRng } from "./targets.js";
import { HB, COUNTERS, OUTCOMES, writeText } from "./shared.js";

const { target, seed, from, count, tmp, directed, shared } = workerData;
const hb = new Int32Array(shared, 0, HB.length);
const clock = new Float64Array(shared, HB.clockAt, 1);
const counters = new Int32Array(shared, COUNTERS.at, OUTCOMES.length);
const text = new Uint8Array(shared, HB.textAt, HB.textBytes);

const lib = await import("../../dist/index.js");
await lib.ready();
const t = TARGETS[target];
const state = await t.setup({ lib, tmp });
parentPort.postMessage({ kind: "ready" });
let slowest = 0;
for (let i = from; i < from + count; i++) {
  let input;
  try {
    input = directed ? t.directed[i](state) : t.make(state, inputRng(seed, i));
  } catch (err) {
    input = { what: "(make threw)", run: () => ({ outcome: "failure", message: `the target's make threw: ${err?.stack ?? err}` }) };
  }
  writeText(text, `${input.hint ? `[${input.hint}] ` : ""}${input.what}`);
  hb[HB.index] = i;
  clock[0] = Date.now();
  Atomics.store(hb, HB.busy, 1);
  const t0 = performance.now();
  let out;
  try {
    out = await input.run();
  } catch (err) {
    out = { outcome: "failure", message: `the target itself threw: ${err?.stack ?? err}` };
  }
  const ms = performance.now() - t0;
  Atomics.store(hb, HB.busy, 0);
  const slot = out.outcome === "accepted" ? "accepted" : out.outcome === "failure" ? "failure" : OUTCOMES.includes(out.type) ? out.type : "other";
  Atomics.add(counters, OUTCOMES.indexOf(slot), 1);
  if (out.outcome === "failure") parentPort.postMessage({ kind: "failure", index: i, what: input.what, message: out.message, known: out.known });
  if (ms > slowest) {
    slowest = ms;
    parentPort.postMessage({ kind: "slowest", index: i, ms, what: input.what });
  }
  hb[HB.next] = i + 1;
  if (out.fatal) {
    Atomics.store(hb, HB.fatal, 1);
    process.exit(0); // this thread's state is broken: the runner goes on in a new worker
  }
}
parentPort.postMessage({ kind: "done" });
