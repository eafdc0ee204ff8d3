// MNIST's IDX files (Yann LeCun's format: magic 0x00 0x00 type ndims, big-endian u32 dims, then the data),
// plain or gzipped. parseIdx runs anywhere; loadMnist (mnist-files.ts) reads files and so needs Node, Deno or Bun.
import { gunzip, isGzip } from "./inflate.js";

const TYPES: Record<number, string> = {
  0x08: "unsigned byte", 0x09: "signed byte", 0x0b: "int16", 0x0c: "int32", 0x0d: "float32", 0x0e: "float64",
};

/** The dims and bytes of an IDX file of unsigned bytes (MNIST's images and labels); gzip is undone first. */
export function parseIdx(bytes: Uint8Array): { dims: number[]; data: Uint8Array } {
  const fn = "parseIdx";
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${fn}: bytes must be a Uint8Array`);
  if (isGzip(bytes)) bytes = gunzip(bytes);
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0 || !(bytes[2] in TYPES)) {
    throw new RangeError(`${fn}: bytes are not an IDX file (expected the magic 0x00 0x00 <type> <ndims>)`);
  }
  if (bytes[2] !== 0x08) {
    throw new RangeError(`${fn}: IDX data of type ${TYPES[bytes[2]]} is not supported (expected unsigned bytes, 0x08)`);
  }
  const ndims = bytes[3];
  if (ndims === 0) throw new RangeError(`${fn}: an IDX file must have at least one dimension`);
  const header = 4 + 4 * ndims;
  if (bytes.length < header) throw new RangeError(`${fn}: truncated header (${bytes.length} bytes for ${ndims} dims)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, header);
  const dims: number[] = [];
  let size = 1;
  for (let i = 0; i < ndims; i++) {
    dims.push(view.getUint32(4 + 4 * i));
    size *= dims[i];
  }
  if (bytes.length - header !== size) {
    throw new RangeError(`${fn}: dims [${dims.join(", ")}] need ${size} bytes of data, the file has ${bytes.length - header}` +
      (bytes.length - header < size ? " (truncated)" : ""));
  }
  return { dims, data: bytes.subarray(header) };
}

export interface MnistSplit { images: Uint8Array; labels: Uint8Array; count: number }

