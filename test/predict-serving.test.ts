// Network.predict as a server calls it: one request of up to 256 rows in an ordinary array runs as one batch written
// straight into the network's workspace (no upload block); the result must be the bits of the batched path that
// datasets, views of Wasm memory and longer inputs take, for pixels and floats, sparse and dense rows, and a serving
// loop into opts.out must neither grow Wasm memory nor return anything but out.
import { beforeAll, describe, expect, it } from "vitest";
import { Network, ready, wasmArray, wasmMemory } from "../dist/index.js";
import { rng } from "./helpers.js";

const D = 784;

/** rows of MNIST-like pixels: zeros with probability `zeros`, else 1..255. */
function pixels(rows: number, zeros: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: rows * D }, () => (r() < zeros ? 0 : 1 + Math.floor(r() * 255)));
}

describe("Network.predict of one batch (a served request)", () => {
  beforeAll(async () => {
    await ready();
  });

  for (const [kind, zeros] of [["sparse", 0.8], ["dense", 0]] as const) {
    // (the same batches: a row's bits may still depend on the rows it is batched with, through the GEMM's choices)
    it(`gives the batched path's bits for the same batches, pixels and floats (${kind} rows)`, () => {
      const net = new Network({ sizes: [D, 32, 10], seed: 3 });
      try {
        const px = pixels(300, zeros, kind === "sparse" ? 1 : 2);
        const floats = Float32Array.from(px, (p) => p / 255);
        for (const x of [px, floats]) {
          const all = net.predict(x); // 300 rows: more than one batch, through an upload block
          const head = net.predict(x.subarray(0, 256 * D)); // one batch each: straight into the workspace
          const tail = net.predict(x.subarray(256 * D));
          expect(Array.from(head)).toEqual(Array.from(all.subarray(0, 2560)));
          expect(Array.from(tail)).toEqual(Array.from(all.subarray(2560)));
        }
        // the same floats as a WasmArray's data (resident: the batched path, copied within memory)
        const resident = wasmArray(floats.subarray(0, 256 * D));
        try {
          expect(Array.from(net.predict(resident.data))).toEqual(Array.from(net.predict(floats.subarray(0, 256 * D))));
        } finally {
          resident.dispose();
        }
      } finally {
        net.dispose();
      }
    });
  }

  it("a serving loop into opts.out returns out and grows no memory, request after request", () => {
    const net = new Network({ sizes: [D, 100, 10], seed: 5 });
    try {
      const x = pixels(64, 0.8, 9);
      const out = new Float32Array(640);
      const opts = { out };
      const want = net.predict(x);
      net.predict(x, opts); // the first call may make the workspace
      const bytes = wasmMemory()!.buffer.byteLength;
      for (let i = 0; i < 500; i++) {
        const rows = 1 + (i % 64); // requests of every size up to the workspace's
        expect(net.predict(x.subarray(0, rows * D), opts)).toBe(out);
        if (rows === 64) expect(Array.from(out)).toEqual(Array.from(want));
      }
      expect(wasmMemory()!.buffer.byteLength).toBe(bytes);
      expect(Array.from(out.subarray(0, 520))).toEqual(Array.from(net.predict(x.subarray(0, 52 * D)))); // the last: 52 rows
    } finally {
      net.dispose();
    }
  });

  it("an empty request returns an empty result, as the batched path did", () => {
    const net = new Network({ sizes: [D, 8, 10], seed: 1 });
    try {
      expect(net.predict(new Float32Array(0)).length).toBe(0);
      expect(net.predict(new Uint8Array(0)).length).toBe(0);
    } finally {
      net.dispose();
    }
  });
});
