// The bundler recipes from the README, for real: the fixture app test/bundlers/vite-app (index.html + main.js, which
// imports { ready, softmax } from "softmax-wasm" and writes softmax([2, 3, 4]) into the page) built by Vite, served
// by Vite's dev server and bundled by esbuild, each then loaded in Chromium. The sizes are test/sizes.test.ts.
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
const EXPECTED = "0.0900,0.2447,0.6652"; // softmax([2, 3, 4]) to 4 places
const skip = chromiumSkipReason();
const inChromium = skip ? `(skipped: ${skip})` : "in Chromium";

const temps: string[] = [];
function temp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `softmax-wasm-${prefix}-`));
  temps.push(dir);
  return dir;
}

/** The fixture in a temp folder with softmax-wasm in its node_modules, laid out as `npm install` leaves it. */
function userProject(): string {
  const dir = temp("app");
  cpSync(fixture, dir, { recursive: true });
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
 * Loads the app at `url` in Chromium; returns what it wrote into #out (and its data-build), the URLs it fetched and
 * what went wrong.
 */
async function runApp(url: string): Promise<{ text: string; build: string | null; responses: string[]; problems: string[] }> {
  const page = await (await chromium()).newPage();
  try {
    const problems = watchPage(page);
    const responses: string[] = [];
    page.on("response", (r) => responses.push(`${r.status()} ${r.headers()["content-type"] ?? ""} ${r.url()}`));
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById("out")?.textContent !== "loading", null,
      { timeout: 15_000 }).catch((err: Error) => {
      throw new Error(`the app never wrote its result: ${err.message}\n${problems.join("\n")}`);
    });
    return { text: (await page.textContent("#out")) ?? "", build: await page.getAttribute("#out", "data-build"),
      responses, problems };
  } finally {
    await page.close();
  }
}

afterAll(async () => {
  await browser?.close();
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe("Vite build", () => {
  const project = userProject();
  const outDir = temp("vite-dist");
  const built = viteBuild({
    root: project, configFile: false, logLevel: "silent", build: { outDir, emptyOutDir: true },
  });
  built.catch(() => {}); // a failure is reported by the tests that await it

  it("emits the .wasm as an asset; the relaxed and threads builds, the pool and the worker only in lazy chunks", async () => {
    await built;
    const assets = readdirRecursive(outDir);
    // the four builds, each copied byte for byte: the default one, the relaxed-SIMD one that ready({ relaxed: true })
    // fetches and the threads ones that ready({ threads: n }) (with relaxed: true, the second) fetches. Vite copies
    // every asset a chunk names, lazy chunks included; what the dynamic imports change is what the page loads.
    const wasm = assets.filter((f) => f.endsWith(".wasm"));
    expect(wasm).toHaveLength(4);
    const copied: Record<string, string> = {};
    for (const build of ["softmax", "softmax-relaxed", "softmax-threads", "softmax-threads-relaxed"]) {
      // Vite names an asset name-HASH.wasm, its hash of 8 characters from [A-Za-z0-9_-]
      const copies = wasm.filter((f) => new RegExp(`^assets/${build}-[\\w-]{8}\\.wasm$`).test(f));
      expect(copies, build).toHaveLength(1);
      expect(readFileSync(join(outDir, copies[0]))).toEqual(readFileSync(join(repo, "dist", `${build}.wasm`)));
      copied[build] = copies[0];
    }
    // the page's bundle, the two chunks behind browser.ts's dynamic imports and, as its own chunk, the module worker
    // ready({ threads: n }) starts
    const js = assets.filter((f) => f.endsWith(".js")).sort();
    expect(js.map((f) => f.replace(/-[\w-]{8}\.js$/, ".js"))).toEqual([
      "assets/browser-relaxed.js", "assets/browser-threads.js", "assets/index.js", "assets/thread-worker.js",
    ]);
    const [relaxedChunk, threadsChunk, page, worker] = js.map((f) => readFileSync(join(outDir, f), "utf8"));
    expect(worker).not.toMatch(/node:/);
    // new URL(`/assets/softmax-<hash>.wasm`, import.meta.url): the page names only the default build, and imports
    // the others' chunks lazily
    expect(page).toContain(`/${copied.softmax}`);
    for (const other of ["softmax-relaxed", "softmax-threads", "softmax-threads-relaxed"]) {
      expect(page).not.toContain(`/${copied[other]}`);
    }
    // the pool (src/threads.ts, known by its messages) only in the threads chunk
    expect(threadsChunk).toContain("SharedArrayBuffer is unavailable");
    expect(page).not.toMatch(/SharedArrayBuffer is unavailable|Atomics\.|thread-worker/);
    expect(page).toMatch(/import\(["'`][./]*browser-relaxed-[\w-]{8}\.js["'`]\)/);
    expect(page).toMatch(/import\(["'`][./]*browser-threads-[\w-]{8}\.js["'`]\)/);
    expect(relaxedChunk).toContain(`/${copied["softmax-relaxed"]}`);
    expect(threadsChunk).toContain(`/${copied["softmax-threads"]}`);
    expect(threadsChunk).toContain(`/${copied["softmax-threads-relaxed"]}`);
    expect(threadsChunk).toMatch(/thread-worker-[\w-]{8}\.js/);
    expect(page).not.toMatch(/node:|loadMnist/); // the browser entry, not Node's
  });

  it.skipIf(skip !== undefined)(`the built app runs ${inChromium}`, async () => {
    await built;
    const server = await serveStatic(outDir);
    try {
      const { text, responses, problems } = await runApp(server.url);
      expect(text).toBe(EXPECTED);
      expect(responses.some((r) => /^200 application\/wasm .*\/assets\/softmax-[\w-]+\.wasm$/.test(r))).toBe(true);
      // ready() without options fetches neither the lazy chunks nor the other builds
      expect(responses.filter((r) => /browser-relaxed|browser-threads|thread-worker|softmax-(relaxed|threads)/.test(r)))
        .toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it.skipIf(skip !== undefined)(`the built app loads its lazy chunks for ready({ relaxed: true }) and ready({ threads: 2 }) ${inChromium}`, async () => {
    await built;
    const server = await serveStatic(outDir,
      { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" });
    try {
      const fetched = (responses: string[], re: RegExp) => responses.some((r) => re.test(r));
      const relaxed = await runApp(`${server.url}?relaxed`);
      expect(relaxed.text).toBe(EXPECTED);
      expect(relaxed.build).toBe("relaxed-simd"); // Chromium has relaxed SIMD
      expect(fetched(relaxed.responses, /^200 .*\/assets\/browser-relaxed-[\w-]{8}\.js$/)).toBe(true);
      expect(fetched(relaxed.responses, /^200 application\/wasm .*\/assets\/softmax-relaxed-[\w-]{8}\.wasm$/)).toBe(true);
      expect(fetched(relaxed.responses, /browser-threads|thread-worker/)).toBe(false);
      expect(relaxed.problems).toEqual([]);

      const threads = await runApp(`${server.url}?threads=2`);
      expect(threads.text).toBe(EXPECTED);
      expect(threads.build).toBe("simd");
      expect(fetched(threads.responses, /^200 .*\/assets\/browser-threads-[\w-]{8}\.js$/)).toBe(true);
      expect(fetched(threads.responses, /^200 application\/wasm .*\/assets\/softmax-threads-[\w-]{8}\.wasm$/)).toBe(true);
      expect(fetched(threads.responses, /^200 .*\/assets\/thread-worker-[\w-]{8}\.js$/)).toBe(true);
      expect(fetched(threads.responses, /browser-relaxed|softmax-relaxed/)).toBe(false);
      expect(threads.problems).toEqual([]);
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
    expect(code).toMatch(/new URL\("\.\/softmax\.wasm", import\.meta\.url\)/);
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

function readdirRecursive(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => statSync(join(dir, f)).isFile())
    .map((f) => f.split("\\").join("/"));
}
