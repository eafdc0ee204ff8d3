// The bundler recipes from the README, for real: the fixture app test/bundlers/vite-app (index.html + main.js, which
// imports { ready, softmax } from "softmax-wasm" and writes softmax([2, 3, 4]) into the page) built by Vite, served
// by Vite's dev server and bundled by esbuild, each then loaded in Chromium; and test/bundlers/vite-app-full, which
// takes ready from "softmax-wasm/full" (every build) and the kernels from "softmax-wasm", built by Vite and by
// esbuild and run with relaxed SIMD and 2 threads. A Vite build copies every asset any chunk names, lazy or not:
// the first app's build holds softmax.wasm alone, the second's the four builds and the worker. The sizes are
// test/sizes.test.ts.
//
// How the fixture finds the package: from inside this repo, "softmax-wasm" resolves by self-reference (package.json
// has "name" and "exports", and the fixture has no package.json of its own, so it is inside the package's scope).
// Vite's build and esbuild both honour that (checked), but it resolves to <repo>/dist/browser.js, a path outside
// node_modules, which Vite treats as the project's own source: its dev server would never pre-bundle it, and
// pre-bundling is what optimizeDeps.exclude is about. A symlink (npm link) is the same: Vite follows it to the real
// path (checked). So each test copies the fixture into a temp project and "installs" the package as npm would:
// package.json and its "files" copied into node_modules/softmax-wasm. That is what users get.
//
// Vite finding (8.3.8): the dev server works WITHOUT optimizeDeps.exclude. Vite 8's dependency optimizer (Rolldown,
// plugin vite:dep-pre-bundle-assets) rewrites new URL("./softmax.wasm", import.meta.url) in the pre-bundled
// node_modules/.vite/deps/softmax-wasm.js to point back at node_modules/softmax-wasm/dist/softmax.wasm. Older Vite
// left the relative URL pointing into .vite/deps/, where there is no .wasm (vitejs/vite#8427, and
// vitejs/rolldown-vite#362 for the Rolldown preview; not tested here), so the exclude stays in the README for
// older Vite; on Vite 8 it is harmless. Both ways are tested below.
import {
  copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { build as esbuild } from "esbuild";
import { build as viteBuild, createServer, type InlineConfig } from "vite";
import { chromiumSkipReason, launchChromium, serveStatic, watchPage } from "./bundlers/serve.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const fixture = fileURLToPath(new URL("./bundlers/vite-app", import.meta.url));
const fullFixture = fileURLToPath(new URL("./bundlers/vite-app-full", import.meta.url));
const EXPECTED = "0.0900,0.2447,0.6652"; // softmax([2, 3, 4]) to 4 places
const skip = chromiumSkipReason();
const inChromium = skip ? `(skipped: ${skip})` : "in Chromium";

const temps: string[] = [];
function temp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `softmax-wasm-${prefix}-`));
  temps.push(dir);
  return dir;
}

/** A fixture (default: the plain app) in a temp folder with softmax-wasm in its node_modules, laid out as `npm install` leaves it. */
function userProject(app = fixture): string {
  const dir = temp("app");
  cpSync(app, dir, { recursive: true });
  const pkg = join(dir, "node_modules", "softmax-wasm");
  mkdirSync(pkg, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { files: string[] };
  for (const f of ["package.json", ...manifest.files]) {
    if (existsSync(join(repo, f))) cpSync(join(repo, f), join(pkg, f), { recursive: true });
  }
  return dir;
}

let browser: Browser | undefined;
async function chromium(): Promise<Browser> {
  browser ??= await launchChromium();
  return browser;
}

/**
 * Loads the app at `url` in Chromium; returns what it wrote into #out (and its data-build, data-shared), the URLs it
 * fetched, its console warnings and what went wrong.
 */
async function runApp(url: string): Promise<{
  text: string; build: string | null; shared: string | null; responses: string[]; warnings: string[]; problems: string[];
}> {
  const page = await (await chromium()).newPage();
  try {
    const problems = watchPage(page);
    const responses: string[] = [], warnings: string[] = [];
    page.on("response", (r) => responses.push(`${r.status()} ${r.headers()["content-type"] ?? ""} ${r.url()}`));
    page.on("console", (m) => { if (m.type() === "warning") warnings.push(m.text()); });
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById("out")?.textContent !== "loading", null,
      { timeout: 15_000 }).catch((err: Error) => {
      throw new Error(`the app never wrote its result: ${err.message}\n${problems.join("\n")}`);
    });
    return { text: (await page.textContent("#out")) ?? "", build: await page.getAttribute("#out", "data-build"),
      shared: await page.getAttribute("#out", "data-shared"), responses, warnings, problems };
  } finally {
    await page.close();
  }
}

afterAll(async () => {
  await browser?.close();
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** The Vite build of `app` (a fixture folder) as a user project: its output folder, once built. */
function viteBuilt(app: string): { outDir: string; built: Promise<unknown> } {
  const project = userProject(app);
  const outDir = temp("vite-dist");
  const built = viteBuild({
    root: project, configFile: false, logLevel: "silent", build: { outDir, emptyOutDir: true },
  });
  built.catch(() => {}); // a failure is reported by the tests that await it
  return { outDir, built };
}

/** The files Vite wrote into `outDir` with their hashes taken out (assets/softmax-<hash>.wasm is assets/softmax.wasm). */
function emitted(outDir: string): Map<string, string> {
  // Vite names an asset name-HASH.ext, its hash of 8 characters from [A-Za-z0-9_-]
  return new Map(readdirRecursive(outDir).map((f): [string, string] => [f.replace(/-[\w-]{8}(\.\w+)$/, "$1"), f])
    .sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe("Vite build of an app importing softmax-wasm", () => {
  const { outDir, built } = viteBuilt(fixture);

  it("emits softmax.wasm and one script: no other build, no worker, no lazy chunk", async () => {
    await built;
    const files = emitted(outDir);
    expect([...files.keys()]).toEqual(["assets/index.js", "assets/softmax.wasm", "index.html"]);
    expect(readFileSync(join(outDir, files.get("assets/softmax.wasm")!)))
      .toEqual(readFileSync(join(repo, "dist", "softmax.wasm")));
    const page = readFileSync(join(outDir, files.get("assets/index.js")!), "utf8");
    // new URL(`/assets/softmax-<hash>.wasm`, import.meta.url), the one URL it has
    expect(page.match(/\/assets\/[\w.-]+/g)).toEqual([`/${files.get("assets/softmax.wasm")}`]);
    // neither the pool (src/pool*.ts, known by their messages) and its worker nor a dynamic import, nor Node's entry
    expect(page).not.toMatch(/SharedArrayBuffer is unavailable|Atomics\.|thread-worker|import\(/);
    expect(page).not.toMatch(/node:|loadMnist/);
  });

  it.skipIf(skip !== undefined)(`the built app runs ${inChromium}`, async () => {
    await built;
    const server = await serveStatic(outDir);
    try {
      const { text, build, responses, warnings, problems } = await runApp(server.url);
      expect(text).toBe(EXPECTED);
      expect(build).toBe("simd");
      expect(responses.filter((r) => r.includes("/assets/")).map((r) => r.replace(/-[\w-]{8}(\.\w+)$/, "$1")))
        .toEqual([
          expect.stringMatching(/^200 \S*javascript\S* .*\/assets\/index\.js$/),
          expect.stringMatching(/^200 application\/wasm .*\/assets\/softmax\.wasm$/),
        ]);
      expect(warnings).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it.skipIf(skip !== undefined)(`ready({ threads: 2, relaxed: true }) warns once, naming softmax-wasm/full, and runs the default build ${inChromium}`, async () => {
    await built;
    const server = await serveStatic(outDir,
      { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" });
    try {
      const { text, build, warnings, problems } = await runApp(`${server.url}?threads=2&relaxed`);
      expect(text).toBe(EXPECTED);
      expect(build).toBe("simd");
      expect(warnings).toEqual(["softmax-wasm: ready({ threads: 2, relaxed: true }): the browser entry \"softmax-wasm\" " +
        "carries only the default build (softmax.wasm), so that bundlers copy no other; import { ready } from " +
        "\"softmax-wasm/full\" to load the threads and relaxed-SIMD builds in a browser bundle; loading the default " +
        "single-threaded build"]);
      expect(problems).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe("Vite build of an app importing ready from softmax-wasm/full", () => {
  const { outDir, built } = viteBuilt(fullFixture);

  it("emits the four builds and the worker; the relaxed and threads builds, the pool and the worker only in lazy chunks", async () => {
    await built;
    const files = emitted(outDir);
    // the page's bundle, the two chunks behind browser-full.ts's dynamic imports, the module worker ready({ threads: n })
    // starts, and the four builds: the default one, the relaxed-SIMD one that ready({ relaxed: true }) fetches and the
    // threads ones that ready({ threads: n }) (with relaxed: true, the second) fetches
    expect([...files.keys()]).toEqual([
      "assets/browser-relaxed.js", "assets/browser-threads.js", "assets/index.js", "assets/softmax-relaxed.wasm",
      "assets/softmax-threads-relaxed.wasm", "assets/softmax-threads.wasm", "assets/softmax.wasm",
      "assets/thread-worker.js", "index.html",
    ]);
    for (const build of ["softmax", "softmax-relaxed", "softmax-threads", "softmax-threads-relaxed"]) {
      expect(readFileSync(join(outDir, files.get(`assets/${build}.wasm`)!)), build)
        .toEqual(readFileSync(join(repo, "dist", `${build}.wasm`)));
    }
    const read = (f: string) => readFileSync(join(outDir, files.get(f)!), "utf8");
    const [page, relaxedChunk, threadsChunk, worker] =
      ["assets/index.js", "assets/browser-relaxed.js", "assets/browser-threads.js", "assets/thread-worker.js"].map(read);
    expect(worker).not.toMatch(/node:/);
    // the page names only the default build, and imports the others' chunks lazily
    expect(page).toContain(`/${files.get("assets/softmax.wasm")}`);
    for (const other of ["softmax-relaxed", "softmax-threads", "softmax-threads-relaxed"]) {
      expect(page).not.toContain(`/${files.get(`assets/${other}.wasm`)}`);
    }
    // the pool (src/pool*.ts, known by their messages) only in the threads chunk
    expect(threadsChunk).toContain("SharedArrayBuffer is unavailable");
    expect(page).not.toMatch(/SharedArrayBuffer is unavailable|Atomics\.|thread-worker/);
    expect(page).toMatch(/import\(["'`][./]*browser-relaxed-[\w-]{8}\.js["'`]\)/);
    expect(page).toMatch(/import\(["'`][./]*browser-threads-[\w-]{8}\.js["'`]\)/);
    expect(relaxedChunk).toContain(`/${files.get("assets/softmax-relaxed.wasm")}`);
    expect(threadsChunk).toContain(`/${files.get("assets/softmax-threads.wasm")}`);
    expect(threadsChunk).toContain(`/${files.get("assets/softmax-threads-relaxed.wasm")}`);
    expect(threadsChunk).toContain(files.get("assets/thread-worker.js")!.replace("assets/", ""));
    // "softmax-wasm" and "softmax-wasm/full" share one copy of the API and its one engine (src/engine.ts, known by
    // its message for a call before ready())
    expect(page.match(/was called before ready\(\) resolved/g)).toHaveLength(1);
    expect(page).not.toMatch(/node:|loadMnist/);
  });

  it.skipIf(skip !== undefined)(`the built app runs, and loads its lazy chunks for ready({ relaxed: true }) and ready({ threads: 2 }) ${inChromium}`, async () => {
    await built;
    const server = await serveStatic(outDir,
      { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" });
    try {
      const fetched = (responses: string[], re: RegExp) => responses.some((r) => re.test(r));
      const plain = await runApp(server.url);
      expect(plain.text).toBe(EXPECTED);
      expect([plain.build, plain.shared]).toEqual(["simd", "false"]);
      expect(fetched(plain.responses, /browser-relaxed|browser-threads|thread-worker|softmax-(relaxed|threads)/)).toBe(false);
      expect([...plain.warnings, ...plain.problems]).toEqual([]);

      const relaxed = await runApp(`${server.url}?relaxed`);
      expect(relaxed.text).toBe(EXPECTED);
      expect([relaxed.build, relaxed.shared]).toEqual(["relaxed-simd", "false"]); // Chromium has relaxed SIMD
      expect(fetched(relaxed.responses, /^200 .*\/assets\/browser-relaxed-[\w-]{8}\.js$/)).toBe(true);
      expect(fetched(relaxed.responses, /^200 application\/wasm .*\/assets\/softmax-relaxed-[\w-]{8}\.wasm$/)).toBe(true);
      expect(fetched(relaxed.responses, /browser-threads|thread-worker/)).toBe(false);
      expect([...relaxed.warnings, ...relaxed.problems]).toEqual([]);

      // softmax() from "softmax-wasm" runs on the engine that ready() from "softmax-wasm/full" made: the threads
      // build's shared memory
      const threads = await runApp(`${server.url}?threads=2`);
      expect(threads.text).toBe(EXPECTED);
      expect([threads.build, threads.shared]).toEqual(["simd", "true"]);
      expect(fetched(threads.responses, /^200 .*\/assets\/browser-threads-[\w-]{8}\.js$/)).toBe(true);
      expect(fetched(threads.responses, /^200 application\/wasm .*\/assets\/softmax-threads-[\w-]{8}\.wasm$/)).toBe(true);
      expect(fetched(threads.responses, /^200 .*\/assets\/thread-worker-[\w-]{8}\.js$/)).toBe(true);
      expect(fetched(threads.responses, /browser-relaxed|softmax-relaxed|\/assets\/softmax-[\w-]{8}\.wasm/)).toBe(false);
      expect([...threads.warnings, ...threads.problems]).toEqual([]);

      const both = await runApp(`${server.url}?threads=2&relaxed`);
      expect(both.text).toBe(EXPECTED);
      expect([both.build, both.shared]).toEqual(["relaxed-simd", "true"]);
      expect(fetched(both.responses, /^200 application\/wasm .*\/assets\/softmax-threads-relaxed-[\w-]{8}\.wasm$/)).toBe(true);
      expect([...both.warnings, ...both.problems]).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe("Vite dev server", () => {
  async function dev(optimizeDeps: InlineConfig["optimizeDeps"]) {
    const project = userProject();
    const server = await createServer({
      root: project, configFile: false, logLevel: "silent", optimizeDeps,
      server: { host: "127.0.0.1", port: 0, hmr: false, watch: null },
    });
    await server.listen();
    try {
      const run = await runApp(server.resolvedUrls!.local[0]);
      const prebundled = join(project, "node_modules", ".vite", "deps", "softmax-wasm.js");
      return { ...run, prebundled: existsSync(prebundled) ? readFileSync(prebundled, "utf8") : undefined };
    } finally {
      await server.close();
    }
  }

  it.skipIf(skip !== undefined)(`works without optimizeDeps.exclude on Vite 8 ${inChromium}`, async () => {
    const { text, responses, problems, prebundled } = await dev(undefined);
    expect(text).toBe(EXPECTED);
    // It was pre-bundled, and the optimizer pointed the .wasm URL back at the package's own file.
    expect(prebundled).toMatch(/new URL\(["'`][./]*softmax-wasm\/dist\/softmax\.wasm["'`], import\.meta\.url\)/);
    expect(responses.some((r) => /^200 .*\/node_modules\/\.vite\/deps\/softmax-wasm\.js/.test(r))).toBe(true);
    expect(responses).toContainEqual(expect.stringMatching(
      /^200 application\/wasm .*\/node_modules\/softmax-wasm\/dist\/softmax\.wasm$/));
    expect(problems).toEqual([]);
  });

  it.skipIf(skip !== undefined)(`works with optimizeDeps: { exclude: ["softmax-wasm"] } ${inChromium}`, async () => {
    const { text, responses, problems, prebundled } = await dev({ exclude: ["softmax-wasm"] });
    expect(text).toBe(EXPECTED);
    expect(prebundled).toBeUndefined();
    expect(responses.some((r) => /^200 .*\/node_modules\/softmax-wasm\/dist\/browser\.js/.test(r))).toBe(true);
    expect(responses).toContainEqual(expect.stringMatching(
      /^200 application\/wasm .*\/node_modules\/softmax-wasm\/dist\/softmax\.wasm$/));
    expect(problems).toEqual([]);
  });
});

describe("esbuild", () => {
  const project = userProject();
  const outdir = temp("esbuild-dist");
  const built = (async () => {
    await esbuild({
      entryPoints: [join(project, "main.js")], absWorkingDir: project, bundle: true, platform: "browser",
      format: "esm", outdir, logLevel: "silent",
    });
    const copiedBefore = existsSync(join(outdir, "softmax.wasm"));
    // The recipe: esbuild leaves the .wasm behind, so copy it next to the bundle (the package exports its path).
    const wasm = createRequire(join(project, "build.js")).resolve("softmax-wasm/softmax.wasm");
    copyFileSync(wasm, join(outdir, "softmax.wasm"));
    copyFileSync(join(project, "index.html"), join(outdir, "index.html")); // loads ./main.js, esbuild's output
    return { copiedBefore, wasm };
  })();
  built.catch(() => {}); // a failure is reported by the tests that await it

  it("bundles for the browser, keeping the .wasm URL relative to the bundle (the .wasm is copied by hand)", async () => {
    const { copiedBefore, wasm } = await built;
    expect(copiedBefore).toBe(false);
    expect(wasm).toBe(join(project, "node_modules", "softmax-wasm", "dist", "softmax.wasm"));
    const code = readFileSync(join(outdir, "main.js"), "utf8");
    // the one file it names, so the one file to copy
    expect(code.match(/new URL\("[^"]*", import\.meta\.url\)/g)).toEqual(['new URL("./softmax.wasm", import.meta.url)']);
    expect(code).not.toMatch(/node:|loadMnist/);
  });

  it.skipIf(skip !== undefined)(`the bundle runs ${inChromium}`, async () => {
    await built;
    const server = await serveStatic(outdir);
    try {
      const { text, problems } = await runApp(server.url);
      expect(text).toBe(EXPECTED);
      expect(problems).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe("esbuild, an app importing ready from softmax-wasm/full", () => {
  const project = userProject(fullFixture);
  const outdir = temp("esbuild-full-dist");
  // The recipe: esbuild bundles the dynamic imports in and keeps each new URL(..., import.meta.url), but copies none
  // of the files they name, and it does not bundle the worker: copy the four builds and the worker's two modules.
  const copied = ["softmax.wasm", "softmax-relaxed.wasm", "softmax-threads.wasm", "softmax-threads-relaxed.wasm",
    "thread-worker.js", "threads.js"];
  const built = (async () => {
    await esbuild({
      entryPoints: [join(project, "main.js")], absWorkingDir: project, bundle: true, platform: "browser",
      format: "esm", outdir, logLevel: "silent",
    });
    const dist = join(project, "node_modules", "softmax-wasm", "dist");
    for (const f of copied) copyFileSync(join(dist, f), join(outdir, f));
    copyFileSync(join(project, "index.html"), join(outdir, "index.html"));
  })();
  built.catch(() => {}); // a failure is reported by the tests that await it

  it("names exactly the files the recipe copies", async () => {
    await built;
    const code = readFileSync(join(outdir, "main.js"), "utf8");
    expect([...code.matchAll(/new URL\("\.\/([\w.-]+)", import\.meta\.url\)/g)].map((m) => m[1]).sort())
      .toEqual(copied.filter((f) => f !== "threads.js").sort()); // threads.js is the worker's own import
  });

  it.skipIf(skip !== undefined)(`the bundle runs relaxed, threads=2 and both ${inChromium}`, async () => {
    await built;
    const server = await serveStatic(outdir,
      { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" });
    try {
      for (const [query, build, shared] of [["", "simd", "false"], ["?relaxed", "relaxed-simd", "false"],
        ["?threads=2", "simd", "true"], ["?threads=2&relaxed", "relaxed-simd", "true"]]) {
        const run = await runApp(`${server.url}${query}`);
        expect([run.text, run.build, run.shared], query).toEqual([EXPECTED, build, shared]);
        expect([...run.warnings, ...run.problems], query).toEqual([]);
      }
    } finally {
      await server.close();
    }
  });
});

function readdirRecursive(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => statSync(join(dir, f)).isFile())
    .map((f) => f.split("\\").join("/"));
}
