// gunzip: RFC 1952 framing around RFC 1951 inflate (after Mark Adler's puff.c), synchronous and free of Node
// built-ins, so gzipped IDX files load the same way in every runtime. Every read is bounds-checked.
import { crc32 } from "./crc32.js";

class Huffman {
  readonly count = new Uint16Array(16); // codes of each length
  readonly symbol: Uint16Array; // symbols ordered by code

  constructor(lengths: Uint8Array) {
    this.symbol = new Uint16Array(lengths.length);
    for (const len of lengths) this.count[len]++;
    const offs = new Uint16Array(16);
    for (let len = 1; len < 15; len++) offs[len + 1] = offs[len] + this.count[len];
    for (let s = 0; s < lengths.length; s++) if (lengths[s] !== 0) this.symbol[offs[lengths[s]]++] = s;
  }
}

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
  4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CLEN_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

let fixed: [Huffman, Huffman] | undefined;

function fixedCodes(): [Huffman, Huffman] {
  const l = new Uint8Array(288);
  l.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
  return [new Huffman(l), new Huffman(new Uint8Array(30).fill(5))];
}

function fail(what: string): never {
  throw new RangeError(`gunzip: ${what}`);
}

class Inflater {
  private bitBuf = 0;
  private bitCnt = 0;
  out: Uint8Array;
  outLen = 0;

  constructor(private readonly src: Uint8Array, public pos: number, sizeHint: number) {
    this.out = new Uint8Array(Math.max(sizeHint, 1024));
  }

  private bits(n: number): number {
    let buf = this.bitBuf;
    while (this.bitCnt < n) {
      if (this.pos >= this.src.length) fail("the compressed data is truncated");
      buf |= this.src[this.pos++] << this.bitCnt;
      this.bitCnt += 8;
    }
    this.bitBuf = buf >>> n;
    this.bitCnt -= n;
    return buf & ((1 << n) - 1);
  }

  private decode(h: Huffman): number {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len < 16; len++) {
      code |= this.bits(1);
      const count = h.count[len];
      if (code - count < first) return h.symbol[index + (code - first)];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    return fail("an invalid Huffman code");
  }

  private room(n: number): void {
    if (this.outLen + n <= this.out.length) return;
    const grown = new Uint8Array(Math.max(this.out.length * 2, this.outLen + n));
    grown.set(this.out.subarray(0, this.outLen));
    this.out = grown;
  }

  private stored(): void {
    this.bitBuf = 0;
    this.bitCnt = 0;
    if (this.pos + 4 > this.src.length) fail("the compressed data is truncated");
    const s = this.src;
    const len = s[this.pos] | (s[this.pos + 1] << 8);
    if ((len ^ (s[this.pos + 2] | (s[this.pos + 3] << 8))) !== 0xffff) fail("a stored block's length check failed");
    this.pos += 4;
    if (this.pos + len > s.length) fail("the compressed data is truncated");
    this.room(len);
    this.out.set(s.subarray(this.pos, this.pos + len), this.outLen);
    this.outLen += len;
    this.pos += len;
  }

  private codes(lit: Huffman, dist: Huffman): void {
    for (;;) {
      let sym = this.decode(lit);
      if (sym < 256) {
        this.room(1);
        this.out[this.outLen++] = sym;
      } else if (sym === 256) {
        return;
      } else {
        sym -= 257;
        if (sym >= 29) fail("an invalid length code");
        const len = LEN_BASE[sym] + this.bits(LEN_EXTRA[sym]);
        const ds = this.decode(dist);
        if (ds >= 30) fail("an invalid distance code");
        const d = DIST_BASE[ds] + this.bits(DIST_EXTRA[ds]);
        if (d > this.outLen) fail("a distance reaches before the start of the data");
        this.room(len);
        const o = this.out;
        for (let i = 0; i < len; i++, this.outLen++) o[this.outLen] = o[this.outLen - d];
      }
    }
  }

  private dynamic(): void {
    const nlen = this.bits(5) + 257;
    const ndist = this.bits(5) + 1;
    const ncode = this.bits(4) + 4;
    if (nlen > 286 || ndist > 30) fail("a block declares too many codes");
    const cl = new Uint8Array(19);
    for (let i = 0; i < ncode; i++) cl[CLEN_ORDER[i]] = this.bits(3);
    const clh = new Huffman(cl);
    const lengths = new Uint8Array(nlen + ndist);
    for (let i = 0; i < nlen + ndist;) {
      const sym = this.decode(clh);
      if (sym < 16) {
        lengths[i++] = sym;
        continue;
      }
      let len = 0;
      let rep: number;
      if (sym === 16) {
        if (i === 0) fail("a repeat with no previous length");
        len = lengths[i - 1];
        rep = 3 + this.bits(2);
      } else if (sym === 17) rep = 3 + this.bits(3);
      else rep = 11 + this.bits(7);
      if (i + rep > nlen + ndist) fail("code lengths run past their count");
      lengths.fill(len, i, i + rep);
      i += rep;
    }
    this.codes(new Huffman(lengths.subarray(0, nlen)), new Huffman(lengths.subarray(nlen)));
  }

  /** Inflates one deflate stream from `pos`; leaves `pos` on the byte after it. */
  run(): void {
    let last: number;
    do {
      last = this.bits(1);
      const type = this.bits(2);
      if (type === 0) this.stored();
      else if (type === 1) this.codes(...(fixed ??= fixedCodes()));
      else if (type === 2) this.dynamic();
      else fail("an invalid block type");
    } while (!last);
    this.bitBuf = 0;
    this.bitCnt = 0;
  }
}

/** True when bytes start with the gzip magic. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The decompressed bytes of a gzip file (every member, concatenated); checks each member's CRC-32 and size. */
export function gunzip(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0) fail("no data");
  const parts: Uint8Array[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (!isGzip(bytes.subarray(pos))) fail("not a gzip member (bad magic)");
    if (pos + 10 > bytes.length) fail("the header is truncated");
    if (bytes[pos + 2] !== 8) fail("unknown compression method");
    const flags = bytes[pos + 3];
    let p = pos + 10;
    if (flags & 4) p += 2 + (bytes[p] | (bytes[p + 1] << 8)); // FEXTRA
    if (flags & 8) while (p < bytes.length && bytes[p++] !== 0); // FNAME
    if (flags & 16) while (p < bytes.length && bytes[p++] !== 0); // FCOMMENT
    if (flags & 2) p += 2; // FHCRC
    if (p >= bytes.length) fail("the header is truncated");
    // the trailer's size (mod 2^32) lets the output be allocated once
    const hint = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4).getUint32(0, true) : 0;
    const inf = new Inflater(bytes, p, hint);
    inf.run();
    if (inf.pos + 8 > bytes.length) fail("the trailer is truncated");
    const dv = new DataView(bytes.buffer, bytes.byteOffset + inf.pos, 8);
    const data = inf.out.subarray(0, inf.outLen);
    if (dv.getUint32(0, true) !== crc32(data)) fail("CRC-32 mismatch: the data is corrupted");
    if (dv.getUint32(4, true) !== (inf.outLen >>> 0)) fail("size mismatch: the data is corrupted");
    parts.push(data);
    pos = inf.pos + 8;
  }
  if (parts.length === 1) return parts[0];
  const all = new Uint8Array(parts.reduce((n, q) => n + q.length, 0));
  let o = 0;
  for (const q of parts) { all.set(q, o); o += q.length; }
  return all;
}
