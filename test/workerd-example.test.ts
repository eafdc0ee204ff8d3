// The Cloudflare Workers example (examples/workerd-classify): bundled as wrangler would, served by workerd with a
// network trained here and exported to ONNX as its data module; a real MNIST test image posted to it (as pixels and as
// floats) must come back with exactly Node's predict, and a body of the wrong size with a 400 naming the sizes.
// Skipped (with the reason) where the workerd binary is missing or cannot start, except on CI.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as lib from "../dist/index.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const example = path.join(root, "examples", "workerd-classify");
const CI = process.env.CI === "true";
const bins: Record<string, string> = {
  "linux-x64": "@cloudflare/workerd-linux-64/bin/workerd", "linux-arm64": "@cloudflare/workerd-linux-arm64/bin/workerd",
  "darwin-x64": "@cloudflare/workerd-darwin-64/bin/workerd", "darwin-arm64": "@cloudflare/workerd-darwin-arm64/bin/workerd",
};

/** The workerd binary, or why it cannot run here. */
function locate(): { bin: string } | { problem: string } {
  const rel = bins[`${process.platform}-${process.arch}`];
  const bin = rel && path.join(root, "node_modules", rel);
  if (!bin || !existsSync(bin) || statSync(bin).size < 1_000_000) return { problem: `no workerd binary in node_modules (${rel})` };
  const r = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 15_000 });
  if (r.error || r.status !== 0) return { problem: `workerd --version failed: ${r.error?.message ?? `exit ${r.status}`}` };
  return { bin };
}

const found = locate();
if ("problem" in found && !CI) console.warn(`[workerd example] skipped: ${found.problem}`);

describe.skipIf("problem" in found && !CI)("examples/workerd-classify in workerd", () => {
  let tmp: string;
  let child: ChildProcess | undefined;
  let url: string;
  let net: lib.Network;
  let test: { images: Uint8Array; labels: Uint8Array };

  beforeAll(async () => {
    if ("problem" in found) throw new Error(`workerd must run on CI: ${found.problem}`);
    await lib.ready();
    // a small network trained on MNIST, so the classes it answers mean something
    const data = await lib.loadMnist();
    net = new lib.Network({ sizes: [784, 32, 10], seed: 7 });
    await net.fit(data.train.images.subarray(0, 3000 * 784), data.train.labels.subarray(0, 3000),
      { epochs: 2, batchSize: 32, optimizer: { name: "sgd", lr: 0.1, momentum: 0.9 }, seed: 3 });
    test = { images: data.test.images.slice(0, 8 * 784), labels: data.test.labels.slice(0, 8) }; // real test images

    tmp = await mkdtemp(path.join(tmpdir(), "softmax-wasm-workerd-example-"));
    await build({
      entryPoints: [path.join(example, "worker.js")], outfile: path.join(tmp, "worker.js"), bundle: true, format: "esm",
      platform: "neutral", conditions: ["workerd", "worker", "browser"], external: ["*.wasm", "*.onnx"], logLevel: "error",
    });
    await copyFile(path.join(root, "dist", "softmax.wasm"), path.join(tmp, "softmax.wasm"));
    await copyFile(path.join(root, "dist", "softmax-relaxed.wasm"), path.join(tmp, "softmax-relaxed.wasm"));
    await writeFile(path.join(tmp, "model.onnx"), net.toOnnx());

    child = spawn(found.bin, ["serve", path.join(example, "config.capnp"), "-I", tmp, "--socket-addr", "http=127.0.0.1:0",
      "--control-fd=3"], { stdio: ["ignore", "inherit", "inherit", "pipe"] });
    const port = await new Promise<number>((resolve, reject) => {
      let buf = "";
      child!.stdio[3]!.on("data", (d) => {
        buf += d;
        for (const line of buf.split("\n").slice(0, -1)) {
          const msg = JSON.parse(line);
          if (msg.event === "listen" && msg.socket === "http") resolve(msg.port);
        }
      });
      child!.on("exit", (code, signal) => reject(new Error(`workerd exited (${code ?? signal}) before listening`)));
      child!.on("error", reject);
    });
    url = `http://127.0.0.1:${port}/`;
  }, 120_000);

  afterAll(async () => {
    child?.kill();
    net?.dispose();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const post = async (body: Uint8Array) => {
    const res = await fetch(url, { method: "POST", body });
    return { status: res.status, json: await res.json() as { class: number; probabilities: number[]; error?: string } };
  };

  it("answers posted MNIST test images (784 pixel bytes) with Node's predict, bit for bit", async () => {
    // the first requests arrive together: they share the one network the first of them loads
    const answers = await Promise.all(Array.from(test.labels, (_, i) => post(test.images.slice(i * 784, (i + 1) * 784))));
    for (let i = 0; i < test.labels.length; i++) {
      const want = net.predict(test.images.slice(i * 784, (i + 1) * 784));
      expect(answers[i].status).toBe(200);
      expect(answers[i].json.probabilities).toEqual(Array.from(want));
      expect(answers[i].json.class).toBe(want.indexOf(Math.max(...want)));
    }
    // the trained network gets most of these right: the worker classifies, it does not just echo numbers
    expect(answers.filter((a, i) => a.json.class === test.labels[i]).length).toBeGreaterThanOrEqual(6);
  });

  it("answers 784 float32s in [0, 1] with Node's predict of the same floats", async () => {
    const floats = Float32Array.from(test.images.subarray(0, 784), (p) => p / 255);
    const want = net.predict(floats);
    const { status, json } = await post(new Uint8Array(floats.buffer));
    expect(status).toBe(200);
    expect(json.probabilities).toEqual(Array.from(want));
  });

  it("refuses a body of the wrong size with a 400 that names the sizes it takes", async () => {
    const { status, json } = await post(new Uint8Array(100));
    expect(status).toBe(400);
    expect(json.error).toBe("expected 784 bytes or 3136 bytes of float32s, got 100 bytes");
  });
});
