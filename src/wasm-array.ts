// Float32 arrays that live in Wasm memory. A kernel given one reads or writes it where it is, with no copy in or out
// on the calling thread: for a large softmax those copies cost a third as much as the exp, and with threads they are
// the part the workers cannot share. Each WasmArray holds a long-lived block of the arena (Engine.allocBlock) until
// dispose(); its `data` view is remade whenever a memory growth has detached the old one.
import { engine, type Engine } from "./engine.js";

const TOKEN = Symbol("WasmArray");
let pointerOf: (a: WasmArray) => number;

/** `length` floats in Wasm memory, made by `wasmArray()`; the kernels take it wherever they take a Float32Array. */
export class WasmArray {
  /** The number of floats. */
  readonly length: number;
  #e: Engine | undefined; // undefined once disposed
  #ptr: number;
  #view: Float32Array;

  /** Not for callers: `wasmArray(lengthOrValues)` makes one. */
  constructor(token: typeof TOKEN, e: Engine, ptr: number, length: number) {
    if (token !== TOKEN) throw new TypeError("softmax-wasm: make a WasmArray with wasmArray(length or values)");
    this.#e = e;
    this.#ptr = ptr;
    this.length = length;
    this.#view = e.f32(ptr, length);
  }

  static {
    pointerOf = (a) => a.#ptr;
  }

  /**
   * The floats, as a Float32Array view of Wasm memory: read and write it freely. A call that grows memory detaches
   * older views (their length becomes 0), so read `data` again after calls rather than keeping the view.
   */
  get data(): Float32Array {
    if (this.#e === undefined) throw new Error("softmax-wasm: WasmArray.data was read after dispose()");
    if (this.#view.length !== this.length) this.#view = this.#e.f32(this.#ptr, this.length);
    return this.#view;
  }

  /** Whether dispose() has been called. */
  get disposed(): boolean {
    return this.#e === undefined;
  }

  /** Gives the memory back to the arena; later uses throw. Calling it again does nothing. */
  dispose(): void {
    if (this.#e === undefined) return;
    this.#e.freeBlock(this.#ptr, this.length * 4);
    this.#e = undefined;
    this.#view = new Float32Array(0);
  }
}

// `using a = wasmArray(n)` disposes it at the end of the block where the runtime has Symbol.dispose
const dispose = (Symbol as { dispose?: symbol }).dispose;
if (dispose !== undefined) {
  Object.defineProperty(WasmArray.prototype, dispose, { value: WasmArray.prototype.dispose, configurable: true, writable: true });
}

/**
 * A WasmArray of `length` zeros, or holding a copy of `values` (any array-like of numbers, converted to float32).
 * It stays in Wasm memory until `dispose()`.
 */
export function wasmArray(lengthOrValues: number | ArrayLike<number>): WasmArray {
  const fn = "wasmArray";
  const e = engine(fn);
  const v = lengthOrValues as unknown;
  let length: number;
  if (typeof v === "number") {
    if (!Number.isInteger(v) || v < 0 || v > 0x3fffffff) {
      throw new RangeError(`${fn}: length must be an integer in [0, 2^30), got ${v}`);
    }
    length = v;
  } else if (v !== null && typeof v === "object" && typeof (v as ArrayLike<number>).length === "number" &&
    !(v instanceof WasmArray)) {
    length = (v as ArrayLike<number>).length;
  } else {
    throw new TypeError(`${fn}: lengthOrValues must be a length or an array-like of numbers, got ${
      v instanceof WasmArray ? "a WasmArray (copy its data)" : v === null ? "null" : typeof v}`);
  }
  const ptr = e.allocBlock(length * 4);
  const a = new WasmArray(TOKEN, e, ptr, length);
  if (typeof v === "number") a.data.fill(0); // a freed block keeps its old floats
  else a.data.set(v as ArrayLike<number>);
  return a;
}

/** A Float32Array or a WasmArray: what every kernel takes as a float operand. */
export type Floats = Float32Array | WasmArray;

/** The floats of an operand, readable from JavaScript. */
export function floatsOf(v: Floats): Float32Array {
  return v instanceof WasmArray ? v.data : v;
}

/**
 * Where an operand already sits in Wasm memory (a byte offset): a WasmArray's block, or a Float32Array that is a view
 * of the memory itself (such as a WasmArray's data); undefined for an ordinary array.
 */
export function residentAt(e: Engine, v: Floats): number | undefined {
  return v instanceof Float32Array ? e.offsetOf(v) : pointerOf(v);
}

/** Where a kernel reads an input: in place when it is in Wasm memory, else a copy in the arena (inside a mark). */
export function place(e: Engine, v: Floats): number {
  return residentAt(e, v) ?? e.put(v as Float32Array);
}

/**
 * Where a kernel writes n floats for an output resident at `outAt` (residentAt): there, unless that is the `unsafe`
 * input the kernel reads after it writes; else `input` when that is a copy made by this call (at or above its
 * `mark`, so the call may overwrite it), else new arena room.
 */
export function destination(e: Engine, outAt: number | undefined, n: number, mark: number, input: number,
  unsafe?: number): number {
  if (outAt !== undefined && outAt !== unsafe) return outAt;
  return input >= mark ? input : e.alloc(n * 4);
}

/** Puts the n floats a kernel wrote at ptr into `out` (at `outAt` when resident), unless it wrote them there. */
export function deliver(e: Engine, ptr: number, out: Floats, outAt: number | undefined, n: number): void {
  if (outAt === undefined) e.get(ptr, out as Float32Array, n);
  else if (outAt !== ptr) e.move(ptr, outAt, n);
}
