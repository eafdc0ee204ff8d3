// The Wasm instance and its memory: one environment-neutral core that instantiates from a Module, bytes or a Response,
// and an arena in linear memory. A grown memory detaches every old view (its length becomes 0), so cached views are
// checked before each use and remade after a growth; each call releases what it took, so repeated calls of one shape
// never grow memory. (memory.buffer is a slow accessor in V8: it is read only when a view must be remade.)
import type { Pool } from "./pool.js";
import { serial, type Dispatch } from "./dispatch.js";
import type { WasmMemory, WasmModule } from "./wasm-types.js";


/** The kernels the Wasm module exports (pointers are byte offsets into linear memory). */
export interface Kernels {
  heap_base(): number;
  /** 1 in the relaxed-SIMD build (dist/softmax-relaxed.wasm), 0 in the default SIMD build (dist/softmax.wasm). */
  relaxed_simd(): number;
  softmax_forward(x: number, y: number, rows: number, cols: number, scale: number): void;
  log_softmax_forward(x: number, y: number, rows: number, cols: number, scale: number): void;
  softmax_backward(y: number, dy: number, dx: number, rows: number, cols: number): void;
  log_softmax_backward(logp: number, dy: number, dx: number, rows: number, cols: number): void;
  logits_from_probs(p: number, z: number, rows: number, cols: number): void;
  /** The index of the first p[i] that is negative, +Infinity or NaN, or -1. */
  first_not_probability(p: number, n: number): number;
  cross_entropy_index(logits: number, labels: number, weight: number, grad: number, losses: number, rows: number,
    cols: number, ignoreIndex: number, smoothing: number, wsum: number, scale: number): number;
  cross_entropy_prob(logits: number, target: number, weight: number, grad: number, losses: number, rows: number,
    cols: number, smoothing: number, scale: number): number;
  bce_with_logits(logits: number, target: number, posWeight: number, period: number, grad: number, losses: number,
    n: number, scale: number): number;
  quadratic_cost(a: number, y: number, grad: number, n: number, rows: number): number;
  sigmoid_forward(x: number, y: number, n: number): void;
  relu_forward(x: number, y: number, n: number): void;
  tanh_forward(x: number, y: number, n: number): void;
  activation_backward(a: number, da: number, dz: number, n: number, kind: number): void;
  gemm_forward(x: number, w: number, bias: number, y: number, B: number, I: number, O: number, act: number): void;
  gemm_forward_sparse(x: number, w: number, bias: number, y: number, B: number, I: number, O: number, act: number): void;
  gemm_dw(x: number, dy: number, dw: number, B: number, I: number, O: number, accumulate: number): void;
  gemm_dw_sparse(x: number, dy: number, dw: number, B: number, I: number, O: number, accumulate: number): void;
  gemm_dx(dy: number, w: number, dx: number, B: number, I: number, O: number): void;
  bias_grad(dy: number, db: number, B: number, O: number, accumulate: number): void;
  sgd_update(p: number, g: number, buf: number, n: number, lr: number, momentum: number, nesterov: number,
    wd: number): void;
  adam_update(p: number, g: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number,
    eps: number, wd: number, decoupled: number, bc1: number, bc2: number): void;
  rng_seed(state: number, seed: number): void;
  rng_normal(state: number, y: number, n: number, std: number): void;
  rng_permutation(state: number, p: number, n: number): void;
  gather_rows_u8(src: number, idx: number, y: number, B: number, D: number, scale: number): void;
  gather_rows_f32(src: number, idx: number, y: number, B: number, D: number): void;
  onehot(labels: number, y: number, B: number, C: number): void;
  count_correct(a: number, labels: number, B: number, C: number): number;
  dropout_forward(state: number, x: number, y: number, mask: number, n: number, p: number): void;
  dropout_backward(mask: number, dy: number, dx: number, n: number): void;
  max_norm(w: number, norms: number, I: number, O: number, c: number): void;
  /** Augmentation (assembly/augment.ts): a batch in place from the generator at s; one image with a given transform. */
  augment_batch(s: number, x: number, work: number, B: number, W: number, H: number, shift: number, rotate: number,
    scale: number, alpha: number, sigma: number, r: number): void;
  augment_image(x: number, y: number, work: number, W: number, H: number, dx: number, dy: number, degrees: number,
    factor: number, seed: number, alpha: number, sigma: number, r: number): void;
  elastic_field(seed: number, f: number, work: number, W: number, H: number, alpha: number, sigma: number, r: number): void;
  /** Floats of the work buffer the three above take for W x H images and a Gaussian of radius r. */
  augment_work_floats(W: number, H: number, r: number): number;
  /** cos(x) in f64, the module's own (the same bits in every engine). */
  cos_f64(x: number): number;
  /** One token per row (ids, i32) or the distribution drawn from (probs); -1, or the first row that is not valid. */
  sample_rows(x: number, rows: number, n: number, ids: number, probs: number, scale: number, k: number, p: number,
    minP: number, penalty: number, tokens: number, ntok: number, state: number, work: number): number;
  sample_work_bytes(n: number): number;
  rng_skip(state: number, draws: number): void;
  topk_rows(x: number, rows: number, n: number, k: number, values: number, indices: number, work: number): number;
  argmax_rows(x: number, rows: number, n: number, out: number): number;
}

/**
 * Every kernel's argument count: the runtime form of `Kernels`. Its type makes each count equal the signature's above,
 * and test/exports.test.ts checks it against the exports of every build, so the interface cannot drift from the Wasm.
 */
export const KERNEL_ARITY: { readonly [K in keyof Kernels]: Parameters<Kernels[K]>["length"] } = {
  heap_base: 0, relaxed_simd: 0, softmax_forward: 5, log_softmax_forward: 5, softmax_backward: 5,
  log_softmax_backward: 5, logits_from_probs: 4, first_not_probability: 2, cross_entropy_index: 11,
  cross_entropy_prob: 9, bce_with_logits: 8, quadratic_cost: 5, sigmoid_forward: 3, relu_forward: 3, tanh_forward: 3,
  activation_backward: 5, gemm_forward: 8, gemm_forward_sparse: 8, gemm_dw: 7, gemm_dw_sparse: 7, gemm_dx: 6,
  bias_grad: 5, sgd_update: 8, adam_update: 13, rng_seed: 2, rng_normal: 4, rng_permutation: 3, gather_rows_u8: 6,
  gather_rows_f32: 5, onehot: 4, count_correct: 4, dropout_forward: 6, dropout_backward: 4, max_norm: 5,
  cos_f64: 1, sample_rows: 14, sample_work_bytes: 1, rng_skip: 2, topk_rows: 7, argmax_rows: 4,
  augment_batch: 12, augment_image: 13, elastic_field: 8, augment_work_floats: 3,
};

/**
 * Which build of the module runs: "simd" is the default (SIMD128, the same bits on every engine), "relaxed-simd" the
 * opt-in build whose multiply-adds are f32x4.relaxed_madd (fused where the CPU has FMA; the last bits may differ
 * between machines).
 */
export type WasmBuild = "simd" | "relaxed-simd";

/** What `ready()` can instantiate from. */
/**
 * A compiled module. WebAssembly.Module declares no members, so any object would type-check as one, a mistyped
 * options object too (`ready({ threads: "2" })`): ready()'s option keys are `never` here.
 */
export type CompiledModule = WasmModule & { readonly source?: never; readonly relaxed?: never; readonly threads?: never };
export type WasmSource = CompiledModule | ArrayBuffer | ArrayBufferView | Response | PromiseLike<Response>;


const PAGE = 65536;
/** The threads build's maximumMemory (asconfig.json): 16384 pages, 1 GiB. */
export const SHARED_MAX_PAGES = 16384;
const ALIGN = 16;
const MAX_BYTES = 4 * 1024 * 1024 * 1024; // wasm32 address space
const SLACK = 16; // kernels read and merge whole vectors up to 16 bytes past a buffer's end
const OUTSIDE_BYTES = 65536; // the largest array the engine remembers as outside memory (Engine.out0)

export class Engine {
  /** Next free byte of the arena. */
  private top: number;
  /** Freed long-lived blocks below `top` (ptr, bytes), in address order: first fit, merged with neighbours. */
  private holes: { ptr: number; bytes: number }[] = [];
  /** All of memory as floats and as i32; remade when a growth has detached them. */
  private heap: Float32Array;
  private heapI32: Int32Array;
  /** The memory's current buffer (heap.buffer, kept: reading .buffer costs tens of nanoseconds). */
  private heapBuffer: ArrayBufferLike;
  /** The last copy-out view, reused by calls of the same shape. */
  private view: Float32Array;
  private viewPtr = -1;
  /**
   * Buffers this memory had before it grew. An ordinary memory's old buffer is detached by a growth (its views read as
   * empty): a view into one is refused, not read as an empty array. A shared memory's old buffers stay valid views of
   * the same memory (only shorter), so for it they are recognised as resident.
   */
  private readonly oldBuffers = new WeakSet<ArrayBufferLike>();
  /**
   * The last four small arrays found not to be views of this memory (offsetOf undefined), in turn. A view's buffer
   * never changes and this memory's later buffers are new objects, so the answer holds for good: a caller's arrays
   * passed again skip the .buffer getter, a call into the runtime (about 12 ns, two or three a small call). Plain
   * fields, not a WeakSet: a WeakSet entry for every fresh array made calls on fresh arrays 10-20% slower (its adds and
   * their collection); only arrays up to OUTSIDE_BYTES are kept, so at most 256 KiB of a caller's stays reachable.
   */
  private out0: ArrayBufferView | undefined;
  private out1: ArrayBufferView | undefined;
  private out2: ArrayBufferView | undefined;
  private out3: ArrayBufferView | undefined;
  private outNext = 0;

  /** Which build the module is, as the module itself reports it (so also for a source the caller passed). */
  readonly build: WasmBuild;
  /** The activation codes the kernels take (assembly/act.ts), read from the module's exported enum. */
  readonly act: Readonly<Record<Activation, number>>;
  /** The worker pool of ready({ threads: n }) with n > 1 (src/pool.ts); undefined in the default single thread. */
  pool: Pool | undefined;
  /** Where each kernel that may split runs (dispatch.ts): the pool once usePool() has set one, else this thread. */
  d: Dispatch;

  private constructor(readonly memory: WasmMemory, readonly k: Kernels, private readonly shared = false) {
    this.build = k.relaxed_simd() ? "relaxed-simd" : "simd";
    this.act = activationCodes(k);
    this.d = serial(k);
    this.top = align(k.heap_base());
    this.heap = new Float32Array(memory.buffer);
    this.heapI32 = new Int32Array(memory.buffer);
    this.heapBuffer = this.heap.buffer;
    this.view = this.heap;
  }

  static async create(source: WasmSource): Promise<Engine> {
    // The memory is ours (imported), so a shared memory for workers later is a change of this one line.
    const memory = new WebAssembly.Memory({ initial: 16 });
    const imports = { env: { memory } };
    const instance = await instantiate(await source, imports);
    return new Engine(memory, instance.exports as unknown as Kernels);
  }

  /**
   * The threads build (dist/softmax-threads.wasm) over a shared memory (16 pages growing to at most 1 GiB, the
   * maximum the build declares); `module` is compiled already so the workers instantiate the same one.
   */
  static async createShared(module: WasmModule): Promise<Engine> {
    const memory = new WebAssembly.Memory({ initial: 16, maximum: SHARED_MAX_PAGES, shared: true });
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    return new Engine(memory, instance.exports as unknown as Kernels, true);
  }

  /** From now on the kernels that may split run on `pool` (ready({ threads: n > 1 })). */
  usePool(pool: Pool): void {
    this.pool = pool;
    this.d = pool;
  }

  /** Takes `bytes` (16-aligned) from the arena, growing memory if it must. Invalidates every view. */
  alloc(bytes: number): number {
    byteCount(bytes);
    const ptr = this.top;
    const end = align(ptr + bytes + SLACK);
    if (end > MAX_BYTES) throw new RangeError(`softmax-wasm: ${end} bytes exceed the 4 GiB of Wasm memory`);
    if (this.shared && end > SHARED_MAX_PAGES * PAGE) {
      throw new RangeError(`softmax-wasm: ${end} bytes exceed the 1 GiB of the threads build's shared memory`);
    }
    const have = this.floats().length * 4;
    if (end > have) {
      this.oldBuffers.add(this.heapBuffer);
      this.memory.grow(Math.ceil((end - have) / PAGE));
      // a shared memory's buffer is never detached, it only stays at its old length: remake the views
      if (this.shared) this.heap = new Float32Array(0);
    }
    this.top = end;
    return ptr;
  }

  /**
   * Allocates room for `src` and copies it in. A view of this memory is located before the allocation (which may grow
   * memory and detach it) and copied within memory.
   */
  put(src: Float32Array): number {
    const at = this.offsetOf(src);
    const n = src.length;
    const ptr = this.alloc(n * 4);
    if (at === undefined) this.floats().set(src, ptr >>> 2);
    else this.moveBytes(at, ptr, n * 4);
    return ptr;
  }

  /** Allocates room for integer labels and copies them in as i32. */
  putI32(src: Int32Array | Uint8Array | Uint16Array): number {
    src = this.outside(src);
    const ptr = this.alloc(src.length * 4);
    this.floats();
    this.heapI32.set(src, ptr >>> 2);
    return ptr;
  }

  /** Copies `n` floats at `ptr` into `dst`. */
  get(ptr: number, dst: Float32Array, n: number): void {
    if (n === 0) return;
    if (ptr !== this.viewPtr || this.view.length !== n) {
      this.view = this.floats().subarray(ptr >>> 2, (ptr >>> 2) + n);
      this.viewPtr = ptr;
    }
    dst.set(this.view);
  }

  /** The byte offset of a typed array that is a view of this memory (a WasmArray's data), else undefined. */
  offsetOf(v: ArrayBufferView): number | undefined {
    if (this.outsideMemory(v)) return undefined;
    const buffer = v.buffer;
    if (buffer === this.heapBuffer) return v.byteOffset;
    if (this.heap.length === 0) {
      this.floats(); // a growth detached the cached views: compare with the memory's buffer now
      if (buffer === this.heapBuffer) return v.byteOffset;
    }
    if (this.shared && this.oldBuffers.has(buffer)) return v.byteOffset;
    const bytes = v.byteLength; // 0 for a view of a buffer a growth detached: not remembered, residentAt refuses it
    if (bytes > 0 && bytes <= OUTSIDE_BYTES) {
      const i = this.outNext;
      this.outNext = (i + 1) & 3;
      if (i === 0) this.out0 = v;
      else if (i === 1) this.out1 = v;
      else if (i === 2) this.out2 = v;
      else this.out3 = v;
    }
    return undefined;
  }

  /** Whether offsetOf found v not to be a view of this memory lately (for good: see out0). */
  outsideMemory(v: ArrayBufferView): boolean {
    return v === this.out0 || v === this.out1 || v === this.out2 || v === this.out3;
  }

  /** Whether v is a view of this memory's buffer from before a growth detached it (so it reads as empty). */
  detached(v: ArrayBufferView): boolean {
    return !this.shared && this.oldBuffers.has(v.buffer);
  }

  /**
   * `v` itself, or a copy when it is a view of this memory: a growth during the call would detach such a view, so an
   * argument that is read after anything is allocated (weights, labels) is taken out of memory first.
   */
  outside<T extends Float32Array | Int32Array | Uint8Array | Uint16Array>(v: T): T {
    return this.offsetOf(v) === undefined ? v : v.slice() as T;
  }

  /** Copies n floats from one place in memory to another (the ranges may overlap). */
  move(from: number, to: number, n: number): void {
    this.floats().copyWithin(to >>> 2, from >>> 2, (from >>> 2) + n);
  }

  /** Copies n bytes from one place in memory to another (the ranges may overlap). */
  moveBytes(from: number, to: number, n: number): void {
    new Uint8Array(this.floats().buffer).copyWithin(to, from, from + n);
  }

  /** A view of n floats at ptr: valid until the next alloc. */
  f32(ptr: number, n: number): Float32Array {
    return this.floats().subarray(ptr >>> 2, (ptr >>> 2) + n);
  }

  /** The whole-memory view, remade if a growth detached it. */
  private floats(): Float32Array {
    if (this.heap.length === 0) {
      this.heap = new Float32Array(this.memory.buffer);
      this.heapI32 = new Int32Array(this.memory.buffer);
      this.heapBuffer = this.heap.buffer;
      this.viewPtr = -1;
    }
    return this.heap;
  }

  /** Scratch for one synchronous call: everything allocated after mark() is released by release(mark). */
  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    this.top = mark;
  }

  /**
   * A long-lived block (a network's parameters, a dataset) that outlives calls, freed with freeBlock in any order.
   * Only between calls: never while a mark is open.
   */
  allocBlock(bytes: number): number {
    byteCount(bytes);
    const size = align(bytes + SLACK);
    const i = this.holes.findIndex((h) => h.bytes >= size);
    if (i < 0) return this.alloc(bytes);
    const h = this.holes[i];
    if (h.bytes === size) this.holes.splice(i, 1);
    else this.holes[i] = { ptr: h.ptr + size, bytes: h.bytes - size };
    return h.ptr;
  }

  freeBlock(ptr: number, bytes: number): void {
    byteCount(bytes);
    let hole = { ptr, bytes: align(bytes + SLACK) };
    let i = this.holes.findIndex((h) => h.ptr > ptr);
    if (i < 0) i = this.holes.length;
    const next = this.holes[i];
    if (next && hole.ptr + hole.bytes === next.ptr) {
      hole = { ptr, bytes: hole.bytes + next.bytes };
      this.holes.splice(i, 1);
    }
    const prev = this.holes[i - 1];
    if (prev && prev.ptr + prev.bytes === hole.ptr) {
      hole = { ptr: prev.ptr, bytes: prev.bytes + hole.bytes };
      this.holes.splice(--i, 1);
    }
    if (hole.ptr + hole.bytes === this.top) this.top = hole.ptr; // the arena shrinks back over a freed top block
    else this.holes.splice(i, 0, hole);
  }

  /** Copies `src` to ptr (room already allocated). */
  write(ptr: number, src: Float32Array | Int32Array | Uint8Array): void {
    const heap = this.floats();
    if (src instanceof Float32Array) heap.set(src, ptr >>> 2);
    else if (src instanceof Int32Array) this.heapI32.set(src, ptr >>> 2);
    else new Uint8Array(heap.buffer, ptr, src.length).set(src);
  }

  /** Bytes at ptr, copied out. */
  bytes(ptr: number, n: number): Uint8Array {
    return new Uint8Array(this.floats().buffer, ptr, n).slice();
  }
}

/**
 * The arena's own check of a size: a NaN, negative or fractional count would move the arena's top to an address that
 * later blocks share (every later allocation landing at 0, or over a live network's weights).
 */
function byteCount(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new RangeError(`softmax-wasm: cannot allocate ${bytes} bytes (expected a whole number >= 0)`);
  }
}

/** What a dense layer can fuse into its output: the module's enum Act, by name. */
export type Activation = "none" | "relu" | "sigmoid" | "tanh";

/** The values of the module's exported enum (globals "Act.None", "Act.Relu", ...), by name. */
export function activationCodes(exports: object): Record<Activation, number> {
  const code = (name: string): number => {
    const g = (exports as Record<string, unknown>)[`Act.${name}`];
    if (!(g instanceof WebAssembly.Global)) throw new Error(`softmax-wasm: the module does not export Act.${name}`);
    return g.value as number;
  };
  return { none: code("None"), relu: code("Relu"), sigmoid: code("Sigmoid"), tanh: code("Tanh") };
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN; // not bit operations: offsets may pass 2^31
}

async function instantiate(source: WebAssembly.Module | ArrayBuffer | ArrayBufferView | Response,
  imports: WebAssembly.Imports): Promise<WebAssembly.Instance> {
  if (source instanceof WebAssembly.Module) return WebAssembly.instantiate(source, imports);
  if (typeof Response !== "undefined" && source instanceof Response) {
    if (!source.ok) throw new Error(`softmax-wasm: fetching ${source.url || "the .wasm"} failed with HTTP ${source.status}`);
    if (typeof WebAssembly.instantiateStreaming === "function" &&
      source.headers.get("content-type")?.startsWith("application/wasm")) {
      return (await WebAssembly.instantiateStreaming(source, imports)).instance;
    }
    return (await WebAssembly.instantiate(await source.arrayBuffer(), imports)).instance;
  }
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    return (await WebAssembly.instantiate(source as BufferSource, imports)).instance;
  }
  const got = source === null ? "null" : typeof source === "object" ? (source as object).constructor?.name ?? "an object"
    : typeof source;
  throw new TypeError("softmax-wasm: ready(source) takes a WebAssembly.Module, bytes (an ArrayBuffer or a view), a " +
    `Response, a URL or a URL string, or options ({ threads, relaxed, source }); got ${got}`);
}

let current: Engine | undefined;

/** The loaded engine; a clear Error naming the caller before `ready()` has resolved. */
export function engine(fn: string): Engine {
  if (current === undefined) throw new Error(`softmax-wasm: ${fn}() was called before ready() resolved; await ready() first`);
  return current;
}

/** The loaded engine, or undefined before ready() (for a message that needs it only if it is there). */
export function currentEngine(): Engine | undefined {
  return current;
}

export function setEngine(e: Engine): void {
  current = e;
}

/** Which build ready() loaded ("simd", or "relaxed-simd" after ready({ relaxed: true }) where supported); undefined before. */
export function wasmBuild(): WasmBuild | undefined {
  return current?.build;
}

/** The Wasm memory, or undefined before ready(). */
export function wasmMemory(): WasmMemory | undefined {
  return current?.memory;
}
