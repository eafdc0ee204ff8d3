// gunzip (src/inflate.ts): node:zlib's output in every block type and strategy, damage always caught, and the
// output limit: the data grows as it arrives (a trailer's size is only a hint), never past maxBytes.
import { constants, deflateRawSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { gunzip, gunzipHead, MAX_BYTES } from "../dist/inflate.js";
import { crc32 } from "../dist/crc32.js";
import { rng } from "./helpers.js";

/** A gzip member around a raw deflate stream, with the trailer's CRC-32 and size for `data`. */
function member(raw: Uint8Array, data: Uint8Array, size = data.length): Uint8Array {
  const out = new Uint8Array(10 + raw.length + 8);
  out.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  out.set(raw, 10);
  const dv = new DataView(out.buffer);
  dv.setUint32(10 + raw.length, crc32(data), true);
  dv.setUint32(14 + raw.length, size >>> 0, true);
  return out;
}

/** Deflate's bit order: values first bit lowest, Huffman codes most significant bit first. */
class Bits {
  bytes: Uint8Array;
  n = 0;
  constructor(capacity: number) { this.bytes = new Uint8Array(capacity); }
  put(value: number, count: number): void {
    for (let i = 0; i < count; i++, this.n++) this.bytes[this.n >> 3] |= ((value >>> i) & 1) << (this.n & 7);
  }
  code(code: number, len: number): void {
    for (let i = len - 1; i >= 0; i--, this.n++) this.bytes[this.n >> 3] |= ((code >>> i) & 1) << (this.n & 7);
  }
  done(): Uint8Array { return this.bytes.subarray(0, (this.n + 7) >> 3); }
}

/**
 * A deflate stream with no end: one fixed-Huffman block, a literal 0, then `matches` copies of length 258 at
 * distance 1: 13 bits each, so `matches` x 258 zeros from about matches x 1.6 bytes (a gzip bomb, made directly).
 */
function zeroBomb(matches: number): Uint8Array {
  const b = new Bits(Math.ceil((3 + 8 + 13 * matches) / 8) + 1);
  b.put(1, 1); // BFINAL
  b.put(1, 2); // fixed Huffman
  b.code(0x30, 8); // literal 0
  for (let i = 0; i < matches; i++) {
    b.code(0b11000101, 8); // length code 285: 258
    b.code(0, 5); // distance code 0: 1
  }
  return b.done();
}

describe("crc32", () => {
  it("matches the standard check value and continues across chunks", () => {
    const s = new TextEncoder().encode("123456789");
    expect(crc32(s)).toBe(0xcbf43926);
    expect(crc32(s, 4, 9, crc32(s, 0, 4))).toBe(0xcbf43926);
  });
});

describe("gunzip", () => {
  const r = rng(5);
  const text = new TextEncoder().encode("softmax ".repeat(5000) + Array.from({ length: 3000 }, () => r().toFixed(3)).join(","));
  it.each([0, 1, 6, 9])("inflates what node:zlib deflates at level %i (stored, fixed and dynamic blocks)", (level) => {
    expect(Buffer.compare(Buffer.from(gunzip(gzipSync(text, { level }))), Buffer.from(text))).toBe(0);
  });

  it("inflates every zlib strategy and memLevel over random, sparse, periodic and smooth data", () => {
    const rand = rng(21);
    const { Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED } = constants;
    for (let i = 0; i < 40; i++) {
      const data = new Uint8Array(Math.floor(rand() ** 2 * 200_000));
      for (let j = 0; j < data.length; j++) {
        data[j] = [rand() * 256, rand() < 0.8 ? 0 : rand() * 256, 97 + (j % (2 + (i % 7))), (j >> 7) & 0xff][i % 4];
      }
      for (const strategy of [Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED]) {
        const gz = gzipSync(data, { level: i % 10, strategy, memLevel: 1 + (i % 9) });
        expect(Buffer.compare(Buffer.from(gunzip(gz)), Buffer.from(data)), `data ${i}, strategy ${strategy}`).toBe(0);
      }
    }
  });

  it("copies long matches of every period (1 to 300) exactly", () => {
    for (const period of [1, 2, 3, 7, 31, 32, 33, 100, 257, 258, 259, 300]) {
      const data = Uint8Array.from({ length: 20_000 }, (_, i) => (i % period) * 37 + 1);
      expect(Buffer.compare(Buffer.from(gunzip(gzipSync(data, { level: 9 }))), Buffer.from(data)), `period ${period}`).toBe(0);
    }
  });

  it("inflates concatenated members, an empty member and a fixed-Huffman block", () => {
    const two = Buffer.concat([gzipSync(text.subarray(0, 100)), gzipSync(new Uint8Array(0)), gzipSync(text.subarray(100, 250))]);
    expect(Buffer.compare(Buffer.from(gunzip(two)), Buffer.from(text.subarray(0, 250)))).toBe(0);
    const tiny = new TextEncoder().encode("abcabcabc");
    expect(deflateRawSync(tiny)[0] & 6).toBe(2); // zlib chose a fixed block for this one
    expect(new TextDecoder().decode(gunzip(gzipSync(tiny)))).toBe("abcabcabc");
  });

  it("skips zero padding after the last member (as gzip does); other trailing bytes are an error naming where", () => {
    const gz = gzipSync(text.subarray(0, 100));
    const padded = Buffer.concat([gz, Buffer.alloc(512)]);
    expect(Buffer.compare(Buffer.from(gunzip(padded)), Buffer.from(text.subarray(0, 100)))).toBe(0);
    const garbage = Buffer.concat([gz, Buffer.from("junk")]);
    expect(() => gunzip(garbage)).toThrow(RangeError);
    expect(() => gunzip(garbage)).toThrow(`gunzip: 4 bytes after member 1 (at offset ${gz.length}) are not a gzip member`);
    const zerosThenJunk = Buffer.concat([gz, Buffer.alloc(3), Buffer.from("x")]);
    expect(() => gunzip(zerosThenJunk)).toThrow(`gunzip: 4 bytes after member 1 (at offset ${gz.length}) are not`);
    expect(() => gunzip(Buffer.concat([Buffer.alloc(2), gz]))).toThrow("gunzip: not a gzip member (bad magic)");
  });

  it("refuses an over-subscribed Huffman code", () => {
    const b = new Bits(16);
    b.put(1, 1); // BFINAL
    b.put(2, 2); // dynamic Huffman
    b.put(0, 5); // 257 literal/length codes
    b.put(0, 5); // 1 distance code
    b.put(0, 4); // 4 code-length codes: for 16, 17, 18 and 0
    for (const len of [1, 1, 1, 0]) b.put(len, 3); // three codes of length 1: one too many
    expect(() => gunzip(member(b.done(), new Uint8Array(0)))).toThrow("gunzip: an over-subscribed Huffman code");
  });

  it("rejects truncated and corrupted data with a RangeError and never returns wrong bytes (300 random damages)", () => {
    const gz = gzipSync(text.subarray(0, 4000));
    const rand = rng(11);
    let crcCaught = 0;
    for (let i = 0; i < 300; i++) {
      const bad = new Uint8Array(gz);
      let cut = bad;
      if (i % 3 === 0) cut = bad.subarray(0, Math.floor(rand() * gz.length));
      else bad[10 + Math.floor(rand() * (gz.length - 10))] ^= 1 << Math.floor(rand() * 8);
      let out: Uint8Array;
      try {
        out = gunzip(cut);
      } catch (err) {
        expect(err, String(err)).toBeInstanceOf(RangeError);
        if (/CRC-32|size mismatch/.test(String(err))) crcCaught++;
        continue;
      }
      // a flip in the padding after the last block changes nothing; any other must have been caught above
      expect(Buffer.compare(Buffer.from(out), Buffer.from(text.subarray(0, 4000))), `damage ${i} went unnoticed`).toBe(0);
    }
    expect(crcCaught).toBeGreaterThan(0);
  });
});

describe("gunzip's output limit", () => {
  it("a trailer claiming 4 GiB for 100 bytes costs at most the first 1 MiB, then fails on the size", () => {
    const data = new Uint8Array(100).fill(7);
    const liar = member(deflateRawSync(data), data, 0xffffffff);
    expect(liar.length).toBeLessThan(50);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => gunzip(liar)).toThrow("gunzip: size mismatch: the data is corrupted");
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 2 ** 20); // not 4 GiB
  });

  it("an honest trailer still gives an exact fit: no spare capacity once the data is within reach of it", () => {
    const data = Uint8Array.from({ length: 3_000_017 }, (_, i) => (i * 7) % 251);
    const out = gunzip(gzipSync(data));
    expect(out.length).toBe(data.length);
    expect(out.buffer.byteLength).toBe(data.length);
    expect(Buffer.compare(Buffer.from(out), Buffer.from(data))).toBe(0);
  });

  it("refuses data past maxBytes (all members together) with a RangeError that says the limit and how to raise it", () => {
    const data = new Uint8Array(300_000).fill(1);
    const gz = gzipSync(data);
    expect(gunzip(gz, { maxBytes: 300_000 }).length).toBe(300_000);
    expect(() => gunzip(gz, { maxBytes: 299_999 })).toThrow(RangeError);
    expect(() => gunzip(gz, { maxBytes: 299_999 })).toThrow(
      "gunzip: the data inflates to more than 299,999 bytes, the limit (maxBytes); pass a larger maxBytes to allow more");
    const two = Buffer.concat([gz, gz]);
    expect(gunzip(two, { maxBytes: 600_000 }).length).toBe(600_000);
    expect(() => gunzip(two, { maxBytes: 599_999 })).toThrow("more than 599,999 bytes");
    expect(() => gunzip(gz, { maxBytes: -1 })).toThrow("gunzip: maxBytes must be a safe integer >= 0, got -1");
  });

  it("stops a bomb at the default limit, 1 GiB (6.8 MB that would inflate to 1.07 GB), fast", () => {
    expect(MAX_BYTES).toBe(2 ** 30);
    const matches = Math.ceil((2 ** 30 + 1) / 258);
    const raw = zeroBomb(matches);
    expect(raw.length).toBeLessThan(7e6);
    const t0 = performance.now();
    expect(() => gunzip(member(raw, new Uint8Array(0)))).toThrow(
      "gunzip: the data inflates to more than 1,073,741,824 bytes (1 GiB), the limit (maxBytes)");
    expect(performance.now() - t0).toBeLessThan(30_000);
    // a smaller limit stops it sooner, with no more memory than the limit
    const before = process.memoryUsage().arrayBuffers;
    expect(() => gunzip(member(raw, new Uint8Array(0)), { maxBytes: 2 ** 20 })).toThrow("more than 1,048,576 bytes (1 MiB)");
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(24 * 2 ** 20);
  });

  it("gunzipHead reads the first bytes without inflating the rest", () => {
    const bomb = member(zeroBomb(1_000_000), new Uint8Array(0)); // 258 MB of zeros
    const before = process.memoryUsage().arrayBuffers;
    const head = gunzipHead(bomb, 36);
    expect(head.length).toBeGreaterThanOrEqual(36);
    expect(head.length).toBeLessThan(2000);
    expect(head.every((v) => v === 0)).toBe(true);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 2 ** 20);
    expect(Array.from(gunzipHead(gzipSync(Uint8Array.of(1, 2, 3)), 36))).toEqual([1, 2, 3]); // shorter than asked
    const two = Buffer.concat([gzipSync(new Uint8Array(0)), gzipSync(Uint8Array.of(4, 5)), gzipSync(Uint8Array.of(6))]);
    expect(Array.from(gunzipHead(two, 36))).toEqual([4, 5, 6]); // across members
  });
});
