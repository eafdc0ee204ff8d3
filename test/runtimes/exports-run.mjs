// Runner for test/exports.test.ts: `node --experimental-wasm-relaxed-simd exports-run.mjs` instantiates every build in
// dist/ and prints, per build, its exported functions with their argument counts and its exported globals (one JSON
// line). A child process, since Node 20 compiles the relaxed builds only with the flag.
import { readFileSync } from "node:fs";

const builds = ["softmax.wasm", "softmax-relaxed.wasm", "softmax-threads.wasm", "softmax-threads-relaxed.wasm"];
const out = {};
for (const file of builds) {
  const module = new WebAssembly.Module(readFileSync(new URL(`../../dist/${file}`, import.meta.url)));
  const shared = file.includes("threads");
  const memory = new WebAssembly.Memory({ initial: 16, ...(shared ? { maximum: 16384, shared: true } : {}) });
  const { exports } = new WebAssembly.Instance(module, { env: { memory } });
  const functions = {};
  const globals = {};
  for (const { name, kind } of WebAssembly.Module.exports(module)) {
    if (kind === "function") functions[name] = exports[name].length;
    else if (kind === "global") globals[name] = exports[name].value;
  }
  out[file] = { functions, globals };
}
console.log(JSON.stringify(out));
