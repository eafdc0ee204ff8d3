// The per-runtime entry points: which file each condition resolves to, that the browser entry reaches no Node
// built-in and names no build but softmax.wasm (bundled by esbuild for the browser), that it answers
// ready({ threads }) and ready({ relaxed }) with one warning pointing to softmax-wasm/full, that softmax-wasm/full
// shares its engine, and that the inline entry runs from its embedded bytes.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));

function resolveWith(condition: string | undefined, specifier: string): string {
  const args = condition ? [`--conditions=${condition}`] : [];
  return execFileSync(process.execPath, [...args, "--input-type=module", "-e",
    `console.log(import.meta.resolve(${JSON.stringify(specifier)}))`], { cwd: root, encoding: "utf8" }).trim();
}

describe("conditional exports", () => {
  it.each([
    [undefined, "softmax-wasm", "dist/index.js"],
    ["browser", "softmax-wasm", "dist/browser.js"],
    ["workerd", "softmax-wasm", "dist/workerd.js"],
    ["deno", "softmax-wasm", "dist/index.js"],
    [undefined, "softmax-wasm/inline", "dist/inline.js"],
    [undefined, "softmax-wasm/node", "dist/node.js"],
    [undefined, "softmax-wasm/full", "dist/index.js"],
    ["browser", "softmax-wasm/full", "dist/browser-full.js"],
    ["workerd", "softmax-wasm/full", "dist/workerd.js"],
    ["deno", "softmax-wasm/full", "dist/index.js"],
    ["bun", "softmax-wasm/full", "dist/index.js"],
    [undefined, "softmax-wasm/softmax.wasm", "dist/softmax.wasm"],
  ])("condition %s: %s resolves to %s", (condition, specifier, file) => {
    expect(resolveWith(condition, specifier)).toMatch(new RegExp(`/${file.replace(".", "\\.")}$`));
  });
});

/** `entry` bundled by esbuild for the browser (one file: dynamic imports are bundled in): its code and its inputs. */
async function bundled(entry: string): Promise<{ code: string; inputs: string[] }> {
  const out = await build({
    entryPoints: [entry], absWorkingDir: root, bundle: true, write: false, format: "esm",
    platform: "browser", metafile: true, minify: true, logLevel: "silent",
  });
  return { code: out.outputFiles[0].text, inputs: Object.keys(out.metafile.inputs) };
}

/** new URL("./<file>", import.meta.url) in esbuild's output: the files a bundle asks for beside itself. */
const urls = (code: string) => [...code.matchAll(/new URL\("\.\/([\w.-]+)",import\.meta\.url\)/g)].map((m) => m[1]).sort();

describe("the browser entry", () => {
  it("bundles for the browser with esbuild, reaching no Node built-in, and names softmax.wasm and nothing else", async () => {
    const { code, inputs } = await bundled("softmax-wasm");
    expect(code).not.toMatch(/node:/);
    expect(inputs.some((f) => f.endsWith("dist/browser.js"))).toBe(true);
    expect(inputs.some((f) => /mnist-files|dist\/index\.js/.test(f))).toBe(false);
    // neither the relaxed build, the threads builds, the pool nor its worker, even behind a dynamic import: a bundler
    // copies every file a bundle names
    expect(urls(code)).toEqual(["softmax.wasm"]);
    expect(inputs.filter((f) => /dist\/(threads|browser-threads|browser-relaxed|thread-worker)\.js$/.test(f))).toEqual([]);
  });

  it("softmax-wasm/full bundles every build: the four .wasm files and the worker", async () => {
    const { code, inputs } = await bundled("softmax-wasm/full");
    expect(code).not.toMatch(/node:/);
    expect(inputs.some((f) => f.endsWith("dist/browser-full.js"))).toBe(true);
    expect(urls(code)).toEqual(["softmax-relaxed.wasm", "softmax-threads-relaxed.wasm", "softmax-threads.wasm",
      "softmax.wasm", "thread-worker.js"]);
  });
});

describe("ready() of the browser entries (in Node, fetch reading dist/)", () => {
  let fetched: string[];
  let warn: ReturnType<typeof vi.spyOn>;

  /** Fresh copies of dist/browser.js and dist/browser-full.js (one module graph: they share ready.js and engine.js). */
  async function entries() {
    vi.resetModules();
    fetched = [];
    vi.stubGlobal("fetch", async (url: URL) => {
      fetched.push(url.pathname.replace(/.*\/dist\//, "dist/"));
      return new Response(readFileSync(url), { headers: { "content-type": "application/wasm" } });
    });
    warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    return { plain: await import("../dist/browser.js"), full: await import("../dist/browser-full.js") };
  }

  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it.each([
    [{ threads: 2 }, "{ threads: 2 }", "the threads builds"],
    [{ relaxed: true }, "{ relaxed: true }", "the relaxed-SIMD build"],
    [{ threads: 3, relaxed: true }, "{ threads: 3, relaxed: true }", "the threads and relaxed-SIMD builds"],
  ])("\"softmax-wasm\": ready(%o) warns once, naming softmax-wasm/full, and loads softmax.wasm", async (opts, call, asked) => {
    const { plain } = await entries();
    await plain.ready(opts);
    expect(warn.mock.calls).toEqual([[`softmax-wasm: ready(${call}): the browser entry "softmax-wasm" carries only ` +
      `the default build (softmax.wasm), so that bundlers copy no other; import { ready } from "softmax-wasm/full" to ` +
      `load ${asked} in a browser bundle; loading the default single-threaded build`]]);
    expect(fetched).toEqual(["dist/softmax.wasm"]);
    expect(plain.wasmBuild()).toBe("simd");
    expect(plain.wasmMemory()!.buffer).toBeInstanceOf(ArrayBuffer); // not the threads build's shared memory
    expect(Array.from(plain.softmax(new Float32Array([2, 3, 4]), 3), (v) => v.toFixed(4)))
      .toEqual(["0.0900", "0.2447", "0.6652"]);
    // the one load: asking again changes nothing and warns no more
    await plain.ready(opts);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it("\"softmax-wasm\": ready() and ready({ threads: 1, relaxed: false }) load softmax.wasm without a warning", async () => {
    for (const opts of [undefined, { threads: 1, relaxed: false }]) {
      const { plain } = await entries();
      await plain.ready(opts);
      expect(fetched).toEqual(["dist/softmax.wasm"]);
      expect(warn).not.toHaveBeenCalled();
    }
  });

  it("\"softmax-wasm/full\" and \"softmax-wasm\" share one engine: ready from one, the kernels from the other", async () => {
    const { plain, full } = await entries();
    expect(full.softmax).toBe(plain.softmax); // the same module, api.js
    expect(() => plain.softmax(new Float32Array([1, 2]), 2)).toThrow("softmax() was called before ready() resolved");
    await full.ready();
    expect(plain.wasmBuild()).toBe("simd");
    expect(plain.wasmMemory()).toBe(full.wasmMemory());
    expect(Array.from(plain.softmax(new Float32Array([2, 3, 4]), 3), (v) => v.toFixed(4)))
      .toEqual(["0.0900", "0.2447", "0.6652"]);
    // and one load: the default entry's ready() returns it (no second fetch, no warning for what it cannot load)
    await plain.ready({ threads: 2 });
    expect(fetched).toEqual(["dist/softmax.wasm"]);
    expect(warn).not.toHaveBeenCalled();
  });
});

describe("the inline entry", () => {
  it("instantiates from its embedded bytes and gives the same bits as the default entry", async () => {
    vi.resetModules();
    const inline = await import("../dist/inline.js");
    await inline.ready();
    vi.resetModules();
    const node = await import("../dist/index.js");
    await node.ready();
    const x = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i) * 4);
    expect(Array.from(inline.softmax(x, 10))).toEqual(Array.from(node.softmax(x, 10)));
    expect("loadMnist" in inline).toBe(false);
  });
});
