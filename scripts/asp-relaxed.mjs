// The as-pect kernel specs again, compiled with relaxed SIMD (as-pect.relaxed.asconfig.json: the same specs, with
// madd in assembly/vec.ts as f32x4.relaxed_madd, as in dist/softmax-relaxed.wasm). Node 20 runs relaxed SIMD only
// with the V8 flag --experimental-wasm-relaxed-simd, which NODE_OPTIONS refuses and as-pect's launcher (bin/asp.js)
// does not pass, so this runs the launcher's module, lib/test.js, in a node given the flag. A node that has relaxed
// SIMD already (22 and later) gets no flag: a later V8 may not know it.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

// the relaxed-SIMD probe of src/ready.ts (a function doing f32x4.relaxed_madd on its three v128 parameters)
const PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00, 0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b,
]);
const flags = WebAssembly.validate(PROBE) ? [] : ["--experimental-wasm-relaxed-simd"];
const cli = path.join(path.dirname(createRequire(import.meta.url).resolve("@as-pect/cli")), "test.js");
const r = spawnSync(process.execPath, [...flags, "--enable-source-maps", cli, "--config", "as-pect.config.js",
  "--as-config", "as-pect.relaxed.asconfig.json", ...process.argv.slice(2)],
  { stdio: "inherit", env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? "2" } });
process.exit(r.status ?? 1);
