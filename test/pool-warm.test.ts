// ready({ threads: n }) runs a training step's kernels a few times on small data before the workers start, so V8's
// dynamic tiering compiles them with TurboFan then (the code is the module's, shared by every thread), not in the first
// batches of the first epoch, where the compiles (20-80 ms of a core) take a core from the caller or a worker.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

/** A module's exported functions' indices by name, read from its export section. */
function exportIndices(bytes: Uint8Array): Map<string, number> {
  let p = 8;
  const leb = () => {
    let r = 0, shift = 0, c;
    do {
      c = bytes[p++];
      r |= (c & 127) << shift;
      shift += 7;
    } while (c & 128);
    return r >>> 0;
  };
  const out = new Map<string, number>();
  while (p < bytes.length) {
    const id = bytes[p++], size = leb(), end = p + size;
    if (id === 7) {
      for (let n = leb(); n > 0; n--) {
        const len = leb();
        const name = new TextDecoder().decode(bytes.subarray(p, p + len));
        p += len;
        const kind = bytes[p++], index = leb();
        if (kind === 0) out.set(name, index);
      }
    }
    p = end;
  }
  return out;
}

describe("ready({ threads: 2 })", () => {
  it("leaves a training step's kernels compiled by TurboFan before any call", () => {
    const indices = exportIndices(readFileSync(new URL("../dist/softmax-threads.wasm", import.meta.url)));
    // a child: ready({ threads: 2 }), then half a second idle (the background compiles finish), then the marker with
    // the pool's size; nothing else runs a kernel (a file: the workers would inherit --input-type and fail to start)
    const dir = mkdtempSync(join(tmpdir(), "pool-warm-"));
    const script = join(dir, "child.mjs");
    writeFileSync(script, `import { ready } from ${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)};
      import { engine } from ${JSON.stringify(new URL("../dist/engine.js", import.meta.url).href)};
      await ready({ threads: 2 });
      await new Promise((r) => setTimeout(r, 500));
      console.log("MARK ready, threads " + engine("child").pool?.size);
      process.exit(0);`);
    let out: string;
    try {
      out = execFileSync(process.execPath, ["--trace-wasm-compilation-times", script], { cwd: root, encoding: "utf8", timeout: 60_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(out).toContain("MARK ready, threads 2");
    const before = out.slice(0, out.indexOf("MARK ready"));
    expect(before.length).toBeGreaterThan(0);
    const optimized = new Set([...before.matchAll(/#(\d+) using TurboFan/g)].map((m) => Number(m[1])));
    // exported kernels whose loops are their own (the GEMMs' exports call inner functions, which have no names)
    for (const name of ["sgd_update", "adam_update", "cross_entropy_index", "count_correct", "activation_backward", "gather_rows_u8"]) {
      expect(indices.has(name), name).toBe(true);
      expect(optimized.has(indices.get(name)!), name).toBe(true);
    }
  }, 60_000);
});
