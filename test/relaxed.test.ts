// The opt-in relaxed-SIMD build (dist/softmax-relaxed.wasm): ready({ relaxed: true }) picks it by probing
// WebAssembly.validate, falls back to the default build with one warning where the engine lacks relaxed SIMD (plain
// Node 20), and where it runs (Node 20 with --experimental-wasm-relaxed-simd, in a child process) its results match
// the default build's within a tolerance. Also ready()'s options object and its errors.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { relaxedWorkload } from "./runtimes/relaxed.js";
import { expectRelaxedClose } from "./helpers.js";

type Lib = typeof import("../dist/index.js");
type Outputs = Record<string, number[]> & { build: string; runtime: string; warnings: string[] };

const root = fileURLToPath(new URL("..", import.meta.url));
const FLAG = "--experimental-wasm-relaxed-simd";
const nodeMajor = Number(process.versions.node.split(".")[0]);

/** A fresh copy of the library (its own ready() state), as an entry point's module. */
async function fresh(entry: "index" | "inline" = "index"): Promise<Lib> {
  vi.resetModules();
  return (entry === "index" ? import("../dist/index.js") : import("../dist/inline.js")) as Promise<Lib>;
}

async function probe(): Promise<boolean> {
  vi.resetModules();
  const { relaxedSimdSupported } = await import("../dist/ready.js");
  return relaxedSimdSupported();
}

/**
 * test/runtimes/relaxed-run.mjs in a child Node, given --experimental-wasm-relaxed-simd where this Node lacks relaxed
 * SIMD (Node 20); later Node has it by default, and its V8 may not know the flag.
 */
async function runChild(args: string[] = []): Promise<Outputs> {
  const flags = (await probe()) ? [] : [FLAG];
  const out = execFileSync(process.execPath, [...flags, "test/runtimes/relaxed-run.mjs", ...args],
    { cwd: root, encoding: "utf8", timeout: 30_000 });
  return JSON.parse(out.trim().split("\n").pop()!) as Outputs;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the relaxed-SIMD probe", () => {
  it.runIf(nodeMajor === 20)("says false in plain Node 20 (relaxed SIMD is behind a flag there)", async () => {
    expect(await probe()).toBe(false);
  });

  it("says true in a Node child with relaxed SIMD, which loads the relaxed build", async () => {
    const got = await runChild();
    expect(got.build).toBe("relaxed-simd");
    expect(got.warnings).toEqual([]);
  });
});

describe.skipIf(nodeMajor !== 20)("ready({ relaxed: true }) where the engine lacks relaxed SIMD (plain Node 20)", () => {
  it("falls back to the default build with exactly one warning", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const lib = await fresh();
    expect(lib.wasmBuild()).toBeUndefined();
    await lib.ready({ relaxed: true });
    expect(lib.wasmBuild()).toBe("simd");
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/does not support relaxed SIMD.*loading the default SIMD build/);
    // later calls return the same load: no second warning
    await lib.ready({ relaxed: true });
    await lib.ready();
    expect(warn).toHaveBeenCalledTimes(1);
    // and the fallback is the default build, bit for bit
    const x = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i) * 5);
    const fallback = lib.softmax(x, 10);
    const plain = await fresh();
    await plain.ready();
    expect(Array.from(fallback)).toEqual(Array.from(plain.softmax(x, 10)));
  });

  it("cannot instantiate the relaxed build passed as a source (a CompileError, not a silent fallback)", async () => {
    const lib = await fresh();
    await expect(lib.ready(readFileSync(new URL("../dist/softmax-relaxed.wasm", import.meta.url))))
      .rejects.toThrow(WebAssembly.CompileError);
  });
});

describe("ready({ relaxed: true }) where the engine has relaxed SIMD (a Node child with the flag)", () => {
  it("loads the relaxed build, whose softmax, crossEntropy and Network.gradient match the default build's", async () => {
    const relaxed = await runChild();
    expect(relaxed.runtime).toMatch(/^node /);
    expect(relaxed.build).toBe("relaxed-simd");
    expect(relaxed.warnings).toEqual([]);

    const lib = await fresh();
    await lib.ready();
    expect(lib.wasmBuild()).toBe("simd");
    const ratios = expectRelaxedClose(relaxed, relaxedWorkload(lib), relaxed.runtime);
    console.log(`[relaxed] worst |relaxed - default| / (1e-5 |default| + 1e-6):\n  ${ratios.join("\n  ")}`);
  });

  it("reports the relaxed build from wasmBuild() also when it is passed to ready() as bytes", async () => {
    const got = await runChild(["dist/softmax-relaxed.wasm"]);
    expect(got.build).toBe("relaxed-simd");
    expect(got.warnings).toEqual([]);
  });
});

describe("the inline entry", () => {
  it("has only the default build: ready({ relaxed: true }) warns once and loads it", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const lib = await fresh("inline");
    await lib.ready({ relaxed: true });
    expect(lib.wasmBuild()).toBe("simd");
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/inline embeds only the default build/);
  });
});

describe("ready(opts)", () => {
  it("takes { source }, { relaxed: false } and {} like ready(source) and ready()", async () => {
    const bytes = readFileSync(new URL("../dist/softmax.wasm", import.meta.url));
    for (const opts of [{ source: new Uint8Array(bytes) }, { relaxed: false }, {}, { source: undefined, relaxed: undefined }]) {
      const lib = await fresh();
      await lib.ready(opts);
      expect(lib.wasmBuild()).toBe("simd");
      expect(Array.from(lib.softmax(new Float32Array([2, 3, 4]), 3), (v) => v.toFixed(4))).toEqual(["0.0900", "0.2447", "0.6652"]);
    }
  });

  it("rejects bad options clearly, loads nothing, and a good call after works", async () => {
    const lib = await fresh();
    await expect(lib.ready({ relaxed: "yes" } as never)).rejects.toThrow(TypeError);
    await expect(lib.ready({ relaxed: "yes" } as never)).rejects.toThrow("ready: opts.relaxed must be a boolean, got string");
    await expect(lib.ready({ relaxd: true } as never)).rejects.toThrow(TypeError);
    await expect(lib.ready({ relaxd: true } as never)).rejects.toThrow(
      "ready: unknown option opts.relaxd (expected one of source, relaxed, threads)");
    await expect(lib.ready({ relaxed: true, sauce: 1, fast: 2 } as never)).rejects.toThrow(
      /unknown options opts\.sauce, opts\.fast/);
    await expect(lib.ready({ threads: 0 })).rejects.toThrow(RangeError);
    await expect(lib.ready({ threads: 2, relaxed: true, source: new Uint8Array(8) })).rejects.toThrow(TypeError);
    await expect(lib.ready({ relaxed: true, source: new Uint8Array(8) })).rejects.toThrow(TypeError);
    await expect(lib.ready({ relaxed: true, source: new Uint8Array(8) })).rejects.toThrow(
      "ready: opts.source cannot go with opts.relaxed: true");
    expect(lib.wasmBuild()).toBeUndefined();
    expect(() => lib.softmax(new Float32Array(3), 3)).toThrow(/before ready\(\) resolved/);
    await lib.ready();
    expect(lib.wasmBuild()).toBe("simd");
  });

  it("checks the options even once loaded (a misspelt option is never ignored)", async () => {
    const lib = await fresh();
    await lib.ready();
    await expect(lib.ready({ relaxd: true } as never)).rejects.toThrow(/opts\.relaxd/);
    await expect(lib.ready({ threads: 1.5 })).rejects.toThrow(RangeError);
  });

  it("still treats a thenable, a Response or a Module as a source, not as options", async () => {
    const bytes = readFileSync(new URL("../dist/softmax.wasm", import.meta.url));
    const lib = await fresh();
    await lib.ready({ then: (resolve: (r: Response) => void) => resolve(new Response(bytes)) } as never);
    expect(lib.wasmBuild()).toBe("simd");
  });
});
