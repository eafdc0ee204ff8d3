// ready(): instantiate the Wasm once. Each runtime's entry point (index.ts for Node / Deno / Bun, browser.ts,
// browser-full.ts, workerd.ts, inline.ts) makes its own ready() from this factory with the way its runtime finds the
// .wasm builds: the default SIMD128 one (softmax.wasm), the opt-in relaxed-SIMD one (softmax-relaxed.wasm), and their
// threads builds over shared memory (softmax-threads.wasm, softmax-threads-relaxed.wasm). Only the default build is
// reached statically: the relaxed one and the threads ones (with the pool, src/pool.ts) come through the entry's
// dynamic import(), which bundlers split off into chunks that load only when ready() is asked for them. The browser
// entry and the inline one carry the default build alone (`defaultOnly`), so that bundlers copy no other. All entries
// share this module's one load and src/engine.ts's one engine: an app may take ready() from one entry and the
// kernels from another.
import { Engine, setEngine, type WasmSource } from "./engine.js";
import type { startPool, threadsUnavailable } from "./pool-start.js";
import type { SpawnWorker } from "./threads.js";

let loading: Promise<void> | undefined;

/** What ready() accepts beyond the instantiable sources: a URL (or URL string) to fetch. */
export type ReadySource = WasmSource | URL | string;

/** ready()'s options object, `ready({ relaxed: true })`. */
export interface ReadyOptions {
  /** What to instantiate, as `ready(source)` takes it; default: the entry's own .wasm. Not with `relaxed`. */
  source?: ReadySource;
  /**
   * Load the relaxed-SIMD build (`f32x4.relaxed_madd` in the exp and the dense layers' products) where the engine
   * supports it, else the default build with one console warning. Default false. Its results may differ from the
   * default build's, and between machines, in the last bits. `wasmBuild()` tells which build runs. In a browser
   * bundle it needs ready() from "softmax-wasm/full": the browser entry of "softmax-wasm" has only the default build.
   */
  relaxed?: boolean;
  /**
   * Threads in all (an integer >= 1; default 1): with n > 1, the threads build (softmax-threads.wasm, or with
   * `relaxed` softmax-threads-relaxed.wasm) on a shared memory and n - 1 workers that take a share of each large
   * kernel. Results are bit-identical to the single-threaded build of the same kind for any n. Where shared memory or
   * workers are missing (a page without cross-origin isolation, workerd, the inline entry, and the browser entry of
   * "softmax-wasm": in a browser bundle, import ready from "softmax-wasm/full") ready() warns once and loads the
   * single-threaded build. Not with `source`.
   */
  threads?: number;
}

/** How an entry point finds its builds. */
export interface EntryWasm {
  /** The default build (softmax.wasm). */
  simd: () => WasmSource | Promise<WasmSource>;
  /**
   * The relaxed-SIMD build (softmax-relaxed.wasm), called only for ready({ relaxed: true }) (so its URL or module can
   * sit behind a dynamic import); omitted where the entry carries only the default one.
   */
  relaxed?: () => WasmSource | Promise<WasmSource>;
  /**
   * For an entry that carries only the default build (no `relaxed`, no `threads`): why, and what to import instead,
   * given what was asked for ("the threads builds", "the relaxed-SIMD build" or both), for the one warning that
   * ready({ threads: n > 1 }) or ready({ relaxed: true }) prints before it loads the default build.
   */
  defaultOnly?: (asked: string) => string;
  /**
   * Loads the threads part (a dynamic import of the entry's threads module), called only for ready({ threads: n > 1 });
   * omitted where the entry has none, so that its bundle never contains the pool.
   */
  threads?: () => Promise<ThreadsBuilds>;
  /** Why there are no threads, for the warning when they are asked for. */
  noThreads?: string;
  /** Turns a URL into a source (fetch, or reading a file: URL in Node). */
  fetchUrl?: (url: URL) => WasmSource | Promise<WasmSource>;
}

/** An entry's threads part: the threads builds, how to start a worker, and the pool itself (src/pool-start.ts). */
export interface ThreadsBuilds {
  /** softmax-threads.wasm */
  wasm: () => WasmSource | Promise<WasmSource>;
  /** softmax-threads-relaxed.wasm */
  relaxed?: () => WasmSource | Promise<WasmSource>;
  spawn: SpawnWorker;
  pool: { startPool: typeof startPool; threadsUnavailable: typeof threadsUnavailable };
}

/**
 * The smallest module that uses f32x4.relaxed_madd, 37 bytes, the same bytes binaryen's wasm-as writes for
 *   (module (func (param v128 v128 v128) (result v128)
 *     (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2))))
 * WebAssembly.validate says true only where the engine has relaxed SIMD: Chromium (114+), Deno, Bun, workerd, and
 * Node from 22 (Node 20 only with --experimental-wasm-relaxed-simd).
 */
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic "\0asm", version 1
  0x01, 0x08, // type section (id 1), 8 bytes:
  0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, //   1 type: func, 3 params v128 (0x7b), 1 result v128
  0x03, 0x02, 0x01, 0x00, // function section (id 3), 2 bytes: 1 function, of type 0
  0x0a, 0x0d, // code section (id 10), 13 bytes:
  0x01, 0x0b, 0x00, //   1 body of 11 bytes, 0 local declarations
  0x20, 0x00, 0x20, 0x01, 0x20, 0x02, //   local.get 0, local.get 1, local.get 2
  0xfd, 0x85, 0x02, //   f32x4.relaxed_madd: SIMD prefix 0xfd, opcode 0x105 as unsigned LEB128
  0x0b, //   end
]);

let relaxedSupport: boolean | undefined;

/** Whether this engine runs relaxed SIMD (the probe above validates), asked once. */
export function relaxedSimdSupported(): boolean {
  return (relaxedSupport ??= WebAssembly.validate(RELAXED_PROBE));
}

/** ready()'s argument: a source, or an options object (a plain object that is not a thenable). */
function parseArgument(arg: unknown): { source?: ReadySource; relaxed: boolean; threads: number } {
  if (!isPlainObject(arg)) return { source: arg as ReadySource | undefined, relaxed: false, threads: 1 };
  const known = ["source", "relaxed", "threads"];
  const unknown = Object.keys(arg).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new TypeError(`ready: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `opts.${k}`).join(", ")} ` +
      "(expected one of source, relaxed, threads)");
  }
  const threads = arg.threads === undefined ? 1 : arg.threads;
  if (typeof threads !== "number") throw new TypeError(`ready: opts.threads must be a number, got ${typeof threads}`);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(`ready: opts.threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`);
  }
  if (threads > 1 && arg.source !== undefined) {
    throw new TypeError("ready: opts.threads > 1 cannot go with opts.source (the threads builds are the library's own)");
  }
  const { source, relaxed = false } = arg as { source?: ReadySource; relaxed?: unknown };
  if (typeof relaxed !== "boolean") throw new TypeError(`ready: opts.relaxed must be a boolean, got ${typeof relaxed}`);
  if (relaxed && source !== undefined) {
    throw new TypeError("ready: opts.source cannot go with opts.relaxed: true (pass a relaxed build you host as the " +
      "source alone)");
  }
  return { source, relaxed, threads };
}

const MAX_THREADS = 256;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return (proto === Object.prototype || proto === null) && typeof (v as { then?: unknown }).then !== "function";
}

/**
 * A ready() for one runtime. The instance is made once per loaded copy of the library; later calls return the same
 * promise (their argument ignored, once it has been checked); a failed load can be retried.
 */
export function makeReady(entry: EntryWasm) {
  const fetchUrl = entry.fetchUrl ?? ((url: URL) => fetch(url));

  /**
   * Whether the relaxed build can load: the entry has one (`build`) and the engine runs relaxed SIMD; if not, one
   * warning saying why and what loads instead.
   */
  function relaxedAvailable(call: string, build: unknown, instead: string): boolean {
    const why = build === undefined ? "this entry has no relaxed build"
      : relaxedSimdSupported() ? undefined
      : "this engine does not support relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd)";
    if (why !== undefined) console.warn(`softmax-wasm: ready(${call}): ${why}; loading ${instead}`);
    return why === undefined;
  }

  /** The entry's threads part (loaded now), or why threads cannot run here. */
  async function threadsPart(): Promise<ThreadsBuilds | string> {
    if (entry.threads === undefined) return entry.noThreads ?? "this entry has no threads build";
    let t: ThreadsBuilds;
    try {
      t = await entry.threads();
    } catch (err) {
      return `its threads module could not load (${String(err)})`;
    }
    return t.pool.threadsUnavailable() ?? t;
  }

  return function ready(sourceOrOptions?: ReadySource | ReadyOptions): Promise<void> {
    let opts: { source?: ReadySource; relaxed: boolean; threads: number };
    try {
      opts = parseArgument(sourceOrOptions);
    } catch (err) {
      return Promise.reject(err);
    }
    loading ??= (async () => {
      const { source } = opts;
      let { relaxed, threads } = opts;
      const call = `{ ${threads > 1 ? `threads: ${threads}` : ""}${threads > 1 && relaxed ? ", " : ""}${relaxed ? "relaxed: true" : ""} }`;
      if (entry.defaultOnly !== undefined && (threads > 1 || relaxed)) {
        const asked = threads > 1 && relaxed ? "the threads and relaxed-SIMD builds"
          : threads > 1 ? "the threads builds" : "the relaxed-SIMD build";
        console.warn(`softmax-wasm: ready(${call}): ${entry.defaultOnly(asked)}; loading the default single-threaded build`);
        relaxed = false;
        threads = 1;
      }
      const single = relaxed ? "the single-threaded build" : "the default single-threaded build";
      if (threads > 1) {
        const t = await threadsPart();
        if (typeof t !== "string") {
          if (relaxed) relaxed = relaxedAvailable(call, t.relaxed, "the default SIMD threads build");
          try {
            setEngine(await threaded(t, threads, relaxed));
            return;
          } catch (err) {
            console.warn(`softmax-wasm: ready(${call}): the workers could not start (${String(err)}); loading ${single}`);
          }
        } else {
          console.warn(`softmax-wasm: ready(${call}): ${t}; loading ${single}`);
        }
      }
      let s: WasmSource;
      if (source === undefined) {
        s = await (relaxed && relaxedAvailable(call, entry.relaxed, "the default SIMD build") ? entry.relaxed!() : entry.simd());
      }
      else if (typeof source === "string" || source instanceof URL) s = await fetchUrl(new URL(source, baseUrl()));
      else s = source;
      setEngine(await Engine.create(s));
    })().catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
    return loading;
  };
}

/** A threads build (the relaxed one if `relaxed`) on a shared memory with its pool of n - 1 workers. */
async function threaded(t: ThreadsBuilds, n: number, relaxed: boolean): Promise<Engine> {
  const module = await compile(await (relaxed ? t.relaxed!() : t.wasm()));
  const e = await Engine.createShared(module);
  e.usePool(await t.pool.startPool(e, module, n, t.spawn));
  return e;
}

async function compile(source: WasmSource): Promise<WebAssembly.Module> {
  const s = await source;
  if (s instanceof WebAssembly.Module) return s;
  if (typeof Response !== "undefined" && s instanceof Response) {
    if (!s.ok) throw new Error(`fetching ${s.url || "softmax-threads.wasm"} failed with HTTP ${s.status}`);
    return WebAssembly.compile(await s.arrayBuffer());
  }
  return WebAssembly.compile(s as BufferSource);
}

/** Relative URL strings resolve against the page (or this module where there is no page). */
function baseUrl(): string {
  const loc = (globalThis as { location?: { href?: string } }).location;
  return loc?.href ?? import.meta.url;
}
