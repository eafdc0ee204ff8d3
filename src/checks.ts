// Argument checks, each in one place. Every public function runs them before any pointer reaches Wasm:
// a TypeError for a wrong type, a RangeError for a wrong value, the message naming the argument.
// The checks on a small call's path keep their throws in functions of their own (bad*): V8 inlines a function by its
// bytecode size, within a budget per caller, and a message built inline tripled a check's size, so the budget of a
// public kernel (softmax: six checks) ran out before the call scaffold itself was inlined.

import { detachedView, isDetached, WasmArray, type Floats } from "./wasm-array.js";
import { currentEngine } from "./engine.js";

export type Reduction = "mean" | "sum" | "none";

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "undefined") return String(v);
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  if (Array.isArray(v)) return "an Array";
  return typeof v === "object" ? (v.constructor?.name ?? "an object") : typeof v;
}

export function float32Array(fn: string, name: string, v: unknown): Float32Array {
  if (!(v instanceof Float32Array)) throw new TypeError(`${fn}: ${name} must be a Float32Array, got ${describe(v)}`);
  return attached(fn, name, v);
}

/**
 * A typed array whose buffer is attached: a view of Wasm memory from before a growth (or of a buffer transferred away)
 * reads as empty, and is refused by name here, before a length check would blame its length.
 */
export function attached<T extends ArrayBufferView>(fn: string, name: string, v: T): T {
  if (v.byteLength === 0 && isDetached(v)) throw detachedView(currentEngine(), fn, name, v);
  return v;
}

/** A float operand: a Float32Array, or a WasmArray that is not disposed. */
export function floats(fn: string, name: string, v: unknown): Floats {
  if (v instanceof Float32Array) return attached(fn, name, v);
  if (!(v instanceof WasmArray) || v.disposed) badFloats(fn, name, v);
  return v;
}

function badFloats(fn: string, name: string, v: unknown): never {
  if (v instanceof WasmArray) throw new TypeError(`${fn}: ${name} is a WasmArray that was disposed`);
  throw new TypeError(`${fn}: ${name} must be a Float32Array or a WasmArray, got ${describe(v)}`);
}

/** `cols` as a positive integer. */
export function columns(fn: string, cols: unknown): number {
  if (typeof cols !== "number" || !Number.isInteger(cols) || cols < 1 || cols > 0x7fffffff) badColumns(fn, cols);
  return cols;
}

function badColumns(fn: string, cols: unknown): never {
  if (typeof cols !== "number") throw new TypeError(`${fn}: cols must be a number, got ${describe(cols)}`);
  throw new RangeError(`${fn}: cols must be a positive integer, got ${cols}`);
}

/** The row count of `x` (rows x cols, row-major). */
export function rowsOf(fn: string, name: string, x: Floats, cols: number): number {
  const n = x.length;
  if (n % cols !== 0) badRows(fn, name, n, cols);
  return n / cols;
}

function badRows(fn: string, name: string, n: number, cols: number): never {
  throw new RangeError(`${fn}: ${name}.length (${n}) must be a multiple of cols (${cols})`);
}

export function sameLength(fn: string, name: string, v: Floats, expected: number, of: string): void {
  if (v.length !== expected) badLength(fn, name, v.length, expected, of);
}

function badLength(fn: string, name: string, n: number, expected: number, of: string): never {
  throw new RangeError(`${fn}: ${name}.length (${n}) must equal ${of} (${expected})`);
}

/**
 * The options object with no unknown keys (a misspelt option is an error, not a silent default); undefined gives {}.
 * `name` is what errors call it: the call's opts, or a nested option's path (opts.schedule).
 */
export function options<K extends string>(fn: string, opts: unknown, allowed: readonly K[], name = "opts"):
  Partial<Record<K, unknown>> {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) badOptions(fn, name, opts);
  for (const key in opts) if (!(allowed as readonly string[]).includes(key)) unknownOption(fn, name, key, allowed);
  return opts as Partial<Record<K, unknown>>;
}

function badOptions(fn: string, name: string, opts: unknown): never {
  throw new TypeError(`${fn}: ${name} must be an object, got ${describe(opts)}`);
}

function unknownOption(fn: string, name: string, key: string, allowed: readonly string[]): never {
  throw new TypeError(`${fn}: unknown option ${name}.${key} (expected one of ${allowed.join(", ")})`);
}

/** A caller's output buffer (filled and returned: a Float32Array or a WasmArray), or a new Float32Array. */
export function outBuffer(fn: string, name: string, v: unknown, length: number): Floats {
  if (v === undefined) return new Float32Array(length);
  const out = floats(fn, name, v);
  if (out.length < length) shortOut(fn, name, out.length, length);
  return out;
}

function shortOut(fn: string, name: string, n: number, length: number): never {
  throw new RangeError(`${fn}: ${name}.length (${n}) must be at least ${length}`);
}

/** 1 / temperature, kept finite. */
export function temperatureScale(fn: string, t: unknown): number {
  if (t === undefined) return 1;
  if (typeof t !== "number" || !(t > 0) || t === Infinity) badTemperature(fn, t);
  return Math.min(1 / t, 3.4028234663852886e38);
}

function badTemperature(fn: string, t: unknown): never {
  if (typeof t !== "number") throw new TypeError(`${fn}: opts.temperature must be a number, got ${describe(t)}`);
  throw new RangeError(`${fn}: opts.temperature must be a positive finite number, got ${t}`);
}

export function reduction(fn: string, v: unknown): Reduction {
  if (v === undefined) return "mean";
  if (v !== "mean" && v !== "sum" && v !== "none") badReduction(fn, v);
  return v;
}

function badReduction(fn: string, v: unknown): never {
  if (typeof v !== "string") throw new TypeError(`${fn}: opts.reduction must be a string, got ${describe(v)}`);
  throw new RangeError(`${fn}: opts.reduction must be 'mean', 'sum' or 'none', got ${describe(v)}`);
}

export function integer(fn: string, name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) badInteger(fn, name, v);
  return v;
}

function badInteger(fn: string, name: string, v: unknown): never {
  if (typeof v !== "number") throw new TypeError(`${fn}: ${name} must be a number, got ${describe(v)}`);
  throw new RangeError(`${fn}: ${name} must be a 32-bit integer, got ${v}`);
}

export function unitInterval(fn: string, name: string, v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== "number" || !(v >= 0 && v <= 1)) badUnit(fn, name, v);
  return v;
}

function badUnit(fn: string, name: string, v: unknown): never {
  if (typeof v !== "number") throw new TypeError(`${fn}: ${name} must be a number, got ${describe(v)}`);
  throw new RangeError(`${fn}: ${name} must be in [0, 1], got ${v}`);
}

/** Integer class labels: one of the typed arrays that hold only integers. */
export type Labels = Int32Array | Uint8Array | Uint16Array;

export function isLabels(v: unknown): v is Labels {
  return v instanceof Int32Array || v instanceof Uint8Array || v instanceof Uint16Array;
}

/**
 * Checks every label against [0, cols) or ignoreIndex; returns the summed weight of the counted rows
 * (their count without weights): the denominator of a mean.
 */
export function labelWeight(fn: string, labels: Labels, cols: number, ignoreIndex: number,
  weight: Float32Array | undefined): number {
  if (weight === undefined) return labelCount(fn, labels, cols, ignoreIndex);
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y === ignoreIndex) continue;
    if (!(y >= 0 && y < cols)) badLabel(fn, i, y, cols, ignoreIndex);
    total += weight === undefined ? 1 : weight[y];
  }
  return total;
}

/**
 * labelWeight without class weights: the rows not ignored. Its own loop, with no weight to read and one unsigned
 * compare for the range (a negative y is above 2^31 as y >>> 0): 64 labels checked in 0.063 us, not 0.080.
 */
function labelCount(fn: string, labels: Labels, cols: number, ignoreIndex: number): number {
  let ignored = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y === ignoreIndex) ignored++;
    else if (!(y >>> 0 < cols)) badLabel(fn, i, y, cols, ignoreIndex);
  }
  return labels.length - ignored;
}

// out of labelWeight's loop, so the loop stays small enough to optimize well
function badLabel(fn: string, i: number, y: number, cols: number, ignoreIndex: number): never {
  throw new RangeError(`${fn}: target[${i}] = ${y} must be a class in [0, ${cols}) or ignoreIndex (${ignoreIndex})`);
}

/**
 * Probabilities for the inverse softmax must be finite and not negative. `firstBad` finds the first that is not, or
 * -1: for data already in Wasm memory the kernel first_not_probability (a SIMD pass), else a loop here, so a bad
 * array is refused before it is copied in.
 */
export function probabilities(fn: string, name: string, p: Float32Array, firstBad?: () => number): void {
  let bad = -1;
  if (firstBad !== undefined) bad = firstBad();
  else for (let i = 0; i < p.length && bad < 0; i++) if (!(p[i] >= 0 && p[i] !== Infinity)) bad = i;
  if (bad >= 0) throw new RangeError(`${fn}: ${name}[${bad}] = ${p[bad]} must be a finite probability >= 0`);
}

/** A finite number > 0 (a learning rate, a temperature). */
export function positive(fn: string, name: string, v: unknown): number {
  if (typeof v !== "number") throw new TypeError(`${fn}: ${name} must be a number, got ${describe(v)}`);
  if (!(v > 0) || v === Infinity) throw new RangeError(`${fn}: ${name} must be a positive finite number, got ${v}`);
  return v;
}

// The optimizer's scalars reach the kernels as float32: below its smallest normal number a rate is flushed to zero or
// loses its precision, above its largest it becomes Infinity (and the weights NaN). The CLI's flags use the same bounds.
export const F32_MIN_NORMAL = 2 ** -126;
export const F32_MAX = 3.4028234663852886e38;

/** v (already a finite number >= 0) as the float32 kernels will see it: 0 or normal, and finite; else a RangeError. */
export function float32Scalar(fn: string, name: string, v: number): number {
  if (v > F32_MAX) throw new RangeError(`${fn}: ${name} (${v}) is past float32's largest number (3.4e38), which the kernels use`);
  if (v !== 0 && v < F32_MIN_NORMAL) {
    throw new RangeError(`${fn}: ${name} (${v}) is below float32's smallest normal number (1.2e-38), which the kernels ` +
      `use: it would be flushed to 0 or lose its precision`);
  }
  return v;
}

/** A finite number >= 0, or the fallback when undefined. */
export function nonNegative(fn: string, name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number") throw new TypeError(`${fn}: ${name} must be a number, got ${describe(v)}`);
  if (!(v >= 0) || v === Infinity) throw new RangeError(`${fn}: ${name} must be a finite number >= 0, got ${v}`);
  return v;
}

/** A number in [0, 1), or the fallback when undefined (momentum, Adam's betas). */
export function fraction(fn: string, name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number") throw new TypeError(`${fn}: ${name} must be a number, got ${describe(v)}`);
  if (!(v >= 0 && v < 1)) throw new RangeError(`${fn}: ${name} must be in [0, 1), got ${v}`);
  return v;
}

/** An integer >= min, or the fallback when undefined. */
export function atLeast(fn: string, name: string, v: unknown, min: number, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "number") throw new TypeError(`${fn}: ${name} must be a number, got ${describe(v)}`);
  if (!Number.isInteger(v) || v < min || v > 0x7fffffff) {
    throw new RangeError(`${fn}: ${name} must be an integer >= ${min}, got ${v}`);
  }
  return v;
}

/** One of the allowed strings, or the fallback when undefined. */
export function oneOf<T extends string>(fn: string, name: string, v: unknown, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (typeof v !== "string") throw new TypeError(`${fn}: ${name} must be a string, got ${describe(v)}`);
  if (!(allowed as readonly string[]).includes(v)) {
    throw new RangeError(`${fn}: ${name} must be ${allowed.map((a) => `'${a}'`).join(" or ")}, got ${describe(v)}`);
  }
  return v as T;
}

export function boolean(fn: string, name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") throw new TypeError(`${fn}: ${name} must be a boolean, got ${describe(v)}`);
  return v;
}

/**
 * A network's input data as a typed array: pixels (Uint8Array, read as /255) or floats (a Float32Array, or a WasmArray:
 * its data, in place).
 */
export function inputData(fn: string, name: string, x: unknown): Uint8Array | Float32Array {
  if (x instanceof WasmArray) {
    if (x.disposed) throw new TypeError(`${fn}: ${name} is a WasmArray that was disposed`);
    return x.data;
  }
  if (!(x instanceof Uint8Array) && !(x instanceof Float32Array)) {
    throw new TypeError(`${fn}: ${name} must be a Uint8Array (pixels 0..255), a Float32Array or a WasmArray, got ${describe(x)}`);
  }
  return attached(fn, name, x);
}

/** Network inputs: rows x features as pixels (Uint8Array, read as /255) or floats (inputData); returns the row count. */
export function inputs(fn: string, name: string, v: unknown, features: number): number {
  const x = inputData(fn, name, v);
  if (x.length % features !== 0) {
    throw new RangeError(`${fn}: ${name}.length (${x.length}) must be a multiple of the input size (${features})`);
  }
  return x.length / features;
}

/** Class labels for `rows` rows, each in [0, classes). */
export function classLabels(fn: string, name: string, y: unknown, rows: number, classes: number): Uint8Array | Int32Array {
  if (!(y instanceof Uint8Array) && !(y instanceof Int32Array)) {
    throw new TypeError(`${fn}: ${name} must be a Uint8Array or an Int32Array of class indices, got ${describe(y)}`);
  }
  attached(fn, name, y);
  if (y.length !== rows) throw new RangeError(`${fn}: ${name}.length (${y.length}) must equal the row count (${rows})`);
  for (let i = 0; i < y.length; i++) {
    if (!(y[i] >= 0 && y[i] < classes)) throw new RangeError(`${fn}: ${name}[${i}] = ${y[i]} must be a class in [0, ${classes})`);
  }
  return y;
}
