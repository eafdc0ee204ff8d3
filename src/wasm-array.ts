// Float32 arrays that live in Wasm memory. A kernel given one reads or writes it where it is, with no copy in or out
// on the calling thread: for a large softmax those copies cost a third as much as the exp, and with threads they are
// the part the workers cannot share. Each WasmArray holds a long-lived block of the arena (Engine.allocBlock) until
// dispose(); its `data` view is remade whenever a memory growth has detached the old one.
import { engine, type Engine } from "./engine.js";

const TOKEN = Symbol("WasmArray");
let pointerOf: (a: WasmArray) => number;

/** The byte ranges [start, end) of the live WasmArrays, in address order (blocks never overlap). */
class Ranges {
  private starts: number[] = [];
  private ends: number[] = [];

  add(start: number, end: number): void {
    const i = this.after(start);
    this.starts.splice(i, 0, start);
    this.ends.splice(i, 0, end);
  }

  remove(start: number): void {
    const i = this.after(start) - 1;
    if (this.starts[i] === start) {
      this.starts.splice(i, 1);
      this.ends.splice(i, 1);
    }
  }

  /** Whether [start, end) lies inside one range. */
  holds(start: number, end: number): boolean {
    const i = this.after(start) - 1;
    return i >= 0 && end <= this.ends[i];
  }

  /** The index of the first range that starts after `at` (binary search). */
  private after(at: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid] <= at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

const live = new Ranges();
/** Each `data` view handed out, and the array it belongs to. */
const owners = new WeakMap<ArrayBufferView, WasmArray>();

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
    this.#view = this.#viewOf(e);
    live.add(ptr, ptr + length * 4);
  }

  static {
    pointerOf = (a) => a.#ptr;
  }

  /** A new view of the floats, remembered as this array's so that it is refused once the array is disposed. */
  #viewOf(e: Engine): Float32Array {
    const v = e.f32(this.#ptr, this.length);
    owners.set(v, this);
    return v;
  }

  /**
   * The floats, as a Float32Array view of Wasm memory: read and write it freely. A call that grows memory detaches
   * older views (their length becomes 0), so read `data` again after calls rather than keeping the view.
   */
  get data(): Float32Array {
    if (this.#e === undefined) throw new Error("softmax-wasm: WasmArray.data was read after dispose()");
    if (this.#view.length !== this.length) this.#view = this.#viewOf(this.#e);
    return this.#view;
  }

  /** Whether dispose() has been called. */
  get disposed(): boolean {
    return this.#e === undefined;
  }

  /** Gives the memory back to the arena; later uses throw. Calling it again does nothing. */
  dispose(): void {
    if (this.#e === undefined) return;
    live.remove(this.#ptr);
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
    if (!Number.isInteger(length) || length < 0 || length > 0x3fffffff) {
      throw new RangeError(`${fn}: lengthOrValues.length must be an integer in [0, 2^30), got ${length}`);
    }
    if (v instanceof BigInt64Array || v instanceof BigUint64Array) {
      throw new TypeError(`${fn}: lengthOrValues must hold numbers, got a ${v.constructor.name} (convert it first)`);
    }
  } else {
    throw new TypeError(`${fn}: lengthOrValues must be a length or an array-like of numbers, got ${
      v instanceof WasmArray ? "a WasmArray (copy its data)" : v === null ? "null" : typeof v}`);
  }
  let ptr: number;
  try {
    ptr = e.allocBlock(length * 4);
  } catch (err) { // the arena's limit (4 GiB, the shared memory's 1 GiB) or the engine's refusal to grow: said as ours
    throw new RangeError(`${fn}: ${length} floats (${length * 4} bytes) do not fit in Wasm memory: ${(err as Error).message}`);
  }
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

/** Whether v's buffer is detached: a view of a Wasm memory from before it grew, or of a buffer transferred away. */
export function isDetached(v: ArrayBufferView): boolean {
  if (v.byteLength !== 0) return false;
  try {
    new Uint8Array(v.buffer, 0, 0); // throws for a detached buffer only
    return false;
  } catch {
    return true;
  }
}

/** The TypeError for a view whose buffer is detached (isDetached), saying why where this engine knows it. */
export function detachedView(e: Engine | undefined, fn: string, name: string, v: ArrayBufferView): TypeError {
  if (e === undefined || e.detached(v)) {
    return new TypeError(`${fn}: ${name} is a view of Wasm memory from before memory grew (it was detached); ` +
      "read the WasmArray's data again after calls that may grow memory");
  }
  return new TypeError(`${fn}: ${name} is a view of a detached buffer (transferred away): it has no data`);
}

/**
 * Where an argument already sits in Wasm memory (a byte offset), or undefined for an ordinary array; the one check of
 * the rules for views of Wasm memory. A WasmArray that was disposed is refused (floats() in checks.ts), and so is a
 * view that is not safe to read or write:
 * - a view from before memory grew: the growth detached it, so it reads as empty (read `data` again);
 * - the `data` of a disposed WasmArray, or any view that does not lie inside one live WasmArray: its memory may now
 *   belong to another array or to a network, and writing it would corrupt them.
 * Take it before the call allocates anything: a growth detaches the view and its offset and length read as 0.
 */
export function residentAt(e: Engine, fn: string, name: string, v: Floats | ArrayBufferView): number | undefined {
  if (v instanceof WasmArray) return pointerOf(v);
  const at = e.offsetOf(v);
  if (at === undefined) {
    if (v.byteLength === 0 && e.detached(v)) throw detachedView(e, fn, name, v);
    return undefined;
  }
  if (owners.get(v)?.disposed) throw new TypeError(`${fn}: ${name} is the data of a WasmArray that was disposed`);
  if (v.byteLength > 0 && !live.holds(at, at + v.byteLength)) {
    throw new TypeError(`${fn}: ${name} is a view of Wasm memory that does not lie inside one live WasmArray ` +
      "(kept after dispose()?); only WasmArrays' data and views into it may be passed");
  }
  return at;
}
