// The scaffold of every call that runs a kernel on the caller's arrays (ops.ts, sample.ts): each operand's place taken
// before anything is allocated (residentAt: a growth of memory detaches views), the inputs placed in Wasm memory (in
// place when resident, else copied into the arena), the output's destination chosen, the result delivered, the
// arena released.
import type { Engine } from "./engine.js";
import { residentAt, type Floats } from "./wasm-array.js";

/** One operand of a call: where it sits when resident (taken before the call allocates: residentAt) and its length. */
export interface Operand { v: Floats; n: number; at: number | undefined }

export function operand(e: Engine, fn: string, name: string, v: Floats, n = v.length): Operand {
  return { v, n, at: residentAt(e, fn, name, v) };
}

/**
 * The scaffold of every kernel call: the inputs placed in Wasm memory (in place when resident, else copied into the
 * arena), the output's destination chosen, `run` given their pointers, the result put into `out` (in place when
 * resident), the arena released. Every operand's place was taken before anything here can grow memory.
 */
export function call<R>(e: Engine, ins: Operand[], out: Operand, run: (p: number[], dst: number) => R, unsafe = -1): R {
  const mark = e.mark();
  try {
    const p: number[] = [];
    for (const o of ins) p.push(o.at ?? e.put(o.v as Float32Array));
    const dst = destination(e, ins, p, out, mark, unsafe);
    const r = run(p, dst);
    if (out.at === undefined) e.get(dst, out.v as Float32Array, out.n);
    else if (out.at !== dst) e.move(dst, out.at, out.n);
    return r;
  } finally {
    e.release(mark);
  }
}

/**
 * Where a kernel writes its output. The kernels may write over any input they read (out = x, the same range), except
 * input `unsafe`, which one reads after writing. A resident `out` is written in place unless it is that input or
 * overlaps an input only in part (two views of one WasmArray a row apart: a row written would be read later); then the
 * kernel writes a copy this call made of an input, else new arena room, and call() moves the result over.
 */
function destination(e: Engine, ins: Operand[], p: number[], out: Operand, mark: number, unsafe: number): number {
  const at = out.at;
  if (at !== undefined) {
    let inPlace = true;
    for (let i = 0; i < ins.length && inPlace; i++) { // each input disjoint from out, or the same range (not `unsafe`)
      inPlace = p[i] + ins[i].n * 4 <= at || at + out.n * 4 <= p[i] || (p[i] === at && i !== unsafe);
    }
    if (inPlace) return at;
  }
  for (let i = 0; i < ins.length; i++) if (i !== unsafe && p[i] >= mark && ins[i].n === out.n) return p[i];
  return e.alloc(out.n * 4);
}

/** Runs `body` with x's place in Wasm memory (in place when resident, else a copy in the arena), then releases the arena. */
export function withInput<R>(e: Engine, fn: string, name: string, x: Floats, body: (px: number) => R): R {
  const { at } = operand(e, fn, name, x);
  const mark = e.mark();
  try {
    return body(at ?? e.put(x as Float32Array));
  } finally {
    e.release(mark);
  }
}
