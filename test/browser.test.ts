// The library in a real browser: Chromium (headless, through playwright-core) loads test/runtimes/browser.html, which
// imports dist/browser.js as a page would (the .wasm fetched beside it) and runs the shared workload
// (test/runtimes/workload.js). Every kernel digest and the MNIST training digests must equal Node's bit for bit.
// The relaxed-SIMD build is softmax-wasm/full's (test/runtimes/browser-relaxed.html imports dist/browser-full.js).
// Without /usr/bin/chromium the suite is skipped, except with CI=true, where it fails.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { chromiumSkipReason, launchChromium, serveStatic, watchPage } from "./bundlers/serve.js";
import { kernelDigests, trainingDigest, TRAIN_ROWS } from "./runtimes/workload.js";
import { relaxedWorkload } from "./runtimes/relaxed.js";
import { expectRelaxedClose } from "./helpers.js";
import * as lib from "../dist/index.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const skip = chromiumSkipReason();

describe.skipIf(skip !== undefined)(skip ? `in Chromium (skipped: ${skip})` : "in Chromium", () => {
  let browser: Browser | undefined;
  let server: Awaited<ReturnType<typeof serveStatic>> | undefined;

  beforeAll(async () => {
    server = await serveStatic(root);
    browser = await launchChromium();
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("gives the same kernel, model and prediction digests as Node, with nothing on the console", async () => {
    const page = await browser!.newPage();
    const problems = watchPage(page);
    await page.goto(`${server!.url}test/runtimes/browser.html`);

    // While Chromium works, the same digests in Node.
    await lib.ready();
    const nodeKernels = await kernelDigests(lib);
    const { train } = await lib.loadMnist();
    const nodeTraining = await trainingDigest(lib, train.images.subarray(0, TRAIN_ROWS * 784),
      train.labels.subarray(0, TRAIN_ROWS));

    await page.waitForFunction(() => (window as { __results?: unknown }).__results !== undefined, null,
      { timeout: 5_000 }).catch((err: Error) => {
      throw new Error(`browser.html never started its run: ${err.message}\n${problems.join("\n")}`);
    });
    const got = await page.evaluate(() => (window as unknown as { __results: Promise<unknown> }).__results) as {
      kernels: Record<string, string>; training: { model: string; predictions: string; accuracy: number };
    };

    expect(Object.keys(got.kernels).sort()).toEqual(Object.keys(nodeKernels).sort());
    for (const [kernel, digest] of Object.entries(nodeKernels)) {
      expect(got.kernels[kernel], `kernel ${kernel}`).toBe(digest);
    }
    expect(got.training.model, "model digest (save())").toBe(nodeTraining.model);
    expect(got.training.predictions, "prediction digest").toBe(nodeTraining.predictions);
    expect(got.training.accuracy).toBe(nodeTraining.accuracy);
    expect(problems).toEqual([]);
    await page.close();
  }, 30_000);

  it("softmax-wasm/full loads the relaxed-SIMD build with ready({ relaxed: true }), within 1e-5 of Node's default build", async () => {
    const page = await browser!.newPage();
    const problems = watchPage(page);
    const wasm: string[] = [];
    page.on("response", (r) => { if (r.url().endsWith(".wasm")) wasm.push(new URL(r.url()).pathname); });
    await page.goto(`${server!.url}test/runtimes/browser-relaxed.html`);
    await page.waitForFunction(() => (window as { __results?: unknown }).__results !== undefined, null,
      { timeout: 5_000 }).catch((err: Error) => {
      throw new Error(`browser-relaxed.html never started its run: ${err.message}\n${problems.join("\n")}`);
    });
    const got = await page.evaluate(() => (window as unknown as { __results: Promise<unknown> }).__results) as
      Record<string, unknown> & { build: string; warnings: string[] };
    expect(got.build, "Chromium has relaxed SIMD").toBe("relaxed-simd");
    expect(got.warnings).toEqual([]);
    expect(wasm, "only the relaxed build is fetched").toEqual(["/dist/softmax-relaxed.wasm"]);
    await lib.ready();
    expectRelaxedClose(got, relaxedWorkload(lib), "chromium");
    expect(problems).toEqual([]);
    await page.close();
  }, 30_000);
});
