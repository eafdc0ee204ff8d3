// ready({ threads: n }): the threads build (dist/softmax-threads.wasm) on a shared memory with n - 1 worker_threads.
// Each thread count runs in its own child Node (test/runtimes/threads-run.mjs: a fresh library, its own workers) and
// must give the default build's digests bit for bit: every kernel, the shapes that take the parallel softmax and
// cross-entropy paths, and seeded Network fits (save() and predictions). Also the one-warning fallback and bad values.
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Browser } from "playwright-core";
import { chromiumSkipReason, launchChromium, serveStatic, watchPage } from "./bundlers/serve.js";
import { expectRelaxedThreadsLikeOne } from "./helpers.js";

type Lib = typeof import("../dist/index.js");
interface Run {
  threads: number; build: string; warnings: string[]; kernels: unknown; parallel: unknown; training: unknown; gemm?: string[];
}

const root = fileURLToPath(new URL("..", import.meta.url));

function run(n: number, cmd = process.execPath, args: string[] = [], extra: string[] = []): Run {
  const out = execFileSync(cmd, [...args, "test/runtimes/threads-run.mjs", String(n), ...extra],
    { cwd: root, encoding: "utf8", timeout: 60_000, env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" } });
  return JSON.parse(out.trim().split("\n").pop()!) as Run;
}

/** A runtime's binary from node_modules (a real one, tens of MB), or undefined. */
function binary(candidates: string[]): string | undefined {
  return candidates.map((c) => path.join(root, "node_modules", c)).find((p) => existsSync(p) && statSync(p).size > 1_000_000);
}

async function fresh(entry: "index" | "inline" = "index"): Promise<Lib> {
  vi.resetModules();
  return (entry === "index" ? import("../dist/index.js") : import("../dist/inline.js")) as Promise<Lib>;
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

let baseRun: Run | undefined;
const base = (): Run => (baseRun ??= run(0));

describe("ready({ threads })", () => {
  it("gives the default build's bits for 1, 2 and 3 threads", () => {
    const base = run(0);
    baseRun = base;
    expect(base.threads).toBe(1);
    const parallel = base.parallel as Record<string, string>;
    for (const shape of Object.keys(parallel).filter((k) => !k.includes(" "))) {
      expect(parallel[`${shape} wasmArray`], shape).toBe(parallel[shape]); // in place on WasmArrays: the same bits
    }
    for (const n of [1, 2, 3]) {
      const r = run(n);
      expect(r.threads).toBe(n); // n > 1: the pool really ran (no fallback)
      expect(r.warnings).toEqual([]);
      expect(r.kernels).toEqual(base.kernels);
      expect(r.parallel).toEqual(base.parallel);
      expect(r.training).toEqual(base.training);
      expect(r.gemm).toEqual(base.gemm);
    }
  }, 240_000);

  it("with relaxed: true too, gives the relaxed build's bits for 1, 2 and 3 threads (softmax-threads-relaxed.wasm)", () => {
    const flag = ["--experimental-wasm-relaxed-simd"];
    const relaxed = run(0, process.execPath, flag, ["relaxed"]);
    expect(relaxed.build).toBe("relaxed-simd");
    expect(relaxed.kernels).not.toEqual(base().kernels); // fused multiply-adds: other last bits than the default build
    for (const n of [1, 2, 3]) {
      const r = run(n, process.execPath, flag, ["relaxed"]);
      expect(r.threads).toBe(n);
      expect(r.build).toBe("relaxed-simd");
      expect(r.warnings).toEqual([]);
      expect({ ...r, threads: 0 }).toEqual({ ...relaxed, threads: 0 });
    }
    // without the flag Node 20 has no relaxed SIMD: one warning, and the default threads build
    const plain = run(2, process.execPath, [], ["relaxed"]);
    expect(plain.threads).toBe(2);
    expect(plain.build).toBe("simd");
    expect(plain.warnings).toHaveLength(1);
    expect(plain.warnings[0]).toMatch(/ready\(\{ threads: 2, relaxed: true \}\): this engine does not support relaxed SIMD .* loading the default SIMD threads build/);
    expect({ ...plain, warnings: [] }).toEqual({ ...base(), threads: 2, warnings: [] });
  }, 240_000);

  // Deno and Bun take the Node entry (node:worker_threads); only on x64 Linux here, as the edge suite finds them.
  const deno = binary(["@deno/linux-x64-glibc/deno", "deno/deno"]);
  const bun = binary(["@oven/bun-linux-x64/bin/bun", "bun/bin/bun.exe"]);
  it.skipIf(deno === undefined)("gives the same bits in Deno with 2 threads", () => {
    const r = run(2, deno!, ["run", "--no-lock", "--no-prompt", `--allow-read=${root}`]);
    expect(r.threads).toBe(2);
    expect(r.warnings).toEqual([]);
    expect({ ...r, threads: 0, warnings: [] }).toEqual({ ...base(), threads: 0, warnings: [] });
  }, 120_000);
  it.skipIf(bun === undefined)("gives the same bits in Bun with 2 threads", () => {
    const r = run(2, bun!, ["--no-install"]);
    expect(r.threads).toBe(2);
    expect(r.warnings).toEqual([]);
    expect({ ...r, threads: 0, warnings: [] }).toEqual({ ...base(), threads: 0, warnings: [] });
  }, 120_000);

  it("falls back to one thread with one warning where SharedArrayBuffer is missing", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const lib = await fresh();
    vi.stubGlobal("SharedArrayBuffer", undefined);
    await lib.ready({ threads: 2 });
    vi.unstubAllGlobals();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/threads: 2.*SharedArrayBuffer.*default single-threaded build/);
    expect(lib.wasmBuild()).toBe("simd");
    expect(Array.from(lib.softmax(new Float32Array([2, 3, 4]), 3), (v) => v.toFixed(4))).toEqual(["0.0900", "0.2447", "0.6652"]);
  });

  it("falls back with one warning in the inline entry, which has no threads build", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const lib = await fresh("inline");
    await lib.ready({ threads: 3 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/inline embeds only the default build/);
    expect(lib.softmax(new Float32Array([0, 0]), 2)).toEqual(new Float32Array([0.5, 0.5]));
  });

  it("rejects bad thread counts and loads nothing", async () => {
    const lib = await fresh();
    for (const bad of [0, -1, 1.5, NaN, Infinity, 1000]) {
      await expect(lib.ready({ threads: bad })).rejects.toThrow(RangeError);
    }
    await expect(lib.ready({ threads: 0 })).rejects.toThrow("ready: opts.threads must be an integer from 1 to 256, got 0");
    for (const bad of ["x", "2", null, true]) {
      await expect(lib.ready({ threads: bad } as never)).rejects.toThrow(TypeError);
    }
    await expect(lib.ready({ threads: 2, source: new Uint8Array(8) })).rejects.toThrow(TypeError);
    await expect(lib.ready({ threads: 2, source: new Uint8Array(8) })).rejects.toThrow(
      "ready: opts.threads > 1 cannot go with opts.source (the threads builds are the library's own)");
    expect(lib.wasmBuild()).toBeUndefined();
    await lib.ready({ threads: 1 });
    expect(lib.wasmBuild()).toBe("simd");
  });
});

const skip = chromiumSkipReason();

describe.skipIf(skip !== undefined)(skip ? `ready({ threads }) in Chromium (skipped: ${skip})` : "ready({ threads }) in Chromium", () => {
  let browser: Browser | undefined;
  let isolated: Awaited<ReturnType<typeof serveStatic>> | undefined;
  let plain: Awaited<ReturnType<typeof serveStatic>> | undefined;

  beforeAll(async () => {
    isolated = await serveStatic(root, {
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    });
    plain = await serveStatic(root);
    browser = await launchChromium();
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await isolated?.close();
    await plain?.close();
  });

  async function page(url: string): Promise<{ got: Run; problems: string[] }> {
    const p = await browser!.newPage();
    const problems = watchPage(p);
    await p.goto(url);
    await p.waitForFunction(() => (window as { __results?: unknown }).__results !== undefined, null, { timeout: 5_000 });
    const got = await p.evaluate(() => (window as unknown as { __results: Promise<unknown> }).__results) as Run;
    await p.close();
    return { got, problems };
  }

  it("runs 2 and 3 Web Workers on a cross-origin isolated page, with Node's default bits", async () => {
    for (const n of [2, 3]) {
      const { got, problems } = await page(`${isolated!.url}test/runtimes/browser-threads.html?threads=${n}`);
      expect(got.threads).toBe(n);
      expect(got.warnings).toEqual([]);
      expect(got.kernels).toEqual(base().kernels);
      expect(got.parallel).toEqual(base().parallel);
      expect(got.training).toEqual(base().training);
      expect(problems).toEqual([]);
    }
  }, 120_000);

  it("runs the relaxed threads build on 3 threads (2 Web Workers), with the single-threaded relaxed build's bits", async () => {
    await expectRelaxedThreadsLikeOne((q) => page(`${isolated!.url}test/runtimes/browser-threads.html?${q}`));
  }, 120_000);

  it("runs a terminated Web Worker's shares on the main thread, then drops it at a call past the claim bound, and goes on", async () => {
    const p = await browser!.newPage();
    const problems = watchPage(p);
    await p.goto(`${isolated!.url}test/runtimes/browser-threads.html?threads=3`);
    await p.waitForFunction(() => (window as { __results?: unknown }).__results !== undefined, null, { timeout: 5_000 });
    await p.evaluate(() => (window as unknown as { __results: Promise<unknown> }).__results);
    // a string, so that no transform touches its import()s; the page's own copies of the modules. The page took
    // ready() from softmax-wasm/full (dist/browser-full.js); the kernels here come from the default entry, which
    // shares its engine and so its pool
    const got = await p.evaluate(`(async () => {
      const lib = await import("/dist/browser.js");
      const { engine } = await import("/dist/engine.js");
      const pool = engine("page").pool;
      const x = Float32Array.from({ length: 64 * 1000 }, (_, i) => Math.sin(i * 0.618) * 8);
      const before = lib.softmax(x, 1000);
      // Chromium forces the end of a worker whose loop never yields only after a delay (under 3 s here): until then it
      // runs its jobs; then the main thread runs them, and the first call 5 s after one it did not look at drops it
      pool.workers[0].terminate();
      let message = "none", ms = 0, same = true;
      for (let i = 0; i < 20 && message === "none"; i++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const t = performance.now();
        try {
          same &&= lib.softmax(x, 1000).every((v, i) => Object.is(v, before[i]));
        } catch (err) {
          message = err.message;
        }
        ms = performance.now() - t;
      }
      const after = lib.softmax(x, 1000);
      return { message, ms, size: pool.size, same: same && before.every((v, i) => Object.is(v, after[i])) };
    })()`) as { message: string; ms: number; size: number; same: boolean };
    await p.close();
    expect(got.message).toBe("softmax-wasm: a worker of the thread pool stopped (worker 1 of 2: it did not take its job " +
      "within 5 s); this call's results are not valid (a Network being trained may hold a partial step). Later calls " +
      "run on the 2 remaining threads, with the same results as before, more slowly.");
    expect(got.ms).toBeLessThan(1000); // found when the call starts: its shares ran here meanwhile
    expect(got.size).toBe(2);
    expect(got.same).toBe(true); // 2 threads give 3 threads' bits, as the calls before the end did
    expect(problems).toEqual([]);
  }, 60_000);

  it("falls back with one warning on a page that is not cross-origin isolated", async () => {
    const { got } = await page(`${plain!.url}test/runtimes/browser-threads.html?threads=2`);
    expect(got.threads).toBe(1);
    expect(got.warnings).toHaveLength(1);
    expect(got.warnings[0]).toMatch(/threads: 2.*(SharedArrayBuffer|cross-origin isolated).*default single-threaded build/);
    expect(got.kernels).toEqual(base().kernels);
    expect(got.training).toEqual(base().training);
  }, 120_000);
});
