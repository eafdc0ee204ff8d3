// What the package costs an app, measured: esbuild bundles for the browser (ESM, minified, code splitting on, as
// Vite and other bundlers split dynamic imports), and each output file is gzipped (-9) as a server would send it.
// "Loaded at start" is the entry's chunk and the chunks it imports statically. The default browser entry has nothing
// else: no lazy chunk, no build but softmax.wasm. softmax-wasm/full's relaxed and threads parts sit behind dynamic
// imports and load only when ready() asks for them, as do the other builds and the workers' script (bundled on its
// own, as Vite does). The README's sizes table must match these measurements within TOLERANCE (each figure), so it
// cannot go stale.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { build, type Metafile } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
// 5% of each figure, or the table's rounding to 0.1 KiB where that is more: small code changes do not fail it, a
// stale table does
const TOLERANCE = 0.05;
const ROUNDING = 0.06 * 1024;

interface Size { min: number; gz: number; inputs: string[] }

/**
 * `contents` bundled as an app would (it imports softmax-wasm by name, resolved by self-reference to dist/):
 * what loads at start and, apart, what the dynamic imports load.
 */
async function measure(contents: string): Promise<{ start: Size; lazy: Size; chunk: (module: string) => Size }> {
  const out = await build({
    stdin: { contents, resolveDir: root, loader: "js" }, bundle: true, write: false, minify: true, format: "esm",
    platform: "browser", splitting: true, outdir: join(root, "sizes-out"), metafile: true, logLevel: "silent",
  });
  const outputs = out.metafile.outputs;
  const files = new Map(out.outputFiles.map((f) => [f.path.slice(root.length).replace(/^\//, ""), f.contents]));
  const entry = Object.keys(outputs).find((o) => outputs[o].entryPoint === "<stdin>")!;
  const start = new Set<string>();
  const visit = (o: string) => {
    if (start.has(o)) return;
    start.add(o);
    for (const i of outputs[o].imports) if (i.kind === "import-statement") visit(i.path);
  };
  visit(entry);
  const sum = (names: string[]): Size => ({
    min: names.reduce((n, o) => n + files.get(o)!.length, 0),
    gz: names.reduce((n, o) => n + gzipSync(files.get(o)!, { level: 9 }).length, 0),
    inputs: names.flatMap((o) => Object.keys((outputs[o] as Metafile["outputs"][string]).inputs)),
  });
  const lazy = Object.keys(outputs).filter((o) => !start.has(o));
  return {
    start: sum([...start]), lazy: sum(lazy),
    /** The lazy chunk with `module` (a dist/ file) in it. */
    chunk: (module) => sum(lazy.filter((o) => Object.keys(outputs[o].inputs).some((f) => f.endsWith(module)))),
  };
}

const kib = (n: number) => (n / 1024).toFixed(1);

/** A dist/ file's bytes, raw and gzipped. */
function file(name: string): [number, number] {
  const bytes = readFileSync(join(root, "dist", name));
  return [bytes.length, gzipSync(bytes, { level: 9 }).length];
}

/** dist/thread-worker.js bundled and minified on its own, as a bundler emits the module worker's script. */
async function workerScript(): Promise<[number, number]> {
  const out = await build({
    entryPoints: [join(root, "dist", "thread-worker.js")], bundle: true, write: false, minify: true, format: "esm",
    platform: "browser", logLevel: "silent",
  });
  const bytes = out.outputFiles[0].contents;
  return [bytes.length, gzipSync(bytes, { level: 9 }).length];
}

describe("sizes", async () => {
  const all = await measure(`export * from "softmax-wasm";`);
  const minimal = await measure(`export { ready, softmax } from "softmax-wasm";`);
  const inline = await measure(`export * from "softmax-wasm/inline";`);
  const full = await measure(`export * from "softmax-wasm/full";`);
  const relaxedChunk = full.chunk("dist/browser-relaxed.js");
  const threadsChunk = full.chunk("dist/browser-threads.js");
  const rows: [string, number, number][] = [
    ["`softmax.wasm`", ...file("softmax.wasm")],
    ["browser entry, the whole API", all.start.min, all.start.gz],
    ["an app importing only `ready` and `softmax`", minimal.start.min, minimal.start.gz],
    ["`softmax-wasm/inline` (JS and the base64 `.wasm`)", inline.start.min, inline.start.gz],
    ["`softmax-wasm/full`, the whole API", full.start.min, full.start.gz],
    // softmax-wasm/full's, fetched only when ready() asks
    ["later, for `ready({ relaxed: true })`: its chunk", relaxedChunk.min, relaxedChunk.gz],
    ["later, for `ready({ relaxed: true })`: `softmax-relaxed.wasm`", ...file("softmax-relaxed.wasm")],
    ["later, for `ready({ threads: n })`: its chunk, the pool", threadsChunk.min, threadsChunk.gz],
    ["later, for `ready({ threads: n })`: the workers' script", ...(await workerScript())],
    ["later, for `ready({ threads: n })`: `softmax-threads.wasm`", ...file("softmax-threads.wasm")],
    ["later, for `ready({ threads: n, relaxed: true })`: `softmax-threads-relaxed.wasm`",
      ...file("softmax-threads-relaxed.wasm")],
  ];
  const table = [
    "| what an app loads (esbuild, minified; gzip -9 per file) | minified | gzipped |",
    "| :--- | ---: | ---: |",
    ...rows.map(([what, min, gz]) => `| ${what} | ${kib(min)} KiB | ${kib(gz)} KiB |`),
  ].join("\n");
  console.log(`softmax-wasm sizes:\n${table}`);

  it("the default browser entry and the inline one have neither the pool nor the other builds' URLs, not even lazily", () => {
    for (const m of [all, minimal, inline]) {
      expect([...m.start.inputs, ...m.lazy.inputs]
        .filter((f) => /dist\/(threads|pool|pool-jobs|pool-start|browser-threads|browser-relaxed|browser-full)\.js$/.test(f))).toEqual([]);
      expect(m.lazy.min).toBe(0);
    }
  });

  it("softmax-wasm/full loads the pool, the threads builds and the relaxed build's URL only when ready() asks for them", () => {
    expect(full.start.inputs).toContain("dist/browser-full.js");
    expect(full.start.inputs.filter((f) => /dist\/(threads|pool|pool-jobs|pool-start|browser-threads|browser-relaxed)\.js$/.test(f))).toEqual([]);
    expect(full.lazy.inputs).toEqual(expect.arrayContaining(
      ["dist/threads.js", "dist/pool.js", "dist/pool-jobs.js", "dist/pool-start.js", "dist/browser-threads.js", "dist/browser-relaxed.js"]));
    // the lazy chunks are the relaxed one and the threads one, nothing else
    expect(full.lazy.min).toBe(relaxedChunk.min + threadsChunk.min);
    // at start it costs what the default entry does, but for its two loaders (within 1%)
    expect(Math.abs(full.start.min - all.start.min)).toBeLessThan(all.start.min / 100);
  });

  it("tree shaking leaves an app that imports only ready and softmax well under the whole API", () => {
    expect(minimal.start.min).toBeLessThan(all.start.min / 3);
    expect(minimal.start.gz).toBeLessThan(all.start.gz / 2);
  });

  // The README's table, found by its header row; compared figure by figure.
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const at = readme.indexOf(table.split("\n")[0]);
  it("README's sizes table matches the measurement within 5% or its rounding (each figure)", () => {
    expect(at, "README.md has no sizes table with this header row").toBeGreaterThanOrEqual(0);
    const lines = readme.slice(at).split("\n");
    const body = lines.slice(2, lines.findIndex((l, i) => i >= 2 && !l.startsWith("|")));
    expect(body.map((l) => l.split("|")[1].trim())).toEqual(rows.map(([what]) => what));
    body.forEach((l, i) => {
      const [, , min, gz] = l.split("|").map((c) => Number.parseFloat(c));
      for (const [claimed, measured] of [[min, rows[i][1]], [gz, rows[i][2]]]) {
        expect(Math.abs(claimed * 1024 - measured), `${rows[i][0]}: ${claimed} KiB claimed, ${kib(measured)} measured`)
          .toBeLessThanOrEqual(Math.max(TOLERANCE * measured, ROUNDING));
      }
    });
  });
});
