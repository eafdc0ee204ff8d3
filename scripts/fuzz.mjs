// npm run fuzz [-- --target parseIdx,api] [--count 100000] [--seed 1] [--from 0] [--timeout 2000] [--jobs 2] [--report PATH]
// Runs each fuzz target of test/fuzz/targets.js (parseIdx plain and gzip, loadMnist on a temp folder, Network.load,
// the API's argument checks) for --count seeded inputs plus its directed cases, in a worker under a watchdog that
// fails any input over --timeout ms and goes on in a new worker. Prints per target the inputs tried, the outcomes
// (accepted / refused by error type / failures, known faults apart from new ones) and the slowest input, and
// writes a report (default bench/FUZZ-RESULTS.md). --jobs targets run at a time (each in its own worker). Needs a build (npm run build). Exits 1 on any failure.
// A failure reproduces alone with --target T --seed S --from I --count 1.
import { writeFileSync } from "node:fs";
import os from "node:os";
import { runFuzz } from "../test/fuzz/runner.js";
import { TARGETS, KNOWN } from "../test/fuzz/targets.js";

const args = process.argv.slice(2);
function flag(name, fallback) {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  if (args[i + 1] === undefined) throw new Error(`fuzz: --${name} needs a value`);
  return args[i + 1];
}
function integer(name, fallback, min) {
  const v = Number(flag(name, String(fallback)));
  if (!Number.isInteger(v) || v < min) throw new Error(`fuzz: --${name} must be an integer >= ${min}`);
  return v;
}
const targets = flag("target", Object.keys(TARGETS).join(",")).split(",");
for (const t of targets) if (!TARGETS[t]) throw new Error(`fuzz: unknown target ${t} (${Object.keys(TARGETS).join(", ")})`);
const count = integer("count", 100_000, 0);
const seed = integer("seed", 1, 0);
const from = integer("from", 0, 0);
const timeoutMs = integer("timeout", 2000, 1);
const report = flag("report", new URL("../bench/FUZZ-RESULTS.md", import.meta.url).pathname);

const jobs = integer("jobs", 2, 1);

const tasks = targets.flatMap((target) => [...(TARGETS[target].directed ? [true] : []), false].map((directed) => ({ target, directed })));
const rows = new Array(tasks.length);
const failures = [];
const t0 = Date.now();
/** Runs one task (a target's directed cases, or its seeded inputs) and prints its line. */
async function run({ target, directed }, k) {
  let last = Date.now();
  const r = await runFuzz({ target, seed, count, from, timeoutMs, directed, onProgress: (n) => {
    if (Date.now() - last > 30_000) { last = Date.now(); process.stderr.write(`  ${target}: ${n} inputs\n`); }
  } });
  const o = r.outcomes;
  const refused = ["TypeError", "RangeError", "Error", "AbortError", "other"].filter((key) => o[key]).map((key) => `${key} ${o[key]}`).join(", ") || "none";
  const known = r.failures.filter((f) => f.known).length;
  const row = { target: directed ? `${target} (directed)` : target, tried: r.tried, accepted: o.accepted, refused,
    failures: `${r.failures.length}${r.failures.length ? ` (${known} known, ${r.failures.length - known} new)` : ""}`,
    slowest: `${r.slowest.ms.toFixed(1)} ms (#${r.slowest.index})`, restarts: r.restarts, seconds: r.seconds.toFixed(1) };
  rows[k] = row;
  failures.push(...r.failures.map((f) => ({ target, directed, ...f })));
  console.log(`${row.target}: ${row.tried} inputs in ${row.seconds} s; accepted ${row.accepted}; refused ${row.refused}; ` +
    `failures ${row.failures}; slowest ${row.slowest}; worker restarts ${row.restarts}`);
}
// --jobs targets at a time, each in its own worker
let taken = 0;
await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, async () => {
  while (taken < tasks.length) { const k = taken++; await run(tasks[k], k); }
}));
const seconds = (Date.now() - t0) / 1000;

// failures grouped by fault (known tag, or the message with its numbers blanked), one reproduction each
const groups = new Map();
for (const f of failures) {
  const key = `${f.target}: ${f.known ?? `NEW: ${f.message.replace(/-?\d[\d.e+-]*/g, "#").slice(0, 120)}`}`;
  if (!groups.has(key)) groups.set(key, { n: 0, first: f });
  groups.get(key).n++;
}
for (const [key, g] of groups) {
  const f = g.first;
  console.log(`\n${g.n} x ${key}\n  e.g. ${f.directed ? "directed case" : `--seed ${f.seed} --from`} ${f.index}: ${f.what}\n  ${f.message.slice(0, 400)}`);
}
const md = [
  "# Fuzz results",
  "",
  `\`npm run fuzz -- --count ${count} --seed ${seed}${from ? ` --from ${from}` : ""}\` (${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
  `watchdog ${timeoutMs} ms per input, ${jobs} targets at a time on ${os.cpus().length} cores): ${seconds.toFixed(0)} s in all. Each target also runs its directed cases (one input per known fault).`,
  "",
  "| target | inputs | accepted | refused | failures | slowest input | worker restarts | seconds |",
  "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: |",
  ...rows.map((r) => `| ${r.target} | ${r.tried} | ${r.accepted} | ${r.refused} | ${r.failures} | ${r.slowest} | ${r.restarts} | ${r.seconds} |`),
  "",
  groups.size ? "## Failures, by fault (one reproduction each)" : "No failures.",
  "",
  ...[...groups].map(([key, g]) => {
    const f = g.first;
    const k = f.known ? ` (${KNOWN[f.known]})` : "";
    return `- ${g.n} x ${key}${k}. E.g. ${f.directed ? `directed case ${f.index}` : `\`--target ${f.target} --seed ${f.seed} --from ${f.index} --count 1\``}: ` +
      `${f.what}: ${f.message.split("\n")[0].slice(0, 300)}`;
  }),
  "",
].join("\n");
if (count > 0) writeFileSync(report, md);
console.log(`\n${failures.length} failures in ${seconds.toFixed(0)} s${count > 0 ? `; report: ${report}` : ""}`);
process.exitCode = failures.length ? 1 : 0;
