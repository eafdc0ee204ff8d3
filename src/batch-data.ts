// A network's data in Wasm memory: a call's dataset copied in once (the caller's x and labels, or a view of Wasm memory
// moved within it), the per-batch buffers the passes run in (the workspace), and each batch gathered from the dataset
// into them inside Wasm, so that a batch never crosses the JS boundary.
import type { Engine } from "./engine.js";
import type { Layer, Step } from "./layers.js";
import { residentAt } from "./wasm-array.js";

/** A block of the arena taken for the length of one call. */
export interface Block { ptr: number; bytes: number }

/** Adds a block to the list a call frees in its `finally`, and returns it. */
export function hold<T extends Block>(held: Block[], b: T): T {
  held.push(b);
  return b;
}

/** A call's dataset as the caller passed it: `at` is where x already sits in Wasm memory (a WasmArray's data). */
export interface Source {
  x: Uint8Array | Float32Array; at: number | undefined; bytes: number; sparse: boolean; labels?: Uint8Array | Int32Array;
}

/** A dataset copied into Wasm memory for the length of one call. */
export interface Data extends Block {
  rows: number; pixels: boolean; sparse: boolean; labels: number; labelBytes: number;
}

/** Per-batch buffers, sized for `rows` rows (byte offsets). */
export interface Workspace {
  rows: number; block: number; bytes: number;
  x: number; idx: number; labels: number; target: number; prob: number; norms: number;
  /** Each layer's output buffer and scratch, and where its output is in the current pass (forward fills it). */
  acts: number[]; scratch: number[]; outs: number[];
  delta: [number, number];
}

/** Over 20% zero inputs: the first layer skips them (MNIST's pixels are about 80% zeros). */
export function sparse(x: Uint8Array | Float32Array): boolean {
  const n = x.length;
  // about 4096 samples, 256 below that (a served row of 784 took 3 us to count, as long as its GEMMs); branch-free:
  // on MNIST-like rows a branch per sample is mispredicted one time in five
  const step = Math.max(1, Math.floor(n / (n < 4096 ? 256 : 4096)));
  let zeros = 0;
  for (let i = 0; i < n; i += step) zeros += x[i] === 0 ? 1 : 0;
  return zeros * step > 0.2 * n;
}

/** A network's datasets and batch buffers: its sizes and model fix the workspace's layout. */
export class BatchData {
  /** The workspace, kept until a larger batch or free(). */
  ws: Workspace | undefined;

  constructor(private readonly e: Engine, private readonly sizes: readonly number[],
    private readonly model: readonly Layer[],
    /** The model starts with a dense layer, which can gather its input in its forward pass. */
    private readonly gathersInForward: boolean) {}

  /**
   * Where a call's dataset is, taken before the call allocates anything: a growth of memory detaches a view of it (a
   * WasmArray's data), whose offset and length then read as 0. Labels that are such a view are copied out.
   */
  locate(fn: string, name: string, x: Uint8Array | Float32Array, labels?: Uint8Array | Int32Array): Source {
    const at = residentAt(this.e, fn, name, x);
    return { x, at, bytes: x.byteLength, sparse: sparse(x), labels: labels && this.e.outside(labels) };
  }

  /** Copies a dataset (and its labels) into one Wasm block for this call: a view of Wasm memory is copied within it. */
  upload(src: Source): Data {
    const e = this.e;
    const { x, labels } = src;
    const pixels = x instanceof Uint8Array;
    const rows = src.bytes / (pixels ? 1 : 4) / this.sizes[0];
    const labelBytes = labels ? rows * 4 : 0;
    const dataBytes = Math.ceil(src.bytes / 16) * 16;
    const ptr = e.allocBlock(dataBytes + labelBytes);
    if (src.at === undefined) e.write(ptr, x);
    else e.moveBytes(src.at, ptr, src.bytes);
    if (labels) e.write(ptr + dataBytes, labels instanceof Int32Array ? labels : Int32Array.from(labels));
    return { ptr, bytes: dataBytes + labelBytes, rows, pixels, sparse: src.sparse, labels: ptr + dataBytes, labelBytes };
  }

  /** Runs `body` on the dataset (x, labels) copied into Wasm for it (locate, upload), freed however it ends. */
  withData<T>(fn: string, x: Uint8Array | Float32Array, labels: Uint8Array | Int32Array | undefined,
    body: (data: Data) => T): T {
    const data = this.upload(this.locate(fn, "x", x, labels));
    try {
      return body(data);
    } finally {
      this.e.freeBlock(data.ptr, data.bytes);
    }
  }

  /** A block for one call's scratch (the fit's order, best parameters, augmentation work), freed by the caller. */
  takeBlock(bytes: number): Block {
    return { ptr: this.e.allocBlock(bytes), bytes };
  }

  /** Buffers for batches of up to `rows` rows, kept until a larger batch or free(). */
  workspace(rows: number): Workspace {
    if (this.ws && this.ws.rows >= rows) return this.ws;
    if (this.ws) this.e.freeBlock(this.ws.block, this.ws.bytes);
    const sizes = this.sizes;
    const widest = Math.max(...sizes);
    const classes = sizes.at(-1)!;
    const L = this.model.length;
    const floats = [rows * sizes[0], rows, rows, rows * classes, rows * classes, widest, rows * widest,
      rows * widest, ...this.model.map((layer) => rows * layer.outputs), ...this.model.map((layer) => rows * layer.scratch)];
    const offsets: number[] = [];
    let bytes = 0;
    for (const f of floats) {
      offsets.push(bytes);
      bytes += Math.ceil(f / 4) * 16 + 16; // 16-aligned, with the kernels' 16 bytes of slack
    }
    const block = this.e.allocBlock(bytes);
    const at = (i: number) => block + offsets[i];
    this.writeIdentity(at(1), rows); // idx: rows taken in order, for evaluation passes and gradient()
    this.ws = {
      rows, block, bytes, x: at(0), idx: at(1), labels: at(2), target: at(3), prob: at(4), norms: at(5),
      delta: [at(6), at(7)], acts: this.model.map((_, l) => at(8 + l)), scratch: this.model.map((_, l) => at(8 + L + l)),
      outs: this.model.map(() => 0),
    };
    return this.ws;
  }

  /** Frees the workspace (the network's dispose()). */
  free(): void {
    if (this.ws) this.e.freeBlock(this.ws.block, this.ws.bytes);
    this.ws = undefined;
  }

  /**
   * Gathers rows first + idx[0..B) of the dataset into the batch buffers (x scaled to [0, 1] for pixels, labels as i32).
   * Given the pass's step `s` and a model that starts with a dense layer, x is left to that layer (s.rows), which
   * gathers it in its forward pass's pool job; else s.rows is cleared.
   */
  gather(data: Data, ws: Workspace, idx: number, B: number, first = 0, s?: Step): void {
    const D = this.sizes[0];
    const k = this.e.k;
    if (data.labelBytes) k.gather_rows_f32(data.labels + first * 4, idx, ws.labels, B, 1);
    const src = data.ptr + first * (data.pixels ? D : D * 4), scale = data.pixels ? 1 / 255 : undefined;
    if (s && this.gathersInForward) {
      const r = s.rows ??= { src, idx, scale }; // fit's one step: one object for its batches
      r.src = src;
      r.idx = idx;
      r.scale = scale;
      return;
    }
    if (s) s.rows = undefined;
    if (data.pixels) k.gather_rows_u8(src, idx, ws.x, B, D, 1 / 255);
    else k.gather_rows_f32(src, idx, ws.x, B, D);
  }

  /** Writes 0, 1, ..., n-1 as i32 at ptr: the index list of rows taken in order. */
  writeIdentity(ptr: number, n: number): void {
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    this.e.write(ptr, idx);
  }

  /**
   * One batch of rows of an ordinary array (not a view of Wasm memory) into ws.x: floats copied in; pixels through the
   * arena, scaled to [0, 1] by the same gather as a dataset's, so both paths give the same bits.
   */
  inputRows(ws: Workspace, x: Uint8Array | Float32Array, rows: number): void {
    const e = this.e;
    if (x instanceof Float32Array) return e.write(ws.x, x);
    const mark = e.mark();
    try {
      const p = e.alloc(x.length);
      e.write(p, x);
      e.k.gather_rows_u8(p, ws.idx, ws.x, rows, this.sizes[0], 1 / 255);
    } finally {
      e.release(mark);
    }
  }
}
