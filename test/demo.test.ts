// The demo page end to end: demo/server.js on a free port, Debian's Chromium driven by playwright-core. The page
// must be cross-origin isolated, train MNIST in its worker (the loss chart grows), pause, read a drawn digit (ten
// bars that sum to 1 and a top guess), and recompute the softmax explorer when a slider moves, all without a
// console error or an uncaught page error. A model moves both ways between the page and the CLI, and the page's ONNX and
// safetensors downloads are the library's exports of its .swnn. A screenshot is left in test/artifacts/demo.png. The
// server's headers, MIME types and path checks, and the page's number texts (demo/format.js), are tested without a
// browser. The page's layout at phone and desktop sizes: test/demo-layout.test.ts.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { start } from "../demo/server.js";
import { main } from "../dist/cli.js";
import { ready, Network } from "../dist/index.js";
import { augmentFlag, probText } from "../demo/format.js";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
const ARTIFACTS = new URL("./artifacts/", import.meta.url);

// In CI a missing Chromium fails; elsewhere the browser test is skipped, with the reason in its name.
const requireChromium = process.env.CI === "true";
if (!haveChromium && !requireChromium) console.warn(`demo.test.ts: skipping the browser test: ${CHROMIUM} not found`);
if (!haveChromium && requireChromium) {
  it("Chromium is installed (required when CI=true)", () => {
    expect.fail(`${CHROMIUM} is missing: the demo test needs Debian's chromium package in CI (apt-get install chromium)`);
  });
}

describe.skipIf(!haveChromium)(`demo page in Chromium${haveChromium ? "" : ` (skipped: ${CHROMIUM} not found)`}`, () => {
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    const { chromium } = await import("playwright-core");
    server = await start({ port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1, acceptDownloads: true });
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
    });
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("is cross-origin isolated, trains, pauses, reads a drawing, explores softmax and trades models with the CLI, without errors", async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => (window as any).__demo?.libraryReady === true && (window as any).__demo.state === "idle",
      undefined, { timeout: 15_000 }).catch((err) => {
      throw new Error(`the page did not get ready: ${err.message}\n${problems.join("\n")}`);
    });
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);

    // ---- training: start, watch the loss series grow, pause ----
    await page.fill("#hp-epochs", "50"); // a fast machine must not finish the run before the pause
    await page.click("#btn-start");
    await page.waitForFunction(() => (window as any).__demo.lossPoints() > 0, undefined, { timeout: 20_000 });
    const before = await page.evaluate(() => (window as any).__demo.lossPoints() as number);
    await page.waitForTimeout(2_500);
    const after = await page.evaluate(() => (window as any).__demo.lossPoints() as number);
    expect(after).toBeGreaterThan(before + 10);
    expect(await page.textContent("#st-speed")).toMatch(/\d/);
    await page.click("#btn-pause");
    await page.waitForFunction(() => (window as any).__demo.state === "paused", undefined, { timeout: 5_000 });
    const paused = await page.evaluate(() => (window as any).__demo.lossPoints() as number);
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => (window as any).__demo.lossPoints())).toBe(paused); // really stopped

    // ---- draw a "7" with the mouse ----
    await page.locator("#pad").scrollIntoViewIfNeeded();
    const pad = (await page.locator("#pad").boundingBox())!;
    const at = (fx: number, fy: number) => [pad.x + fx * pad.width, pad.y + fy * pad.height] as const;
    const predictionsBefore = await page.evaluate(() => (window as any).__demo.predictions as number);
    await page.mouse.move(...at(0.25, 0.2));
    await page.mouse.down();
    for (const [fx, fy] of [[0.4, 0.2], [0.55, 0.2], [0.72, 0.2], [0.66, 0.38], [0.58, 0.56], [0.5, 0.72], [0.45, 0.85]]) {
      await page.mouse.move(...at(fx, fy), { steps: 4 });
    }
    await page.mouse.up();
    // the last prediction (the one after the stroke) has arrived and none is pending
    await page.waitForFunction((n) => (window as any).__demo.predictions > n && (window as any).__demo.drawIdle,
      predictionsBefore, { timeout: 5_000 });
    const digits = await page.$$eval("#digit-bars .barrow", (els) => els.map((el) => Number((el as HTMLElement).dataset.p)));
    expect(digits).toHaveLength(10);
    for (const p of digits) expect(p >= 0 && p <= 1).toBe(true);
    expect(Math.abs(digits.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-3);
    const guess = await page.getAttribute("#guess", "data-digit");
    expect(guess).toMatch(/^\d$/);
    expect(Number(guess)).toBe(digits.indexOf(Math.max(...digits)));
    expect(await page.textContent("#guess")).toBe(guess);

    // ---- softmax explorer: move the first logit's slider with the keyboard ----
    const readSoftmax = () => page.$$eval("#softmax-bars .barrow", (els) => els.map((el) => Number((el as HTMLElement).dataset.p)));
    const p0 = await readSoftmax();
    expect(Math.abs(p0.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-3);
    await page.focus("#logit-0");
    for (let i = 0; i < 15; i++) await page.keyboard.press("ArrowRight");
    const p1 = await readSoftmax();
    expect(p1).toHaveLength(p0.length);
    expect(p1[0]).toBeGreaterThan(p0[0]);
    expect(Math.abs(p1.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-3);

    // ---- the slowdown chart ran (quadratic still saturated at epoch 30, cross-entropy well below) ----
    await page.waitForFunction(() => (window as any).__demo.slowdown !== undefined, undefined, { timeout: 10_000 });
    const slow = await page.evaluate(() => {
      const s = (window as any).__demo.slowdown;
      return { q30: s.quadratic[30], ce30: s.crossEntropy[30], n: s.quadratic.length };
    });
    expect(slow.n).toBe(301);
    expect(slow.q30).toBeGreaterThan(0.9);
    expect(slow.ce30).toBeLessThan(0.4);

    // ---- the screenshot, with the trained network's charts (before a loaded model replaces them) ----
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.waitForFunction(() => !(document.getElementById("btn-replay") as HTMLButtonElement).disabled); // animated
    await page.screenshot({ path: new URL("demo.png", ARTIFACTS).pathname, fullPage: true });

    // ---- models: the page's download evaluates in the CLI; a CLI-trained model loads in the page ----
    const dir = mkdtempSync(join(tmpdir(), "softmax-wasm-demo-"));
    try {
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#btn-save")]);
      expect(download.suggestedFilename()).toMatch(/^mnist-784-100-10-relu-e\d+\.swnn$/);
      const pageModel = join(dir, "page.swnn");
      await download.saveAs(pageModel);
      const evaluated = await cli(["evaluate", "--model", pageModel]);
      expect(evaluated.code, evaluated.err).toBe(0);
      expect(Number(evaluated.out.match(/test accuracy (\d+\.\d\d)%/)?.[1])).toBeGreaterThan(80);

      // the .onnx and .safetensors downloads: byte for byte the library's exports of the same network
      await ready();
      const net = Network.load(readFileSync(pageModel));
      try {
        for (const [button, ext, bytes] of [["#btn-save-onnx", "onnx", net.toOnnx()],
          ["#btn-save-safetensors", "safetensors", net.toSafetensors()]] as const) {
          const [d] = await Promise.all([page.waitForEvent("download"), page.click(button)]);
          expect(d.suggestedFilename()).toBe(download.suggestedFilename().replace(/swnn$/, ext));
          const file = join(dir, `page.${ext}`);
          await d.saveAs(file);
          expect(Buffer.compare(readFileSync(file), Buffer.from(bytes)), ext).toBe(0);
        }
      } finally {
        net.dispose();
      }

      const cliModel = join(dir, "cli.swnn");
      const trained = await cli(["train", "--hidden", "24", "--epochs", "1", "--limit", "3000", "--save", cliModel]);
      expect(trained.code, trained.err).toBe(0);
      const cliAccuracy = trained.out.match(/final test accuracy (\d+\.\d\d)%/)![1];
      await page.setInputFiles("#file-load", cliModel);
      await page.waitForFunction(() => /test accuracy/.test(document.getElementById("model-status")!.textContent!),
        undefined, { timeout: 10_000 });
      expect(await page.textContent("#arch")).toContain("784-24-10");
      // the same bits in Chromium as in Node: the page's accuracy of the CLI's model is the CLI's, to the digit
      expect(await page.textContent("#model-status")).toContain(`test accuracy ${cliAccuracy}%`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    expect(problems).toEqual([]);
    const shown = await page.evaluate(() => (window as any).__demo.errors.map((e: any) => `${e.context}: ${e.message}`));
    expect(shown).toEqual([]);
    expect(await page.isHidden("#errors")).toBe(true);
  }, 45_000);
});

/** Form settings of the same-bytes test: field id -> value (a boolean checks a box), and the CLI flags they mean. */
const PLAIN = {
  fields: { "hp-hidden": "32", "hp-optimizer": "sgd", "hp-lr": "0.1", "hp-batch": "10", "hp-epochs": "4" },
  argv: ["train", "--hidden", "32", "--activation", "relu", "--optimizer", "sgd", "--lr", "0.1", "--batch", "10",
    "--epochs", "4", "--seed", "1", "--limit", "6000", "--save", "model.swnn"],
};
const REGULARIZED = {
  fields: { ...PLAIN.fields, "hp-epochs": "2", "hp-dropout": "0.2", "hp-input-dropout": "0.1", "hp-shift": "2",
    "hp-rotate": "10", "hp-scale": "0.1", "hp-elastic": true },
  argv: ["train", "--hidden", "32", "--activation", "relu", "--dropout", "0.2", "--input-dropout", "0.1", "--optimizer",
    "sgd", "--lr", "0.1", "--batch", "10", "--epochs", "2", "--augment", "shift=2,rotate=10,scale=0.1,elastic=34:4",
    "--seed", "1", "--limit", "6000", "--save", "model.swnn"],
};

describe.skipIf(!haveChromium)("the page and the command line train the same bytes", () => {
  it.each([["plain SGD", PLAIN], ["dropout, input dropout and augmentation", REGULARIZED]])("%s: a paused and resumed run on the page saves the CLI's --save output byte for byte, and shows that command", async (_, { fields, argv }) => {
    const { chromium } = await import("playwright-core");
    const server = await start({ port: 0 });
    const browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"],
    });
    const dir = mkdtempSync(join(tmpdir(), "softmax-wasm-same-"));
    try {
      const page = await browser.newPage({ acceptDownloads: true });
      await page.goto(`${server.url}?limit=6000`);
      await page.waitForFunction(() => (window as any).__demo?.libraryReady === true && (window as any).__demo.state === "idle",
        undefined, { timeout: 15_000 });
      for (const [id, value] of Object.entries(fields)) {
        if (value === true) await page.check(`#${id}`);
        else if (id === "hp-optimizer") await page.selectOption(`#${id}`, value);
        else await page.fill(`#${id}`, value);
      }
      const command = (await page.textContent("#cli-command"))!;
      expect(command).toBe(`npx softmax-wasm ${argv.join(" ")}`);
      // start, pause in the middle of the run, resume, to the end
      await page.click("#btn-start");
      await page.waitForFunction(() => (window as any).__demo.lossPoints() > 0, undefined, { timeout: 20_000 });
      await page.click("#btn-pause"); // somewhere in the first epoch: any pause must give the same bytes
      await page.waitForFunction(() => (window as any).__demo.state === "paused", undefined, { timeout: 5_000 });
      await page.click("#btn-start");
      await page.waitForFunction(() => (window as any).__demo.state === "done", undefined, { timeout: 40_000 });
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#btn-save")]);
      const pageModel = join(dir, "page.swnn");
      await download.saveAs(pageModel);
      const cliModel = join(dir, "model.swnn");
      const trained = await cli(argv.map((a) => (a === "model.swnn" ? cliModel : a)));
      expect(trained.code, trained.err).toBe(0);
      const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
      expect(sha(pageModel)).toBe(sha(cliModel));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await browser.close();
      await server.close();
    }
  }, 60_000);
});

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, {
    stdout: { write: (t: string) => { out += t; return true; } },
    stderr: { write: (t: string) => { err += t; return true; } },
    isTTY: false,
  });
  return { code, out, err };
}

/** A raw GET (no URL normalisation, so "/../" reaches the server as sent). */
function get(base: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: "GET" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the page's number texts (demo/format.js)", () => {
  it("a probability never reads as a certainty it is not, the same text in the guess and in its bar", () => {
    expect([1, 0.99999, 0.9995, 0.99949, 0.931, 0.5, 0.0005, 0.00049, 1e-9, 0].map((p) => probText(p))).toEqual([
      "100%", ">99.9%", ">99.9%", "99.9%", "93.1%", "50.0%", "0.1%", "<0.1%", "<0.1%", "0%",
    ]);
    expect(probText(0.99996, 2)).toBe(">99.99%");
  });

  it("an augment option as the CLI's --augment text: the transforms that are on, in the CLI's order", () => {
    expect(augmentFlag({ shift: 2, rotate: 10, scale: 0.1, elastic: { alpha: 34, sigma: 4 } }))
      .toBe("shift=2,rotate=10,scale=0.1,elastic=34:4");
    expect(augmentFlag({ rotate: 7.5, elastic: { alpha: 34, sigma: 4 } })).toBe("rotate=7.5,elastic=34:4");
    expect(augmentFlag({ shift: 0, scale: 0.05 })).toBe("scale=0.05");
  });
});

describe("demo server", () => {
  let server: { url: string; port: number; close(): Promise<void> };
  beforeAll(async () => { server = await start({ port: 0 }); });
  afterAll(async () => { await server?.close(); });

  it("listens on 127.0.0.1 at a free port and serves the page, the package, uPlot and MNIST with COOP / COEP", async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(server.port).toBeGreaterThan(0);
    const cases: [string, string][] = [
      ["/", "text/html; charset=utf-8"],
      ["/main.js", "text/javascript; charset=utf-8"],
      ["/worker.js", "text/javascript; charset=utf-8"],
      ["/styles.css", "text/css; charset=utf-8"],
      ["/dist/browser.js", "text/javascript; charset=utf-8"],
      ["/dist/softmax.wasm", "application/wasm"],
      ["/vendor/uplot/uPlot.esm.js", "text/javascript; charset=utf-8"],
      ["/vendor/uplot/uPlot.min.css", "text/css; charset=utf-8"],
      ["/data/mnist/t10k-labels-idx1-ubyte", "application/octet-stream"],
    ];
    for (const [path, type] of cases) {
      const r = await get(server.url, path);
      expect(r.status, path).toBe(200);
      expect(r.headers["content-type"], path).toBe(type);
      expect(r.headers["cross-origin-opener-policy"], path).toBe("same-origin");
      expect(r.headers["cross-origin-embedder-policy"], path).toBe("require-corp");
    }
    const wasm = await get(server.url, "/dist/softmax.wasm");
    expect([...wasm.body.subarray(0, 4)]).toEqual([0x00, 0x61, 0x73, 0x6d]); // "\0asm"
    const labels = await get(server.url, "/data/mnist/t10k-labels-idx1-ubyte");
    expect(labels.body.length).toBe(10_008);
  });

  it("serves nothing outside its four folders", async () => {
    for (const path of [
      "/../package.json", "/..%2fpackage.json", "/%2e%2e/package.json", "/dist/../package.json",
      "/dist/..%2f..%2fpackage.json", "/vendor/uplot/../../uplot/package.json", "/data/mnist/../../package.json",
      "/data/mnist/%2e%2e%2fpackage.json", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/..%5cpackage.json", "/.gitignore",
      "/data/mnist/", "/dist/", "/vendor/", "/nope.html", "/%E0%A4%A", "/main.js%00.html", "/package.json",
    ]) {
      const r = await get(server.url, path);
      expect(r.status, path).toBe(404);
      expect(r.body.toString(), path).not.toContain("softmax-wasm");
    }
    expect((await get(server.url, "/dist/")).status).toBe(404);
  });
});
