// MNIST's IDX files (Yann LeCun's format: magic 0x00 0x00 type ndims, big-endian u32 dims, then the data),
// plain or gzipped. parseIdx runs anywhere; loadMnist (mnist-files.ts) reads files and so needs Node, Deno or Bun.
import { options } from "./checks.js";
import { gunzip, gunzipHead, isGzip, MAX_BYTES, OutputLimitError } from "./inflate.js";

const TYPES: Record<number, string> = {
  0x08: "unsigned byte", 0x09: "signed byte", 0x0b: "int16", 0x0c: "int32", 0x0d: "float32", 0x0e: "float64",
};
/** The most dims parseIdx reads (MNIST has 1 and 3; IDX datasets use at most 4). */
const MAX_DIMS = 8;

function bytesText(n: number): string {
  return `${n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",")} bytes`;
}

/**
 * The dims and bytes of an IDX file of unsigned bytes (MNIST's images and labels); gzip is undone first.
 * opts.maxBytes (default 1 GiB) bounds the data: dims declaring more are refused before anything is allocated,
 * and a gzipped file is never inflated past it.
 */
export function parseIdx(bytes: Uint8Array, opts?: { maxBytes?: number }): { dims: number[]; data: Uint8Array } {
  const fn = "parseIdx";
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${fn}: bytes must be a Uint8Array`);
  const o = options(fn, opts, ["maxBytes"] as const);
  const maxBytes = o.maxBytes ?? MAX_BYTES;
  if (typeof maxBytes !== "number") throw new TypeError(`${fn}: opts.maxBytes must be a number, got ${typeof maxBytes}`);
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new RangeError(`${fn}: opts.maxBytes must be a positive safe integer (a byte count), got ${maxBytes}`);
  }
  if (isGzip(bytes)) {
    try {
      // the header first, from the first few inflated bytes: a foreign or oversized file fails before the rest
      // is inflated, and a good one tells the exact size to expect
      const head = header(fn, gunzipHead(bytes, 4 + 4 * MAX_DIMS), maxBytes, false);
      const expected = head ? head.start + head.size : 4 + 4 * MAX_DIMS + maxBytes;
      try {
        bytes = gunzip(bytes, { maxBytes: expected, sizeHint: head ? expected : undefined });
      } catch (err) {
        if (!(err instanceof OutputLimitError) || !head) throw err;
        throw new RangeError(`${fn}: dims [${head.dims.join(", ")}] need ${bytesText(head.size)} of data, the ` +
          `gzipped file has more`);
      }
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("gunzip:")) {
        throw new RangeError(`${fn}: ${err.message}`, { cause: err });
      }
      throw err;
    }
  }
  const { dims, start, size } = header(fn, bytes, maxBytes, true)!;
  if (bytes.length - start !== size) {
    throw new RangeError(`${fn}: dims [${dims.join(", ")}] need ${bytesText(size)} of data, the file has ` +
      `${bytes.length - start}${bytes.length - start < size ? " (truncated)" : ""}`);
  }
  return { dims, data: bytes.subarray(start) };
}

/**
 * The header's dims, its length and the data's size, checked against maxBytes; undefined when `complete` is false
 * and bytes (the start of a file) end before the header does.
 */
function header(fn: string, bytes: Uint8Array, maxBytes: number, complete: boolean):
  { dims: number[]; start: number; size: number } | undefined {
  if (bytes.length < 4 && !complete) return undefined;
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0 || !(bytes[2] in TYPES)) {
    throw new RangeError(`${fn}: bytes are not an IDX file (expected the magic 0x00 0x00 <type> <ndims>)`);
  }
  if (bytes[2] !== 0x08) {
    throw new RangeError(`${fn}: IDX data of type ${TYPES[bytes[2]]} is not supported (expected unsigned bytes, 0x08)`);
  }
  const ndims = bytes[3];
  if (ndims === 0) throw new RangeError(`${fn}: an IDX file must have at least one dimension`);
  if (ndims > MAX_DIMS) throw new RangeError(`${fn}: the header declares ${ndims} dims, more than the ${MAX_DIMS} it reads`);
  const start = 4 + 4 * ndims;
  if (bytes.length < start) {
    if (!complete) return undefined;
    throw new RangeError(`${fn}: truncated header (${bytes.length} bytes for ${ndims} dims)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, start);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i));
  // the product, checked against the limit as it grows, so it is exact whenever it is used
  let size = dims.includes(0) ? 0 : 1;
  for (let i = 0; i < ndims && size > 0; i++) {
    size *= dims[i];
    if (size > maxBytes) {
      throw new RangeError(`${fn}: dims [${dims.join(", ")}] declare more than opts.maxBytes (${bytesText(maxBytes)}) ` +
        `of data; pass a larger maxBytes to read it`);
    }
  }
  return { dims, start, size };
}

export interface MnistSplit { images: Uint8Array; labels: Uint8Array; count: number }

