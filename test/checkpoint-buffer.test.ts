// Network.load of a Node Buffer, as readFileSync returns it: Buffer#slice is a view into the same memory (not a copy,
// as Uint8Array#slice is), so a decoder that sliced fields and read them through .buffer from offset 0 read the wrong
// bytes ("Adam's second moment is -0.158"). A file read with readFileSync must load to the network that was saved.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, Network } from "../dist/index.js";

beforeAll(async () => {
  await ready();
});

describe("Network.load of a Node Buffer", () => {
  it.each(["adam", "sgd"] as const)("loads readFileSync's Buffer (%s state) to the saved bytes, as a Uint8Array does", async (name) => {
    const net = new Network({ sizes: [64, 32, 10], seed: 1, dropout: 0.2 });
    const x = Float32Array.from({ length: 640 }, (_, i) => (i % 7) / 7);
    const y = Uint8Array.from({ length: 10 }, (_, i) => i % 10);
    await net.fit(x, y, { epochs: 1, batchSize: 5, optimizer: { name, lr: 0.01 } });
    const saved = net.save();
    const dir = mkdtempSync(join(tmpdir(), "softmax-wasm-buffer-"));
    try {
      writeFileSync(join(dir, "m.swnn"), saved);
      const file = readFileSync(join(dir, "m.swnn"));
      // also a Buffer that starts inside a larger one (Node's pool for small reads)
      const pooled = Buffer.concat([Buffer.alloc(13), file]).subarray(13);
      for (const bytes of [file, pooled]) {
        const loaded = Network.load(bytes);
        expect(Buffer.compare(Buffer.from(loaded.save()), Buffer.from(saved))).toBe(0);
        loaded.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      net.dispose();
    }
  });
});
