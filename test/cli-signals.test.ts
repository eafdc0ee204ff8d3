// The real command as a child process: Ctrl-C (SIGINT) during train stops after the current batch, saves what was
// trained with --save (atomically) and exits 130; a write that fails midway (a file size limit) leaves an existing
// model file whole.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMnist, Network, ready } from "../dist/index.js";

const BIN = join(process.cwd(), "bin/softmax-wasm.js");
const dir = mkdtempSync(join(tmpdir(), "softmax-wasm-signals-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => ready());

interface Child { code: number | null; signal: string | null; out: string; err: string }

/**
 * Runs the CLI (under `sh -c` with `shell` set, for a ulimit). `interrupt` sends SIGINT once the first epoch's line
 * is out; `again` sends another as soon as the CLI says it was interrupted.
 */
function cli(args: string[], opts: { interrupt?: boolean; again?: boolean; shell?: string } = {}): Promise<Child> {
  return new Promise((resolve, reject) => {
    const child = opts.shell === undefined
      ? spawn(process.execPath, [BIN, ...args])
      : spawn("sh", ["-c", `${opts.shell}; exec "$0" "$@"`, process.execPath, BIN, ...args]);
    let out = "";
    let err = "";
    let sent = 0;
    child.stdout.on("data", (d) => {
      out += d;
      if (opts.interrupt && sent === 0 && /^epoch +1\//m.test(out)) sent = Number(child.kill("SIGINT"));
    });
    child.stderr.on("data", (d) => {
      err += d;
      if (opts.again && sent === 1 && /interrupted/.test(err)) sent += Number(child.kill("SIGINT"));
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, out, err }));
  });
}

/** A run far longer than any test waits for: 500 epochs of 3000 images (188 batches each). */
const train = (hidden = 16) => ["train", "--hidden", String(hidden), "--epochs", "500", "--limit", "3000", "--batch", "16"];

describe("Ctrl-C during train", () => {
  it("stops after the current batch, saves the network trained so far over the old file, and exits 130", async () => {
    const model = join(dir, "interrupted.swnn");
    writeFileSync(model, "an older model\n");
    const r = await cli([...train(), "--save", model], { interrupt: true });
    expect(r.code, r.err).toBe(130);
    const [stopped, saving, saved] = r.err.trimEnd().split("\n");
    const m = /^softmax-wasm: interrupted \(Ctrl-C\): training stopped after (\d+) epochs?(?: and (\d+) of 188 batches)? of 500 epochs$/
      .exec(stopped)!;
    expect(m, r.err).not.toBeNull();
    expect(Number(m[1])).toBeGreaterThanOrEqual(1); // the first epoch's line was out before the signal
    expect(Number(m[1])).toBeLessThan(500);
    expect(saving).toBe(`softmax-wasm: saving the network trained so far to ${model} (Ctrl-C again quits without saving)`);
    expect(saved).toMatch(new RegExp(`^softmax-wasm: saved the partly trained network to ${model.replace(/[.\\]/g, "\\$&")} ` +
      `\\([\\d,]+ bytes, ${m[1]} epochs?${m[2] ? ` and ${m[2]} of 188 batches` : ""}, with the adam state\\)$`));
    expect(r.out).not.toMatch(/final test accuracy/);
    // the saved file is a whole network that learnt something
    const net = Network.load(new Uint8Array(readFileSync(model)));
    try {
      expect(net.sizes).toEqual([784, 16, 10]);
      const { test } = await loadMnist();
      expect(net.evaluate(test.images, test.labels).accuracy).toBeGreaterThan(0.5);
    } finally {
      net.dispose();
    }
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("without --save: stops, says nothing was saved, exits 130", async () => {
    const r = await cli(train(), { interrupt: true });
    expect(r.code, r.err).toBe(130);
    expect(r.err).toMatch(/^softmax-wasm: interrupted \(Ctrl-C\): training stopped after \d+ epochs?.* of 500 epochs\n/);
    expect(r.err).toMatch(/softmax-wasm: nothing saved \(no --save\)\n$/);
  });

  it("a second Ctrl-C quits at once: exit 130, and the old file is whole or replaced by a whole network", async () => {
    const model = join(dir, "twice.swnn");
    writeFileSync(model, "an older model\n");
    const r = await cli([...train(800), "--save", model], { interrupt: true, again: true });
    expect(r.code, r.err).toBe(130);
    expect(r.err).toMatch(/^softmax-wasm: interrupted \(Ctrl-C\)/);
    const bytes = readFileSync(model);
    if (bytes.toString() !== "an older model\n") Network.load(new Uint8Array(bytes)).dispose();
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});

describe("--save when the write fails midway", () => {
  it("leaves the existing model file whole (a 100 KiB file size limit against a 305 KB model) and no temporary", async () => {
    const model = join(dir, "limited.swnn");
    const old = new Uint8Array(200_000).map((_, i) => (i * 31) & 0xff);
    writeFileSync(model, old);
    const r = await cli(["train", "--hidden", "32", "--epochs", "1", "--limit", "500", "--save", model], { shell: "ulimit -f 100" });
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(new RegExp(`^softmax-wasm: cannot write ${model.replace(/[.\\]/g, "\\$&")}: EFBIG`));
    expect(Buffer.compare(readFileSync(model), Buffer.from(old))).toBe(0);
    expect(readdirSync(dir).filter((f) => f.startsWith("limited.swnn."))).toEqual([]);
  });
});
