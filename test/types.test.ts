// The package's types as a TypeScript user gets them: the files `npm pack` would publish, installed into a temp
// project, and `tsc --noEmit` on a small consumer under moduleResolution nodenext, node16 and bundler. With
// "bundler", "softmax-wasm" resolves to the browser entry's types (the exports map's default condition), which have
// no loadMnist: the Node-only part is reachable under every resolution as "softmax-wasm/node". "softmax-wasm/full"
// (every build) resolves to the Node entry's types under nodenext and node16, to browser-full.d.ts under bundler.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { installInto, repo } from "./install.js";

const tsc = join(repo, "node_modules", "typescript", "bin", "tsc");
const project = mkdtempSync(join(tmpdir(), "softmax-wasm-types-"));
afterAll(() => rmSync(project, { recursive: true, force: true }));

// node_modules/softmax-wasm as `npm install` leaves it; @types/node (and what it needs) linked from this repo
installInto(project);
mkdirSync(join(project, "node_modules", "@types"));
symlinkSync(join(repo, "node_modules", "@types", "node"), join(project, "node_modules", "@types", "node"), "dir");
symlinkSync(join(repo, "node_modules", "undici-types"), join(project, "node_modules", "undici-types"), "dir");
writeFileSync(join(project, "package.json"), JSON.stringify({ type: "module", private: true }));

// The consumer: each entry by name, with a deliberate type error that must be reported (so the types are not any).
writeFileSync(join(project, "app.ts"), `
import { ready, softmax, wasmBuild, Network, type WasmBuild, type MnistSplit } from "softmax-wasm";
import { loadMnist } from "softmax-wasm/node";
import * as inline from "softmax-wasm/inline";
import { ready as readyFull, softmax as softmaxFull, type ReadyOptions } from "softmax-wasm/full";

await readyFull({ threads: 2, relaxed: true } satisfies ReadyOptions);
const sameApi: typeof softmax = softmaxFull;
// @ts-expect-error: cols is a number; were softmax-wasm/full's types any, this would be an unused @ts-expect-error
softmaxFull(new Float32Array(3), "3");
await ready({ relaxed: true });
await ready(new WebAssembly.Module(new Uint8Array(8)));
// @ts-expect-error: threads is a number (an options object must not pass as a WebAssembly.Module, which has no members)
await ready({ threads: "2" });
const p: Float32Array = softmax(new Float32Array([2, 3, 4]), 3);
const build: WasmBuild | undefined = wasmBuild();
const { train }: { train: MnistSplit } = await loadMnist({ dir: "data" });
const net = new Network({ sizes: [784, 10], seed: 1 });
await inline.ready();
// @ts-expect-error: cols is a number; were the types any, this line would be an unused @ts-expect-error
softmax(p, "3");
export { build, train, net, sameApi };
`);
// loadMnist from the package's root and from softmax-wasm/full: present in Node's types (nodenext, node16), absent
// from the browser's (bundler: browser.d.ts, browser-full.d.ts)
writeFileSync(join(project, "root.ts"), `import { loadMnist } from "softmax-wasm";
import { loadMnist as loadMnistFull } from "softmax-wasm/full";
export const load = loadMnist, loadFull = loadMnistFull;
`);

// A Node project without lib "DOM": TypeScript declares the WebAssembly namespace only in its DOM and WebWorker libs,
// not in ES2022 or @types/node 20, so the package's types must not need it (src/wasm-types.ts).
writeFileSync(join(project, "node-app.ts"), `
import { ready, softmax, wasmMemory, type WasmSource } from "softmax-wasm";
await ready();
const bytes: ArrayBuffer | undefined = wasmMemory()?.buffer;
const source: WasmSource = new Uint8Array(8);
// @ts-expect-error: threads is a number, also where WebAssembly.Module is not a type
await ready({ threads: "2" });
// @ts-expect-error: cols is a number
softmax(new Float32Array(3), "3");
export { bytes, source };
`);

// "app.ts" makes a WebAssembly.Module itself, so those projects take lib "DOM" too
const configs = {
  nodenext: { module: "nodenext", moduleResolution: "nodenext", lib: ["ES2022", "DOM"], types: ["node"] },
  node16: { module: "node16", moduleResolution: "node16", lib: ["ES2022", "DOM"], types: ["node"] },
  bundler: { module: "esnext", moduleResolution: "bundler", lib: ["ES2022", "DOM"], types: [] as string[] },
  nodeWithoutDom: { module: "nodenext", moduleResolution: "nodenext", lib: ["ES2022"], types: ["node"] },
};

/** tsc --noEmit under `resolution`, checking the package's .d.ts files too (skipLibCheck off; TypeScript's own lib files skipped). */
function check(resolution: keyof typeof configs): Promise<{ status: number | null; output: string }> {
  const config = join(project, `tsconfig.${resolution}.json`);
  writeFileSync(config, JSON.stringify({
    compilerOptions: {
      ...configs[resolution], target: "ES2022", strict: true, noEmit: true, skipLibCheck: false, skipDefaultLibCheck: true,
    },
    files: resolution === "nodeWithoutDom" ? ["node-app.ts", "root.ts"] : ["app.ts", "root.ts"],
  }));
  return new Promise((resolve) => {
    execFile(process.execPath, [tsc, "-p", config], { cwd: project, encoding: "utf8" }, (err, stdout, stderr) => {
      resolve({ status: err ? (err.code as number) : 0, output: `${stdout}${stderr}`.trim() });
    });
  });
}

describe.concurrent("TypeScript consumers of the packed package", () => {
  it.each(["nodenext", "node16"] as const)("moduleResolution %s: every entry type-checks, the package's own " +
    ".d.ts files included, and loadMnist is in the root's and softmax-wasm/full's types too", async (resolution) => {
    expect(await check(resolution)).toEqual({ status: 0, output: "" });
  }, 120_000);

  it("a Node project without lib DOM (ES2022 and @types/node only) type-checks the package's .d.ts files, " +
    "wasmMemory() giving a memory with a buffer", async () => {
    expect(await check("nodeWithoutDom")).toEqual({ status: 0, output: "" });
  }, 120_000);

  it("moduleResolution bundler: every entry type-checks with loadMnist from softmax-wasm/node; the root's and " +
    "softmax-wasm/full's types are the browser entries', without loadMnist", async () => {
    const { status, output } = await check("bundler");
    expect(status).toBe(2);
    expect(output.split("\n")).toEqual([
      "root.ts(1,10): error TS2305: Module '\"softmax-wasm\"' has no exported member 'loadMnist'.",
      "root.ts(2,10): error TS2305: Module '\"softmax-wasm/full\"' has no exported member 'loadMnist'.",
    ]);
  }, 120_000);
});
