// gunzip: RFC 1952 framing around RFC 1951 inflate (after Mark Adler's puff.c), synchronous and free of Node
// built-ins, so gzipped IDX files load the same way in every runtime. Every read is bounds-checked.
import { crc32 } from "./crc32.js";

const FAST_BITS = 9; // codes up to this long decode with one table lookup

class Huffman {
  readonly count = new Uint16Array(16); // codes of each length
  readonly symbol: Uint16Array; // symbols ordered by code
  /** The next FAST_BITS input bits (first bit lowest) -> symbol << 4 | code length; 0 for longer or unused codes. */
  readonly fast = new Int32Array(1 << FAST_BITS);

  constructor(lengths: Uint8Array) {
    this.symbol = new Uint16Array(lengths.length);
    for (const len of lengths) this.count[len]++;
    const offs = new Uint16Array(16);
    for (let len = 1; len < 15; len++) offs[len + 1] = offs[len] + this.count[len];
    for (let s = 0; s < lengths.length; s++) if (lengths[s] !== 0) this.symbol[offs[lengths[s]]++] = s;
    // an over-subscribed code has no canonical assignment (an incomplete one does: its gaps fail in decode)
    let left = 1;
    for (let len = 1; len < 16; len++) if ((left = 2 * left - this.count[len]) < 0) fail("an over-subscribed Huffman code");
    // canonical codes in symbol order; deflate sends them first bit first, so the table is indexed bit-reversed
    for (let len = 1, code = 0, index = 0; len <= FAST_BITS; len++, code <<= 1) {
      for (const end = index + this.count[len]; index < end; index++, code++) {
        let r = 0;
        for (let b = 0; b < len; b++) r |= ((code >>> b) & 1) << (len - 1 - b);
        for (let j = r; j < 1 << FAST_BITS; j += 1 << len) this.fast[j] = (this.symbol[index] << 4) | len;
      }
    }
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

/** gunzip's default output limit: generous for a data file, finite against a gzip bomb. */
export const MAX_BYTES = 2 ** 30;
/** The most output allocated before any arrives: a trailer's or header's size is only a hint. */
const FIRST_BYTES = 1 << 20;
/** The output would pass maxBytes (a RangeError, so callers who catch those need nothing new). */
export class OutputLimitError extends RangeError {
  constructor(readonly maxBytes: number) {
    super(`gunzip: the data inflates to more than ${byteCount(maxBytes)}, the limit (maxBytes); ` +
      `pass a larger maxBytes to allow more`);
  }
}

/** Thrown (and caught) to stop gunzipHead once it has its bytes. */
const HEAD_DONE = Symbol("head");

/** "1,073,741,824 bytes (1 GiB)" */
function byteCount(n: number): string {
  const units = n >= 2 ** 30 && n % 2 ** 30 === 0 ? ` (${n / 2 ** 30} GiB)`
    : n >= 2 ** 20 && n % 2 ** 20 === 0 ? ` (${n / 2 ** 20} MiB)` : "";
  return `${n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",")} bytes${units}`;
}

class Inflater {
  private bitBuf = 0;
  private bitCnt = 0;
  out: Uint8Array;
  outLen = 0;
  /** Where the current member's data starts in `out` (a distance may not reach before it). */
  base = 0;
  pos = 0;
  /** min(out.length, stop): below it a write needs no check (room's fast path). */
  private end: number;

  constructor(private readonly src: Uint8Array, private readonly maxBytes: number, private readonly hint: number,
    private readonly stop = Infinity) {
    this.out = new Uint8Array(Math.min(Math.max(hint, 64), FIRST_BYTES, maxBytes));
    this.end = Math.min(this.out.length, stop);
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
    let buf = this.bitBuf;
    let cnt = this.bitCnt;
    const src = this.src;
    // read ahead up to 4 bytes (align gives back what the stream did not use)
    while (cnt <= 24 && this.pos < src.length) {
      buf |= src[this.pos++] << cnt;
      cnt += 8;
    }
    const e = h.fast[buf & ((1 << FAST_BITS) - 1)];
    if (e !== 0 && (e & 15) <= cnt) {
      this.bitBuf = buf >>> (e & 15);
      this.bitCnt = cnt - (e & 15);
      return e >>> 4;
    }
    // a longer code (or the input's last bits): the canonical walk, one bit at a time
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len < 16; len++) {
      if (len > cnt) fail("the compressed data is truncated");
      code |= (buf >>> (len - 1)) & 1;
      const count = h.count[len];
      if (code - count < first) {
        this.bitBuf = buf >>> len;
        this.bitCnt = cnt - len;
        return h.symbol[index + (code - first)];
      }
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    return fail("an invalid Huffman code");
  }

  /** To the next byte boundary: drops the current byte's remaining bits and gives back whole bytes read ahead. */
  private align(): void {
    this.pos -= this.bitCnt >> 3;
    this.bitBuf = 0;
    this.bitCnt = 0;
  }

  /** Makes room for n more output bytes: grows geometrically up to maxBytes (or stops gunzipHead). */
  private room(n: number): void {
    if (this.outLen + n <= this.end) return;
    if (this.outLen >= this.stop) throw HEAD_DONE;
    const need = this.outLen + n;
    if (need > this.out.length) {
      if (need > this.maxBytes) throw new OutputLimitError(this.maxBytes);
      let size = Math.max(need, 2 * this.out.length);
      if (this.hint >= need && this.hint <= 2 * size) size = this.hint; // within reach: believe it, an exact fit
      const grown = new Uint8Array(Math.min(size, this.maxBytes));
      grown.set(this.out.subarray(0, this.outLen));
      this.out = grown;
    }
    this.end = Math.min(this.out.length, this.stop);
  }

  private stored(): void {
    this.align();
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
        if (d > this.outLen - this.base) fail("a distance reaches before the start of the data");
        this.room(len);
        const o = this.out;
        let p = this.outLen;
        if (d === 1) {
          o.fill(o[p - 1], p, p + len); // a run of one byte (the zeros around a digit)
          p += len;
        } else if (len < 32) {
          for (let i = 0; i < len; i++, p++) o[p] = o[p - d];
        } else {
          // long matches by memmove: chunks of at most the distance never overlap, and the copied span doubles
          // each time when the match repeats a short pattern
          const from = p - d;
          for (let left = len; left > 0;) {
            const k = Math.min(left, p - from);
            o.copyWithin(p, from, from + k);
            p += k;
            left -= k;
          }
        }
        this.outLen = p;
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
    this.align();
  }
}

/** True when bytes start with the gzip magic. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export interface GunzipOptions {
  /** The most bytes the data may inflate to (all members together); past it, a RangeError. Default MAX_BYTES. */
  maxBytes?: number;
  /** The expected size, a hint for the first allocation (default: the file's last 4 bytes, the last member's size). */
  sizeHint?: number;
}

/**
 * The decompressed bytes of a gzip file: every member, concatenated, each checked against its CRC-32 and size.
 * Zero bytes after a member are padding (as gzip and Python skip them); any other bytes that are not a member are
 * an error rather than silently dropped. Output grows as it arrives, never past opts.maxBytes.
 */
export function gunzip(bytes: Uint8Array, opts: GunzipOptions = {}): Uint8Array {
  const inf = inflater(bytes, opts, Infinity);
  let member = 0;
  while (inf.pos < bytes.length) {
    if (member > 0 && bytes[inf.pos] === 0) {
      let z = inf.pos;
      while (z < bytes.length && bytes[z] === 0) z++;
      if (z === bytes.length) break; // zero padding to the end
    }
    if (!isGzip(bytes.subarray(inf.pos))) {
      fail(member === 0 ? "not a gzip member (bad magic)" : `${bytes.length - inf.pos} bytes after member ${member} ` +
        `(at offset ${inf.pos}) are not a gzip member (bad magic): trailing garbage or a damaged file`);
    }
    inf.pos = skipHeader(bytes, inf.pos);
    inf.base = inf.outLen;
    inf.run();
    if (inf.pos + 8 > bytes.length) fail("the trailer is truncated");
    const dv = new DataView(bytes.buffer, bytes.byteOffset + inf.pos, 8);
    if (dv.getUint32(0, true) !== crc32(inf.out, inf.base, inf.outLen)) fail("CRC-32 mismatch: the data is corrupted");
    if (dv.getUint32(4, true) !== ((inf.outLen - inf.base) >>> 0)) fail("size mismatch: the data is corrupted");
    inf.pos += 8;
    member++;
  }
  // a lying hint can leave up to half the buffer unused: give it back
  return inf.out.length - inf.outLen > inf.outLen >> 2 ? inf.out.slice(0, inf.outLen) : inf.out.subarray(0, inf.outLen);
}

/**
 * The first bytes of a gzip file's data, at least `n` of them unless the data is shorter, without inflating the rest
 * (nor checking the CRC-32, which needs all of it): a header to look at before committing to the whole.
 */
export function gunzipHead(bytes: Uint8Array, n: number, opts: GunzipOptions = {}): Uint8Array {
  const inf = inflater(bytes, opts, n);
  try {
    while (inf.pos < bytes.length && isGzip(bytes.subarray(inf.pos))) {
      inf.pos = skipHeader(bytes, inf.pos);
      inf.base = inf.outLen;
      inf.run();
      inf.pos += 8;
    }
  } catch (err) {
    if (err !== HEAD_DONE) throw err;
  }
  return inf.out.subarray(0, inf.outLen);
}

function inflater(bytes: Uint8Array, opts: GunzipOptions, stop: number): Inflater {
  const maxBytes = opts.maxBytes ?? MAX_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) fail(`maxBytes must be a safe integer >= 0, got ${maxBytes}`);
  if (bytes.length === 0) fail("no data");
  const hint = opts.sizeHint ??
    (bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4).getUint32(0, true) : 0);
  return new Inflater(bytes, maxBytes, hint, stop);
}

/** The position of a member's deflate data, after its header at `pos`. */
function skipHeader(bytes: Uint8Array, pos: number): number {
  if (pos + 10 > bytes.length) fail("the header is truncated");
  if (bytes[pos + 2] !== 8) fail("unknown compression method");
  const flags = bytes[pos + 3];
  let p = pos + 10;
  if (flags & 4) p += 2 + (bytes[p] | (bytes[p + 1] << 8)); // FEXTRA
  if (flags & 8) while (p < bytes.length && bytes[p++] !== 0); // FNAME
  if (flags & 16) while (p < bytes.length && bytes[p++] !== 0); // FCOMMENT
  if (flags & 2) p += 2; // FHCRC
  if (p >= bytes.length) fail("the header is truncated");
  return p;
}
