// The package as a user imports it: by name, through the exports map, with its types and its .wasm.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as lib from "softmax-wasm";
import * as node from "softmax-wasm/node";
import { npm, packedFiles, repo } from "./install.js";

describe("the published package", () => {
  it("exports exactly the documented API by name", () => {
    expect(Object.keys(lib).sort()).toEqual([
      "binaryCrossEntropyWithLogits", "crossEntropy", "logSoftmax", "logSoftmaxBackward", "logitsFromProbs",
      "Network", "loadMnist", "parseIdx", "quadraticCost", "ready", "sigmoid", "softmax", "softmaxBackward", "wasmBuild",
      "wasmMemory", "wasmArray", "WasmArray", "sample", "sampleProbs", "sampler", "Sampler", "topK", "argmax",
    ].sort());
  });

  it("softmax-wasm/node exports the Node-only part, the same functions as the root in Node", () => {
    expect(Object.keys(node)).toEqual(["loadMnist"]);
    expect(node.loadMnist).toBe(lib.loadMnist);
  });

  it("works when imported by name", async () => {
    await lib.ready();
    const p = lib.softmax(new Float32Array([2, 3, 4]), 3);
    expect(Array.from(p, (v) => v.toFixed(4))).toEqual(["0.0900", "0.2447", "0.6652"]);
  });

  it("ships its types and the .wasm at the exported paths", () => {
    const require = createRequire(import.meta.url);
    const wasm = require.resolve("softmax-wasm/softmax.wasm");
    expect(existsSync(wasm)).toBe(true);
    expect(existsSync(new URL("../dist/index.d.ts", import.meta.url))).toBe(true);
    expect(WebAssembly.validate(new Uint8Array(require("node:fs").readFileSync(wasm)))).toBe(true);
    // the relaxed-SIMD build too (it validates only where the engine has relaxed SIMD: not in plain Node 20)
    expect(existsSync(require.resolve("softmax-wasm/softmax-relaxed.wasm"))).toBe(true);
  });
});

describe("what npm publishes", () => {
  const manifest = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));

  it("packs package.json, README.md, LICENSE, the bin and dist's modules, types, maps and four builds: every path " +
    "package.json names, and nothing else", () => {
    const files = packedFiles();
    for (const f of files) {
      expect(f).toMatch(/^(package\.json|README\.md|LICENSE|bin\/softmax-wasm\.js|dist\/[\w-]+\.(js|d\.ts|js\.map|wasm))$/);
    }
    expect(files.filter((f) => f.endsWith(".wasm")).sort()).toEqual([
      "dist/softmax-relaxed.wasm", "dist/softmax-threads-relaxed.wasm", "dist/softmax-threads.wasm", "dist/softmax.wasm",
    ]);
    for (const js of files.filter((f) => f.endsWith(".js") && f.startsWith("dist/"))) {
      expect(files, `${js}'s types`).toContain(js.replace(/\.js$/, ".d.ts"));
    }
    const named: string[] = [...Object.values(manifest.bin as Record<string, string>), manifest.main, manifest.types];
    const walk = (v: unknown): void => {
      if (typeof v === "string") named.push(v);
      else for (const w of Object.values(v as object)) walk(w);
    };
    walk(manifest.exports);
    for (const path of named) expect(files, path).toContain(path.replace(/^\.\//, ""));
  });

  it("package.json is as npm publish would leave it (npm pkg fix changes nothing), with keywords", () => {
    const dir = mkdtempSync(join(tmpdir(), "softmax-wasm-pkgfix-"));
    try {
      copyFileSync(join(repo, "package.json"), join(dir, "package.json"));
      npm(["pkg", "fix"], dir);
      expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))).toEqual(manifest);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(manifest.keywords).toEqual(expect.arrayContaining(["softmax", "webassembly", "simd"]));
  });
});
