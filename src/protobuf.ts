// The protobuf wire format, as much of it as ONNX needs: a writer of varints, length-delimited fields and packed
// floats, and a reader that walks one message's fields with every length checked against what is left (a length
// past the end, an over-long varint, a group or an unknown wire type is a RangeError naming the byte offset).

/** Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 (3 and 4, groups, are refused). */
export type WireType = 0 | 1 | 2 | 5;

const utf8 = new TextEncoder();

/** A growing byte buffer; each message is written into its own and nested as bytes. */
export class Writer {
  private buf = new Uint8Array(256);
  private n = 0;

  private reserve(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }

  /** A non-negative integer up to 2^53 as a base-128 varint. */
  varint(v: number): this {
    this.reserve(10);
    while (v >= 0x80) {
      this.buf[this.n++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.n++] = v;
    return this;
  }

  private tag(field: number, wire: WireType): this {
    return this.varint(field * 8 + wire);
  }

  /** An int32 / int64 / enum field (a negative value as its 10-byte two's complement, as protobuf writes int64). */
  int(field: number, v: number): this {
    if (v < 0) return this.tag(field, 0).negative(v);
    return this.tag(field, 0).varint(v);
  }

  /** A negative int64 as its 10-byte two's-complement varint. */
  private negative(v: number): this {
    const big = BigInt.asUintN(64, BigInt(v));
    this.reserve(10);
    let x = big;
    while (x >= 0x80n) {
      this.buf[this.n++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.n++] = Number(x);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2).varint(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }

  /** A nested message: `fill` writes its fields. */
  message(field: number, fill: (w: Writer) => void): this {
    const w = new Writer();
    fill(w);
    return this.bytes(field, w.finish());
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    this.reserve(4);
    new DataView(this.buf.buffer).setFloat32(this.n, v, true);
    this.n += 4;
    return this;
  }

  /** A packed repeated int64 field. */
  packedInts(field: number, vs: readonly number[]): this {
    const w = new Writer();
    for (const v of vs) w.varint(v);
    return this.bytes(field, w.finish());
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

/** One field as read: its number, wire type, where its value starts, and the value (a number, or the bytes). */
export interface Field {
  field: number;
  wire: WireType;
  at: number;
  /**
   * Varints as signed int64 numbers (exact up to 2^53 in magnitude), fixed32 as its bits (fixed64: the low 32),
   * length-delimited fields as their bytes' offset in the file.
   */
  value: number;
  /** Length-delimited fields' bytes (a view into the message). */
  bytes: Uint8Array;
}

const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * The fields of one message in `buf`, in order. `where` names the message in errors, and `base` is the message's
 * offset in the whole file (errors give file offsets).
 */
export function fields(fn: string, where: string, buf: Uint8Array, base = 0): Field[] {
  const out: Field[] = [];
  let p = 0;
  const fail = (what: string, at: number): never => {
    throw new RangeError(`${fn}: ${what} at byte ${base + at} (in ${where})`);
  };
  /** A varint as a signed int64 (exact up to 2^53 in magnitude): 7 bytes or fewer as numbers, longer ones as BigInt. */
  const varint = (): number => {
    const start = p;
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= buf.length) fail("a varint runs past the end", start);
      const b = buf[p++];
      v += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) {
        if (i < 7) return v;
        let big = 0n;
        for (let j = p - 1; j >= start; j--) big = (big << 7n) | BigInt(buf[j] & 0x7f);
        return Number(BigInt.asIntN(64, big));
      }
    }
    return fail("a varint longer than 10 bytes", start);
  };
  while (p < buf.length) {
    const at = p;
    const key = varint();
    if (key < 0 || key >= 2 ** 32) fail(`a field key of ${key}`, at);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) fail("field number 0", at);
    let value = 0;
    let bytes: Uint8Array = EMPTY;
    if (wire === 0) value = varint();
    else if (wire === 1 || wire === 5) {
      const k = wire === 1 ? 8 : 4;
      if (p + k > buf.length) fail(`a ${k * 8}-bit field runs past the end`, p);
      value = new DataView(buf.buffer, buf.byteOffset + p, k).getUint32(0, true);
      p += k;
    } else if (wire === 2) {
      const len = varint();
      if (len < 0 || len > buf.length - p) fail(`a length of ${len} bytes runs past the end (${buf.length - p} left)`, p);
      bytes = buf.subarray(p, p + len);
      value = base + p; // where the bytes start in the file: the base of a message nested in them
      p += len;
    } else {
      fail(`wire type ${wire} (field ${field}) is not one protobuf uses here (groups and types 6, 7 are refused)`, at);
    }
    out.push({ field, wire: wire as WireType, at: base + at, value, bytes });
  }
  return out;
}
