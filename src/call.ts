// The scaffold of every call that runs a kernel on the caller's arrays (ops.ts, sample.ts): each operand's place taken
// before anything is allocated (residentAt: a growth of memory detaches views), the inputs placed in Wasm memory (in
// place when resident, else copied into the arena), the output's destination chosen, the result delivered, the
// arena released. A small call (softmax of 64 x 10) costs little more than its kernel and its two copies, so the
// scaffold allocates no arrays: every kernel reads at most two float inputs, passed and placed one by one.
import type { Engine } from "./engine.js";
import { residentAt, type Floats } from "./wasm-array.js";

/** One operand of a call: where it sits when resident (taken before the call allocates: residentAt) and its length. */
export interface Operand { v: Floats; n: number; at: number | undefined }

export function operand(e: Engine, fn: string, name: string, v: Floats, n = v.length): Operand {
  // a caller's array seen lately is not resident, for good: residentAt's checks skipped (two operands: 41 -> 17 ns)
  return { v, n, at: e.outsideMemory(v as ArrayBufferView) ? undefined : residentAt(e, fn, name, v) };
}

/**
 * The output operand: `v` the caller's buffer `given`, or (given undefined) an array this call made, which is no view
 * of memory: no check to run.
 */
export function output(e: Engine, fn: string, name: string, given: unknown, v: Floats, n = v.length): Operand {
  return given === undefined ? { v, n, at: undefined } : operand(e, fn, name, v, n);
}

/**
 * The scaffold of every kernel call: the inputs a and b (b may be absent: its pointer is then 0) placed in Wasm memory
 * (in place when resident, else copied into the arena), the output's destination chosen, `run` given their pointers,
 * the result put into `out` (in place when resident), the arena released. Every operand's place was taken before
 * anything here can grow memory. `unsafe` (0 for a, 1 for b) names an input the kernel reads after writing out.
 */
export function call<R>(e: Engine, a: Operand, b: Operand | undefined, out: Operand,
  run: (pa: number, pb: number, dst: number) => R, unsafe = -1): R {
  const mark = e.mark();
  try {
    const pa = place(e, a);
    const pb = b === undefined ? 0 : place(e, b);
    const dst = destination(e, a, pa, b, pb, out, mark, unsafe);
    const r = run(pa, pb, dst);
    if (out.at === undefined) e.get(dst, out.v as Float32Array, out.n);
    else if (out.at !== dst) e.move(dst, out.at, out.n);
    return r;
  } finally {
    e.release(mark);
  }
}

/** An input's place: where it is when resident, else a copy in the arena (it is not a view of memory: no re-check). */
function place(e: Engine, o: Operand): number {
  if (o.at !== undefined) return o.at;
  const p = e.alloc(o.n * 4);
  e.write(p, o.v as Float32Array);
  return p;
}

/**
 * Where a kernel writes its output. The kernels may write over any input they read (out = x, the same range), except
 * input `unsafe`, which one reads after writing. A resident `out` is written in place unless it is that input or
 * overlaps an input only in part (two views of one WasmArray a row apart: a row written would be read later); then the
 * kernel writes a copy this call made of an input, else new arena room, and call() moves the result over.
 */
function destination(e: Engine, a: Operand, pa: number, b: Operand | undefined, pb: number, out: Operand, mark: number,
  unsafe: number): number {
  const at = out.at;
  if (at !== undefined && clear(a, pa, 0, at, out.n, unsafe) && (b === undefined || clear(b, pb, 1, at, out.n, unsafe))) {
    return at;
  }
  if (unsafe !== 0 && pa >= mark && a.n === out.n) return pa;
  if (b !== undefined && unsafe !== 1 && pb >= mark && b.n === out.n) return pb;
  return e.alloc(out.n * 4);
}

/** Whether input i at p is disjoint from out's n floats at `at`, or the same range (and not `unsafe`). */
function clear(o: Operand, p: number, i: number, at: number, n: number, unsafe: number): boolean {
  return p + o.n * 4 <= at || at + n * 4 <= p || (p === at && i !== unsafe);
}

/** Runs `body` with x's place in Wasm memory (in place when resident, else a copy in the arena), then releases the arena. */
export function withInput<R>(e: Engine, fn: string, name: string, x: Floats, body: (px: number) => R): R {
  const o = operand(e, fn, name, x);
  const mark = e.mark();
  try {
    return body(place(e, o));
  } finally {
    e.release(mark);
  }
}
