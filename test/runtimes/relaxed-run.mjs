// Runner for the relaxed-SIMD build in Node (Node 20 with --experimental-wasm-relaxed-simd), Deno and Bun: imports
// the library by its package name, calls ready({ relaxed: true }) with console.warn recorded, runs the relaxed
// workload (relaxed.js) and prints one JSON line: { runtime, warnings, build, ...outputs }.
// Usage: <runtime> relaxed-run.mjs [source]   (source: load that .wasm file as ready(bytes) instead)
import * as lib from "softmax-wasm";
import { relaxedWorkload } from "./relaxed.js";

const runtime = globalThis.Deno ? `deno ${Deno.version.deno}` : globalThis.Bun ? `bun ${Bun.version}`
  : `node ${process.version} ${process.execArgv.join(" ")}`.trim();
const file = (globalThis.Deno?.args ?? globalThis.process?.argv.slice(2) ?? [])[0];
const warnings = [];
const warn = console.warn;
console.warn = (...args) => warnings.push(args.map(String).join(" "));
try {
  if (file) {
    const { readFile } = await import("node:fs/promises");
    await lib.ready(await readFile(file));
  } else {
    await lib.ready({ relaxed: true });
  }
} finally {
  console.warn = warn;
}
console.log(JSON.stringify({ runtime, warnings, ...relaxedWorkload(lib) }));
