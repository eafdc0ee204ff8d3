// The demo page's layout, as a visitor sees it at 390 x 844 (a phone) and 1280 x 900: demo/server.js on a free port,
// Debian's Chromium driven by playwright-core. At each size the page trains one epoch on ?limit=N images (with dropout
// and augmentation at the phone size, so the strip of training images fills), a digit is drawn on the pad with mouse
// events, and the checks in test/demo-checks.ts run inside the page: nothing wider than the viewport, the top guess at
// 42 px (an invalid `font` shorthand left it at 15 px), charts with a text alternative, the guess and its bar
// agreeing, and no console error. The checks are plain functions, so the same ones can run in another browser.
import { existsSync, mkdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { start } from "../demo/server.js";
import {
  badgeRows, fieldState, fontSizes, guessTexts, overflowingElements, padOffCentre, pageErrors, textAlternatives,
} from "./demo-checks.js";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
const ARTIFACTS = new URL("./artifacts/", import.meta.url);
const LIMIT = 1500; // training images: one epoch in a second or two

if (!haveChromium && process.env.CI === "true") {
  it("Chromium is installed (required when CI=true)", () => {
    expect.fail(`${CHROMIUM} is missing: the demo layout test needs Debian's chromium package in CI`);
  });
}

describe.skipIf(!haveChromium)(`demo page layout in Chromium${haveChromium ? "" : ` (skipped: ${CHROMIUM} not found)`}`, () => {
  let server: { url: string; close(): Promise<void> };
  let browser: Browser;

  beforeAll(async () => {
    const { chromium } = await import("playwright-core");
    server = await start({ port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"],
    });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A page at width x height that records console errors, page errors and failed requests. */
  async function open(width: number, height: number): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage({ viewport: { width, height }, deviceScaleFactor: 1 });
    const problems: string[] = [];
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
    });
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
    await page.goto(`${server.url}?limit=${LIMIT}`);
    await page.waitForFunction(() => (window as any).__demo?.libraryReady === true && (window as any).__demo.state === "idle"
      && (window as any).__demo.dataReady === true, undefined, { timeout: 20_000 }).catch((err) => {
      throw new Error(`the page did not get ready: ${err.message}\n${problems.join("\n")}`);
    });
    return { page, problems };
  }

  /** Trains one epoch from the form as it is, and waits for the run's end. */
  async function trainOneEpoch(page: Page): Promise<void> {
    await page.fill("#hp-epochs", "1");
    await page.click("#btn-start");
    await page.waitForFunction(() => (window as any).__demo.state === "done", undefined, { timeout: 30_000 });
  }

  /** Draws a "7" with mouse events (the pad listens for pointer events, which the mouse raises). */
  async function drawSeven(page: Page): Promise<void> {
    await page.locator("#pad").scrollIntoViewIfNeeded();
    const pad = (await page.locator("#pad").boundingBox())!;
    const at = (fx: number, fy: number) => [pad.x + fx * pad.width, pad.y + fy * pad.height] as const;
    const before = await page.evaluate(() => (window as any).__demo.predictions as number);
    await page.mouse.move(...at(0.25, 0.2));
    await page.mouse.down();
    for (const [fx, fy] of [[0.45, 0.2], [0.72, 0.2], [0.62, 0.45], [0.52, 0.7], [0.45, 0.85]]) {
      await page.mouse.move(...at(fx, fy), { steps: 5 });
    }
    await page.mouse.up();
    await page.waitForFunction((n) => (window as any).__demo.predictions > n && (window as any).__demo.drawIdle, before,
      { timeout: 5_000 });
  }

  /** The checks every size must pass, after training and drawing. */
  async function commonChecks(page: Page, problems: string[]): Promise<void> {
    const overflow = await page.evaluate(overflowingElements);
    expect(overflow.elements).toEqual([]);
    expect(overflow.scrollWidth).toBeLessThanOrEqual(overflow.viewport);
    const fonts = await page.evaluate(fontSizes);
    expect(fonts).toEqual({
      "#guess": "42px", "#st-state": "19px", "#btn-start": "14px", "#hp-lr": "14px", "#hp-activation": "14px",
    });
    const alt = await page.evaluate(textAlternatives);
    for (const [id, { role, label }] of Object.entries(alt)) {
      expect(role, id).toBe("img");
      expect(label?.length ?? 0, id).toBeGreaterThan(10);
    }
    // after one epoch, the charts' text says what they show
    expect(alt["chart-batch"].label).toMatch(/^Per-batch loss chart \(log scale\): \d+ batches over 1\.00 epochs; smoothed loss from \d\.\d{3} to \d\.\d{3}; live accuracy \d+\.\d%\.$/);
    expect(alt["chart-epoch"].label).toMatch(/^Per-epoch accuracy chart: after epoch 1, train \d+\.\d\d%, test \d+\.\d\d%\.$/);
    expect(await page.textContent("#draw-note")).toMatch(/^Predicting with the trained network: \d+\.\d\d% on the test set after epoch 1\.$/);
    // the guess and its bar give the same text for the same probability
    const g = await page.evaluate(guessTexts);
    expect(g.guess).toMatch(/^\d$/);
    expect(g.conf).toBe(`${g.bar} sure`);
    expect(g.bar).toMatch(/^(>99\.9%|<0\.1%|100%|\d{1,2}\.\d%)$/);
    expect(problems).toEqual([]);
    expect(await page.evaluate(pageErrors)).toEqual([]);
  }

  it("390 x 844: nothing wider than the phone, the pad centred, dropout and augmentation fill the strip, 42 px guess, no error", async () => {
    const { page, problems } = await open(390, 844);
    try {
      await page.fill("#hp-hidden", "32");
      await page.fill("#hp-dropout", "0.2");
      await page.fill("#hp-input-dropout", "0.1");
      await page.fill("#hp-shift", "2");
      await page.fill("#hp-rotate", "10");
      await page.check("#hp-elastic");
      expect(await page.textContent("#cli-command")).toBe("npx softmax-wasm train --hidden 32 --activation relu " +
        "--dropout 0.2 --input-dropout 0.1 --optimizer adam --lr 0.001 --batch 64 --epochs 10 " +
        `--augment shift=2,rotate=10,elastic=34:4 --seed 1 --limit ${LIMIT} --save model.swnn`);
      await trainOneEpoch(page);
      expect(await page.evaluate(() => (window as any).__demo.stripUpdates as number)).toBeGreaterThan(0);
      expect(await page.getAttribute("#strip", "data-filled")).toBe("12");
      expect(await page.getAttribute("#strip", "aria-label")).toMatch(/^12 images of batch \d+ of epoch 1, as the network trains on them$/);
      await drawSeven(page);
      await commonChecks(page, problems);
      expect(Math.abs(await page.evaluate(padOffCentre))).toBeLessThanOrEqual(1);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: new URL("demo-390.png", ARTIFACTS).pathname, fullPage: true });
    } finally {
      await page.close();
    }
  }, 60_000);

  it("1280 x 900: the badges keep one line, a learning rate of 0 is refused at its field (no banner), 42 px guess, no error", async () => {
    const { page, problems } = await open(1280, 900);
    try {
      expect(await page.evaluate(badgeRows)).toEqual({ offsets: [0, 0, 0], besideBrand: true });
      // a learning rate of 0: the field is invalid, Start does not reach the worker, no page-wide banner
      await page.fill("#hp-lr", "0");
      expect(await page.evaluate(fieldState, "hp-lr")).toEqual({
        valid: false, message: "The learning rate must be a number greater than 0.", banner: false,
      });
      expect(await page.textContent("#cli-command")).toBe("(fix the settings above)");
      await page.click("#btn-start");
      await page.waitForTimeout(300);
      expect(await page.evaluate(() => (window as any).__demo.state)).toBe("idle");
      expect(await page.evaluate(fieldState, "hp-lr")).toMatchObject({ valid: false, banner: false });
      // past float32's range (the kernels'): refused at the field too, as fit and the command line refuse it
      await page.fill("#hp-lr", "1e39");
      expect(await page.evaluate(fieldState, "hp-lr")).toEqual({ valid: false, banner: false,
        message: "The learning rate must be within float32's normal range (1.2e-38 to 3.4e38), which the kernels use." });
      expect(await page.textContent("#cli-command")).toBe("(fix the settings above)");
      await page.fill("#hp-lr", "0.001");
      expect(await page.evaluate(fieldState, "hp-lr")).toEqual({ valid: true, message: "", banner: false });
      await trainOneEpoch(page);
      await drawSeven(page);
      await commonChecks(page, problems);
      expect(await page.evaluate(badgeRows)).toEqual({ offsets: [0, 0, 0], besideBrand: true });
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: new URL("demo-1280.png", ARTIFACTS).pathname, fullPage: true });
    } finally {
      await page.close();
    }
  }, 60_000);
});
