// ready() instantiates from the default file or from what the user hosts: a Module, bytes or a Response.
import { readFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";

const bytes = readFileSync(new URL("../dist/softmax.wasm", import.meta.url));

/** A fresh copy of the library, so each test loads its own instance. */
async function fresh(): Promise<typeof import("../dist/index.js")> {
  vi.resetModules();
  return import("../dist/index.js");
}

async function expectWorks(lib: typeof import("../dist/index.js")): Promise<void> {
  const p = lib.softmax(new Float32Array([2, 3, 4]), 3);
  expect(Array.from(p, (v) => v.toFixed(4))).toEqual(["0.0900", "0.2447", "0.6652"]);
}

describe("ready(source)", () => {
  const sources: [string, () => unknown][] = [
    ["a WebAssembly.Module", () => new WebAssembly.Module(bytes)],
    ["an ArrayBuffer", () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)],
    ["a Uint8Array", () => new Uint8Array(bytes)],
    ["a Response served as application/wasm", () => new Response(bytes, { headers: { "content-type": "application/wasm" } })],
    ["a Response with no wasm content type", () => new Response(bytes)],
    ["a promise of a Response", () => Promise.resolve(new Response(bytes))],
  ];
  it.each(sources)("instantiates from %s", async (_, make) => {
    const lib = await fresh();
    await lib.ready(make() as never);
    await expectWorks(lib);
  });

  it("loads the .wasm beside the module by default, once: later calls return the same promise", async () => {
    const lib = await fresh();
    const first = lib.ready();
    expect(lib.ready()).toBe(first);
    await first;
    await expectWorks(lib);
  });

  it("rejects a failed fetch with a clear error, and can be retried", async () => {
    const lib = await fresh();
    await expect(lib.ready(new Response("not found", { status: 404 }))).rejects.toThrow(/HTTP 404/);
    expect(() => lib.softmax(new Float32Array(3), 3)).toThrow(/ready/);
    await lib.ready(new Uint8Array(bytes));
    await expectWorks(lib);
  });

  it("instantiates from a URL or a URL string (a file: URL is read from disk in Node)", async () => {
    const lib = await fresh();
    await lib.ready(new URL("../dist/softmax.wasm", import.meta.url));
    await expectWorks(lib);
    const again = await fresh();
    await again.ready(new URL("../dist/softmax.wasm", import.meta.url).href);
    await expectWorks(again);
    const missing = await fresh();
    await expect(missing.ready(new URL("../dist/nothing.wasm", import.meta.url))).rejects.toThrow(/ENOENT/);
  });

  it("rejects what it cannot instantiate from", async () => {
    const lib = await fresh();
    await expect(lib.ready(42 as never)).rejects.toThrow(TypeError);
    // what it takes, every kind named, and what it got
    await expect(lib.ready(null as never)).rejects.toThrow(new TypeError("softmax-wasm: ready(source) takes a " +
      "WebAssembly.Module, bytes (an ArrayBuffer or a view), a Response, a URL or a URL string, or options ({ threads, " +
      "relaxed, source }); got null"));
    await expect(lib.ready(new Uint8Array([0, 1, 2, 3]))).rejects.toThrow(WebAssembly.CompileError);
    await lib.ready();
    await expectWorks(lib); // and a later good call loads
  });
});
