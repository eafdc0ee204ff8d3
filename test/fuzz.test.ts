// The seeded fuzz suite: the targets of `npm run fuzz` (test/fuzz/targets.js) with a few hundred inputs each, in a
// worker under the same 2 s watchdog, so a hang fails one input instead of the suite. The oracles are strict (see
// targets.js): parseIdx returns dims matching its data (and node:zlib's bytes where zlib inflates) or a
// TypeError/RangeError of its own; loadMnist loads consistent splits or names the file; Network.load refuses or gives
// a network that predicts probabilities and trains; every public function returns its documented shape or refuses
// with its own name, leaving a guard network, a guard WasmArray and the arena intact; Network.fromSafetensors and
// Network.fromOnnx refuse a damaged file by their own names or read a network that predicts probabilities.
import { describe, expect, it } from "vitest";
import { runFuzz } from "./fuzz/runner.js"; // plain ESM, shared with scripts/fuzz.mjs
import { KNOWN } from "./fuzz/targets.js";

interface Failure { seed: number; index: number; what: string; message: string; known?: string }
interface Run { tried: number; outcomes: Record<string, number>; failures: Failure[]; slowest: { ms: number } }

/**
 * Faults filed under "Hardening" (or found by this suite) and not fixed yet: their failures are expected for now.
 * Remove a tag when its fix lands: its directed case below then has to pass.
 */
const OPEN = new Set<string>([]);

/** Each target's directed cases, run once for the tests that read them. */
const runs: Record<string, Promise<Run>> = {};
const directed = (target: string) => (runs[target] ??= runFuzz({ target, directed: true }) as Promise<Run>);

const show = (f: Failure[]) => f.map((x) => `#${x.index} [${x.known ?? "new"}] ${x.what}: ${x.message}`).join("\n");

describe.each([
  ["parseIdx", 600],
  ["loadMnist", 200],
  ["Network.load", 400],
  ["api", 1500],
  ["interchange", 600],
] as const)("fuzz %s", (target, count) => {
  it(`${count} seeded inputs: no failure but the open known faults`, async () => {
    const run = (await runFuzz({ target, seed: 20240601, count })) as Run;
    expect(run.tried).toBe(count);
    const unexpected = run.failures.filter((f) => f.known === undefined || !OPEN.has(f.known));
    expect(unexpected, show(unexpected)).toEqual([]);
    // the inputs reach both sides of the oracle
    expect(run.outcomes.accepted).toBeGreaterThan(count / 20);
    expect(run.tried - run.outcomes.accepted - run.outcomes.failure).toBeGreaterThan(count / 20);
  }, 60_000);
});

describe("fuzz: the runner's watchdog", () => {
  it("fails an input that hangs (over 2 s), names it, and goes on with the next in a new worker", async () => {
    // directed case 0 of Network.load hangs today (load-zero-generator); once load refuses it, it takes milliseconds
    const run = (await directed("Network.load")) as Run & { restarts: number };
    expect(run.tried).toBe(5); // every directed case ran, also those after a hang
    const hang = run.failures.find((f) => f.message.includes("watchdog"));
    if (hang) {
      expect(hang.index).toBe(0);
      expect(hang.known).toBe("load-zero-generator");
      expect(run.restarts).toBeGreaterThanOrEqual(1);
    }
  }, 60_000);
});

// One input per known fault. While its tag is in OPEN the case must show exactly that fault (so a fix that lands
// shows up here: then drop the tag from OPEN); once it is out, the case must pass.
describe("fuzz: directed cases of the known faults", () => {
  const cases: [string, number, string][] = [
    ["Network.load", 0, "load-zero-generator"], ["Network.load", 1, "load-beta-power"],
    ["Network.load", 2, "load-negative-moment"], ["Network.load", 3, "load-ctor-message"], ["Network.load", 4, "load-leak"],
    ["loadMnist", 0, "mnist-file-name"], ["loadMnist", 1, "mnist-file-name"],
    ["api", 0, "wasmArray-length"], ["api", 1, "wasmArray-length"], ["api", 2, "wasmArray-length"],
    ["api", 3, "wasmArray-length"], ["api", 4, "wasmArray-length"],
  ];
  for (const [target, index, known] of cases) {
    it(`${target} case ${index}: ${OPEN.has(known) ? "still open: " : ""}${KNOWN[known]}`, async () => {
      const failed = (await directed(target)).failures.filter((f) => f.index === index);
      if (OPEN.has(known)) expect(failed.map((f) => f.known), show(failed)).toEqual([known]);
      else expect(failed, show(failed)).toEqual([]);
    }, 60_000);
  }
  it("every directed case is listed here", async () => {
    for (const target of ["Network.load", "loadMnist", "api"]) {
      expect((await directed(target)).tried).toBe(cases.filter((c) => c[0] === target).length);
    }
  }, 60_000);
});
