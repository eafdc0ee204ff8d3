// The library in Firefox (SpiderMonkey), the third browser engine beside Chromium (V8, test/browser.test.ts) and Bun
// (JavaScriptCore): Debian's firefox-esr over WebDriver BiDi (test/firefox.ts), one browser for the whole file.
// The pages are Chromium's (test/runtimes/browser*.html; the relaxed and threads ones take ready() from
// softmax-wasm/full, dist/browser-full.js) and must give Node's bits: every kernel digest and the
// seeded training digests with the default build, with 2 and 3 Web Workers on a cross-origin isolated page, and the
// threads-relaxed build's bits equal to the single-threaded relaxed build's; a page that is not isolated falls back to
// one thread with one warning. The demo page loads, trains on a few thousand images, reads a drawing and reports
// nothing on the console. Last, the browser closes with none of its processes and no profile left.
// Without /usr/bin/firefox-esr the suite is skipped with the reason in its name, except with CI=true, where it fails.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "puppeteer-core";
import { serveStatic } from "./bundlers/serve.js";
import { firefoxSkipReason, launchFirefox, watchFirefoxPage, type Firefox } from "./firefox.js";
import { kernelDigests, trainingDigest, TRAIN_ROWS } from "./runtimes/workload.js";
import { relaxedWorkload } from "./runtimes/relaxed.js";
import { expectRelaxedClose, expectRelaxedThreadsLikeOne } from "./helpers.js";
import { badgeRows, fontSizes, guessTexts, overflowingElements, padOffCentre, textAlternatives } from "./demo-checks.js";
import { start } from "../demo/server.js";
import * as lib from "../dist/index.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const skip = firefoxSkipReason();
if (skip !== undefined) console.warn(`firefox.test.ts: skipping the Firefox tests: ${skip}`);

interface Run {
  threads: number; build: string; warnings: string[]; kernels: Record<string, string>; parallel: unknown;
  training: Record<string, unknown>;
}

/** Node's digests after plain ready(), from the threads runner in a child Node (as test/threads.test.ts takes them). */
async function nodeRun(): Promise<Run> {
  const { stdout } = await promisify(execFile)(process.execPath, ["test/runtimes/threads-run.mjs", "0"],
    { cwd: root, encoding: "utf8", timeout: 60_000 });
  return JSON.parse(stdout.trim().split("\n").pop()!) as Run;
}

describe.skipIf(skip !== undefined)(skip ? `in Firefox (skipped: ${skip})` : "in Firefox", () => {
  let firefox: Firefox | undefined;
  let plain: Awaited<ReturnType<typeof serveStatic>> | undefined;
  let isolated: Awaited<ReturnType<typeof serveStatic>> | undefined;
  let node: Promise<Run>;

  beforeAll(async () => {
    node = nodeRun();
    node.catch(() => {}); // awaited by the tests that need it
    plain = await serveStatic(root);
    isolated = await serveStatic(root, {
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    });
    firefox = await launchFirefox();
  }, 60_000);

  afterAll(async () => {
    await firefox?.close();
    await plain?.close();
    await isolated?.close();
  });

  /** Opens url, awaits the page's window.__results and closes the page; problems is what its console reported. */
  async function results<T>(url: string): Promise<{ got: T; problems: string[] }> {
    const page = await firefox!.browser.newPage();
    const problems = watchFirefoxPage(page);
    try {
      await page.goto(url);
      await page.waitForFunction(() => (window as { __results?: unknown }).__results !== undefined, { timeout: 10_000 })
        .catch((err: Error) => {
          throw new Error(`${url} never started its run: ${err.message}\n${problems.join("\n")}`);
        });
      const got = await page.evaluate(() => (window as unknown as { __results: Promise<unknown> }).__results) as T;
      return { got, problems };
    } finally {
      await page.close();
    }
  }

  it("gives the same kernel, model and prediction digests as Node, with nothing on the console", async () => {
    const { got, problems } = await results<{ kernels: Record<string, string>; training: Record<string, unknown> }>(
      `${plain!.url}test/runtimes/browser.html`);
    // Node's digests in this process, as test/browser.test.ts takes them
    await lib.ready();
    const wantKernels = await kernelDigests(lib);
    const { train } = await lib.loadMnist();
    const wantTraining = await trainingDigest(lib, train.images.subarray(0, TRAIN_ROWS * 784),
      train.labels.subarray(0, TRAIN_ROWS)) as Record<string, unknown>;
    expect(Object.keys(got.kernels).sort()).toEqual(Object.keys(wantKernels).sort());
    for (const [kernel, digest] of Object.entries(wantKernels)) expect(got.kernels[kernel], `kernel ${kernel}`).toBe(digest);
    expect(Object.keys(got.training).sort()).toEqual(Object.keys(wantTraining).sort());
    for (const [key, value] of Object.entries(wantTraining)) expect(got.training[key], `training ${key}`).toBe(value);
    expect(problems).toEqual([]);
  }, 60_000);

  it("has relaxed SIMD: ready({ relaxed: true }) fetches only the relaxed build, within 1e-5 of Node's default build", async () => {
    const page = await firefox!.browser.newPage();
    const problems = watchFirefoxPage(page);
    const wasm: string[] = [];
    page.on("response", (r) => { if (r.url().endsWith(".wasm")) wasm.push(new URL(r.url()).pathname); });
    await page.goto(`${plain!.url}test/runtimes/browser-relaxed.html`);
    await page.waitForFunction(() => (window as { __results?: unknown }).__results !== undefined, { timeout: 10_000 });
    const got = await page.evaluate(() => (window as unknown as { __results: Promise<unknown> }).__results) as
      Record<string, unknown> & { build: string; warnings: string[] };
    await page.close();
    expect(got.build, "Firefox validates f32x4.relaxed_madd").toBe("relaxed-simd");
    expect(got.warnings).toEqual([]);
    expect(wasm, "only the relaxed build is fetched").toEqual(["/dist/softmax-relaxed.wasm"]);
    await lib.ready();
    expectRelaxedClose(got, relaxedWorkload(lib), "firefox");
    expect(problems).toEqual([]);
  }, 60_000);

  it("runs 2 and 3 Web Workers on a cross-origin isolated page, with Node's default bits (the main thread spins)", async () => {
    // the capabilities the pool relies on: shared memory on an isolated page, and Atomics.wait refused on the
    // main thread (so the calling thread waits for its workers by spinning on Atomics.load, as in Chromium)
    const page = await firefox!.browser.newPage();
    await page.goto(`${isolated!.url}test/runtimes/browser.html`);
    const caps = await page.evaluate(() => {
      let wait = "returned";
      try {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      } catch (err) {
        wait = `${(err as Error).name}: ${(err as Error).message}`;
      }
      return { isolated: crossOriginIsolated, sab: typeof SharedArrayBuffer, wait };
    });
    await page.close();
    // (Firefox 153 says "TypeError: waiting is not allowed on this thread")
    expect(caps).toEqual({ isolated: true, sab: "function", wait: expect.stringMatching(/^TypeError: /) });

    const want = await node;
    for (const n of [2, 3]) {
      const { got, problems } = await results<Run>(`${isolated!.url}test/runtimes/browser-threads.html?threads=${n}`);
      expect(got.threads, "the pool really ran (no fallback)").toBe(n);
      expect(got.build).toBe("simd");
      expect(got.warnings).toEqual([]);
      expect(got.kernels).toEqual(want.kernels);
      expect(got.parallel).toEqual(want.parallel);
      expect(got.training).toEqual(want.training);
      expect(problems).toEqual([]);
    }
  }, 120_000);

  it("runs the relaxed threads build on 3 threads, with the single-threaded relaxed build's bits", async () => {
    await expectRelaxedThreadsLikeOne((q) => results<Run>(`${isolated!.url}test/runtimes/browser-threads.html?${q}`));
  }, 120_000);

  it("falls back to one thread with one warning on a page that is not cross-origin isolated, with Node's bits", async () => {
    const { got, problems } = await results<Run>(`${plain!.url}test/runtimes/browser-threads.html?threads=2`);
    expect(got.threads).toBe(1);
    expect(got.build).toBe("simd");
    expect(got.warnings).toHaveLength(1);
    // Firefox hides SharedArrayBuffer itself on a page that is not isolated
    expect(got.warnings[0]).toBe("softmax-wasm: ready({ threads: 2 }): SharedArrayBuffer is unavailable (a browser " +
      "page needs cross-origin isolation: the COOP and COEP headers); loading the default single-threaded build");
    const want = await node;
    expect(got.kernels).toEqual(want.kernels);
    expect(got.training).toEqual(want.training);
    expect(problems).toEqual([]);
  }, 60_000);

  // The demo page, kept to what holds however the page's look changes: it relies only on the ids of demo/index.html
  // (#badge-wasm, #badge-coi, #st-state[data-state], #hp-epochs, #btn-start, #pad, #guess[data-digit],
  // #digit-bars .barrow[data-p], #errors) and the ?limit=N query.
  it("the demo page loads isolated, trains an epoch on 3000 images, reads a drawing, lays out at 1280 and 390 px, with nothing on the console", async () => {
    const server = await start({ port: 0 });
    const page = await firefox!.browser.newPage();
    const problems = watchFirefoxPage(page);
    try {
      await page.setViewport({ width: 1280, height: 900 });
      await page.goto(`${server.url}?limit=3000`);
      const ready = () => {
        const state = document.getElementById("st-state")!.dataset.state;
        return document.getElementById("badge-wasm")!.classList.contains("ok") && state !== "loading";
      };
      await page.waitForFunction(ready, { timeout: 20_000 }).catch((err: Error) => {
        throw new Error(`the demo page did not get ready: ${err.message}\n${problems.join("\n")}`);
      });
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      expect(await page.$eval("#badge-coi", (el) => el.classList.contains("ok"))).toBe(true);

      await setValue(page, "#hp-epochs", "1");
      await page.click("#btn-start");
      await page.waitForFunction(() => document.getElementById("st-state")!.dataset.state === "done", { timeout: 60_000 })
        .catch((err: Error) => {
          throw new Error(`training did not finish: ${err.message}\n${problems.join("\n")}`);
        });

      // a "7" on the pad with the mouse
      const padElement = (await page.$("#pad"))!;
      await padElement.scrollIntoView();
      const pad = (await padElement.boundingBox())!;
      const at = (fx: number, fy: number) => [pad.x + fx * pad.width, pad.y + fy * pad.height] as const;
      await page.mouse.move(...at(0.25, 0.2));
      await page.mouse.down();
      for (const [fx, fy] of [[0.4, 0.2], [0.55, 0.2], [0.72, 0.2], [0.66, 0.38], [0.58, 0.56], [0.5, 0.72], [0.45, 0.85]]) {
        await page.mouse.move(...at(fx, fy), { steps: 4 });
      }
      await page.mouse.up();
      await page.waitForFunction(() => /^\d$/.test(document.getElementById("guess")!.dataset.digit ?? ""), { timeout: 10_000 });
      const digits = await page.$$eval("#digit-bars .barrow", (els) => els.map((el) => Number((el as HTMLElement).dataset.p)));
      expect(digits).toHaveLength(10);
      for (const p of digits) expect(p >= 0 && p <= 1).toBe(true);
      expect(Math.abs(digits.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-3);
      const guess = await page.$eval("#guess", (el) => (el as HTMLElement).dataset.digit);
      expect(Number(guess)).toBe(digits.indexOf(Math.max(...digits)));

      // the layout checks of test/demo-layout.test.ts (the same in-page functions), at 1280 x 900 and then 390 x 844
      const layout = async (width: number) => {
        const overflow = await page.evaluate(overflowingElements);
        expect(overflow.elements, `${width} px`).toEqual([]);
        expect(overflow.scrollWidth, `${width} px`).toBeLessThanOrEqual(overflow.viewport);
        expect(await page.evaluate(fontSizes), `${width} px`).toEqual({
          "#guess": "42px", "#st-state": "19px", "#btn-start": "14px", "#hp-lr": "14px", "#hp-activation": "14px",
        });
        for (const [id, { role, label }] of Object.entries(await page.evaluate(textAlternatives))) {
          expect(role, id).toBe("img");
          expect(label?.length ?? 0, id).toBeGreaterThan(10);
        }
        const g = await page.evaluate(guessTexts);
        expect(g.conf).toBe(`${g.bar} sure`);
      };
      await layout(1280);
      expect(await page.evaluate(badgeRows)).toEqual({ offsets: [0, 0, 0], besideBrand: true });
      await page.setViewport({ width: 390, height: 844 });
      await layout(390);
      expect(Math.abs(await page.evaluate(padOffCentre))).toBeLessThanOrEqual(1);

      expect(problems).toEqual([]);
      expect(await page.$eval("#errors", (el) => (el as HTMLElement).hidden), "the page's error banner").toBe(true);
    } finally {
      await page.close();
      await server.close();
    }
  }, 90_000);

  it("closes without leaving a Firefox process or its profile behind", async () => {
    await firefox!.close();
    expect(firefox!.remains()).toEqual({ processes: [], profile: false });
  }, 30_000);
});

/** Sets a form field as typing would (input and change events), so the page reads the new value. */
async function setValue(page: Page, selector: string, value: string): Promise<void> {
  await page.$eval(selector, (el, v) => {
    const input = el as HTMLInputElement;
    input.value = v;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }, value);
}
