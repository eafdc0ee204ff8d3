// What the package costs an app, measured: esbuild bundles for the browser (ESM, minified, code splitting on, as
// Vite and other bundlers split dynamic imports), and each output file is gzipped (-9) as a server would send it.
// "Loaded at start" is the entry's chunk and the chunks it imports statically; the relaxed and threads parts sit
// behind dynamic imports and load only when ready() asks for them. The README's sizes table must match these
// measurements within TOLERANCE (each figure), so it cannot go stale.
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

describe("sizes", async () => {
  const wasm = readFileSync(join(root, "dist", "softmax.wasm"));
  const all = await measure(`export * from "softmax-wasm";`);
  const minimal = await measure(`export { ready, softmax } from "softmax-wasm";`);
  const inline = await measure(`export * from "softmax-wasm/inline";`);
  const relaxedChunk = all.chunk("dist/browser-relaxed.js");
  const threadsChunk = all.chunk("dist/browser-threads.js");
  const rows: [string, number, number][] = [
    ["`softmax.wasm`", wasm.length, gzipSync(wasm, { level: 9 }).length],
    ["browser entry, the whole API", all.start.min, all.start.gz],
    ["an app importing only `ready` and `softmax`", minimal.start.min, minimal.start.gz],
    ["`softmax-wasm/inline` (JS and the base64 `.wasm`)", inline.start.min, inline.start.gz],
    ["later, for `ready({ relaxed: true })`: its chunk", relaxedChunk.min, relaxedChunk.gz],
    ["later, for `ready({ threads: n })`: its chunk, the pool", threadsChunk.min, threadsChunk.gz],
  ];
  const table = [
    "| what an app loads (esbuild, minified; gzip -9 per file) | minified | gzipped |",
    "| :--- | ---: | ---: |",
    ...rows.map(([what, min, gz]) => `| ${what} | ${kib(min)} KiB | ${kib(gz)} KiB |`),
  ].join("\n");
  console.log(`softmax-wasm sizes:\n${table}`);

  it("the pool, the threads builds and the relaxed build's URL load only when ready() asks for them", () => {
    for (const m of [all, minimal]) {
      expect(m.start.inputs.filter((f) => /dist\/(threads|browser-threads|browser-relaxed)\.js$/.test(f))).toEqual([]);
      expect(m.lazy.inputs).toEqual(expect.arrayContaining(
        ["dist/threads.js", "dist/browser-threads.js", "dist/browser-relaxed.js"]));
    }
    // the inline entry has no threads: the pool is not in its bundle at all
    expect([...inline.start.inputs, ...inline.lazy.inputs].filter((f) => /dist\/threads\.js$/.test(f))).toEqual([]);
    expect(inline.lazy.min).toBe(0);
    // the lazy chunks are the relaxed one and the threads one, nothing else
    expect(all.lazy.min).toBe(relaxedChunk.min + threadsChunk.min);
  });

  it("tree shaking leaves an app that imports only ready and softmax well under the whole API", () => {
    expect(minimal.start.min).toBeLessThan(all.start.min / 3);
    expect(minimal.start.gz).toBeLessThan(all.start.gz / 2);
  });

  // The README's table, found by its header row; compared figure by figure.
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const at = readme.indexOf(table.split("\n")[0]);
  it.skipIf(at < 0)("README's sizes table matches the measurement within 5% or its rounding (each figure)", () => {
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
