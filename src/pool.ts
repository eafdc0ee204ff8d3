// Each kernel's split over the pool (pool-jobs.ts runs the shares), the Dispatch that ready({ threads: n }) installs.
//
// Every split gives each output element to exactly one thread and computes it with the same kernel code, over the
// same column tiles and the same order of its sums, as the single-threaded call: results are bit-identical to the
// default build for any thread count. GEMM forward and dX split by output rows (B), dW by input-feature rows (I, the
// batch reduction inside one thread), optimizer steps by parameters, softmax / log-softmax / cross-entropy by rows
// (in multiples of 8 below 32 classes: a narrow cross-entropy's loss is summed by groups of 4 rows); a cross-entropy's
// total is summed afterwards in row order.
import type { Dispatch, ParamStep, Rows } from "./dispatch.js";
import { JobPool } from "./pool-jobs.js";
import { JOB_FNS } from "./threads.js";

/** Splits [0, n) into `parts` ranges of whole `unit`s (the last takes the rest); empty ranges are dropped. */
export function split(n: number, parts: number, unit: number): [number, number][] {
  const chunk = Math.ceil(n / parts / unit) * unit;
  const out: [number, number][] = [];
  for (let a = 0; a < n; a += chunk) out.push([a, Math.min(n, a + chunk)]);
  return out;
}

/**
 * Rows narrower than this (assembly/softmax.ts NARROW) go 4 at a time as columns. Each row's bits are the same in any
 * group, but a narrow cross-entropy's total adds its losses by groups of 4 rows: splits keep multiples of 8 rows so
 * every share's groups are one call's; wider rows split one by one.
 */
const NARROW = 32;
const rowUnit = (cols: number): number => (cols < NARROW ? 8 : 1);

/** The greatest common divisor of two positive integers. */
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Below these sizes a call runs whole on the calling thread (the same kernel: the same bits). */
const MIN_FLOPS = 1 << 18;
const MIN_ELEMS = 1 << 14;
/** A dense forward pass packs W first from this many rows of X and weights of W (the packing pays for itself). */
const PACK_MIN_ROWS = 32;
const PACK_MIN_WEIGHTS = 1 << 18;

/** The pool: each kernel split into one share a thread, each share run the single-threaded way (the same bits). */
export class Pool extends JobPool implements Dispatch {
  /**
   * Whether a dense product whose output has `cols` columns and B rows splits by columns (gemm-cols.ts): where W is
   * larger than the batch's operand (cols >= B), so each thread reads and packs only its share of W, and every share
   * has a panel (16 columns) or more. Measured at [64,784]x[784,800] and [256,1024]x[1024,1024] on 2 threads: split by
   * rows, every thread packed all of W and the second thread added 1.3-1.6x.
   */
  private byColumns(cols: number, B: number): boolean {
    return cols >= B && cols >= 16 * this.size;
  }

  /**
   * How a forward pass of B rows over W (I, O) runs: whole on this thread (too small), split by columns (byColumns),
   * W packed first and then split by rows (large dense layers), or split by rows; the zero-skipping kernel (`sparse`)
   * always by rows. The one place gemm_forward and gather_forward decide it.
   */
  private forwardSplit(B: number, I: number, O: number, sparse: boolean): "whole" | "columns" | "packed" | "rows" {
    if (2 * B * I * O < MIN_FLOPS || B < 4) return "whole";
    if (sparse) return "rows";
    if (this.byColumns(O, B)) return "columns";
    return B >= PACK_MIN_ROWS && I * O >= PACK_MIN_WEIGHTS ? "packed" : "rows";
  }

  /**
   * Y = act(X W + bias), split by columns of W and Y where W is the larger operand (byColumns), else by rows of X and
   * Y; the zero-skipping kernel where X is mostly zeros (`sparse`, by rows).
   */
  gemm_forward(x: number, w: number, bias: number, y: number, B: number, I: number, O: number, act: number,
    sparse = false): void {
    const fn = sparse ? "gemm_forward_sparse" : "gemm_forward";
    const how = this.forwardSplit(B, I, O, sparse);
    if (how === "whole") {
      this.k[fn](x, w, bias, y, B, I, O, act);
      return;
    }
    if (how === "columns") {
      this.run("gemm_forward_cols", split(O, this.size, 16).map(([a, b]) => [x, w, bias, y, B, I, O, act, a, b]));
      return;
    }
    if (how === "packed") {
      // large dense layers: W packed into 16-column panels first (split by panels), then the rows
      const mark = this.e.mark();
      try {
        const panels = Math.ceil(O / 16);
        const packed = this.e.alloc(panels * I * 64);
        this.run("gemm_pack_b", split(panels, this.size, 1).map(([a, b]) => [w, packed, I, O, a, b]));
        this.run("gemm_forward_packed", split(B, this.size, 2).map(([a, b]) =>
          [x + a * I * 4, packed, bias, y + a * O * 4, b - a, I, O, act]));
      } finally {
        this.e.release(mark);
      }
      return;
    }
    this.run(fn, split(B, this.size, 2).map(([a, b]) => [x + a * I * 4, w, bias, y + a * O * 4, b - a, I, O, act]));
  }

  /**
   * The batch's rows gathered into X, then Y = act(X W + bias), as one job a thread split by rows: each thread gathers
   * the rows of X it then multiplies (the gather is element-wise: the same bits). Where gemm_forward would not split by
   * rows alone (too small, W packed first, or split by columns), the gather runs here and then gemm_forward.
   */
  gather_forward(rows: Rows, x: number, w: number, bias: number, y: number, B: number, I: number, O: number, act: number,
    sparse = false): void {
    // dispatch.ts's gatherRows, spelled out (this module imports no other of ours at run time)
    const gather = (a: number, b: number): number[] => rows.scale === undefined
      ? [JOB_FNS.indexOf("gather_rows_f32"), 5, rows.src, rows.idx + a * 4, x + a * I * 4, b - a, I]
      : [JOB_FNS.indexOf("gather_rows_u8"), 6, rows.src, rows.idx + a * 4, x + a * I * 4, b - a, I, rows.scale];
    if (this.forwardSplit(B, I, O, sparse) !== "rows") {
      if (rows.scale === undefined) this.k.gather_rows_f32(rows.src, rows.idx, x, B, I);
      else this.k.gather_rows_u8(rows.src, rows.idx, x, B, I, rows.scale);
      this.gemm_forward(x, w, bias, y, B, I, O, act, sparse);
      return;
    }
    const fwd = JOB_FNS.indexOf(sparse ? "gemm_forward_sparse" : "gemm_forward");
    this.run("pair", split(B, this.size, 2).map(([a, b]) =>
      [...gather(a, b), fwd, 8, x + a * I * 4, w, bias, y + a * O * 4, b - a, I, O, act]));
  }

  /** dW (+)= X^T dY, split by rows of dW (input features), each summing over the whole batch. */
  gemm_dw(x: number, dy: number, dw: number, B: number, I: number, O: number, accumulate: number, sparse = false): void {
    if (2 * B * I * O < MIN_FLOPS || I < 4) {
      (sparse ? this.k.gemm_dw_sparse : this.k.gemm_dw)(x, dy, dw, B, I, O, accumulate);
      return;
    }
    this.run(sparse ? "gemm_dw_sparse_rows" : "gemm_dw_rows",
      split(I, this.size, 2).map(([a, b]) => [x, dy, dw, B, I, O, accumulate, a, b]));
  }

  /**
   * dX = dY W^T, split by columns of dX (input features: each thread packs W^T's panels from its own rows of W) where W
   * is the larger operand (byColumns), else by rows of dY and dX (each thread packs every panel of W^T from W itself,
   * gemm.ts): either way no serial transpose first.
   */
  gemm_dx(dy: number, w: number, dx: number, B: number, I: number, O: number): void {
    if (2 * B * I * O < MIN_FLOPS || B < 4) {
      this.k.gemm_dx(dy, w, dx, B, I, O);
      return;
    }
    if (this.byColumns(I, B)) {
      this.run("gemm_dx_cols", split(I, this.size, 16).map(([a, b]) => [dy, w, dx, B, I, O, a, b]));
      return;
    }
    this.run("gemm_dx", split(B, this.size, 2).map(([a, b]) => [dy + a * O * 4, w, dx + a * I * 4, b - a, I, O]));
  }

  /**
   * A dense layer's dW = X^T dY and dX = dY W^T as one job a thread: its rows of dW (input features) and then, as
   * gemm_dx splits, the same features' columns of dX (byColumns: both read only those rows of W) or its rows of dX;
   * separate calls when too small to split.
   */
  gemm_dw_dx(x: number, dy: number, w: number, dw: number, dx: number, B: number, I: number, O: number,
    sparse = false): void {
    const cols = B >= 4 && this.byColumns(I, B);
    const features = split(I, this.size, cols ? 16 : 2), rows = split(B, this.size, 2);
    if (2 * B * I * O < MIN_FLOPS || features.length !== this.size || rows.length !== this.size) {
      this.gemm_dw(x, dy, dw, B, I, O, 0, sparse);
      this.gemm_dx(dy, w, dx, B, I, O);
      return;
    }
    const dwFn = JOB_FNS.indexOf(sparse ? "gemm_dw_sparse_rows" : "gemm_dw_rows");
    const dxFn = JOB_FNS.indexOf(cols ? "gemm_dx_cols" : "gemm_dx");
    this.run("pair", features.map(([a, b], t) => {
      if (cols) return [dwFn, 9, x, dy, dw, B, I, O, 0, a, b, dxFn, 8, dy, w, dx, B, I, O, a, b];
      const [c, d] = rows[t];
      return [dwFn, 9, x, dy, dw, B, I, O, 0, a, b, dxFn, 6, dy + c * O * 4, w, dx + c * I * 4, d - c, I, O];
    }));
  }

  /**
   * dW = X^T dY and then an optimizer step over W from it as one job a thread: its rows of dW (input features), then
   * the step over the same rows of W (element-wise: the same bits as one call over all of W); rows start at multiples
   * of 16 weights, as the optimizers' own splits do. Separate calls when too small to split.
   */
  gemm_dw_step(x: number, dy: number, dw: number, B: number, I: number, O: number, sparse: boolean, step: ParamStep): void {
    const rows = split(I, this.size, Math.max(2, 16 / gcd(O, 16)));
    if (2 * B * I * O < MIN_FLOPS || rows.length !== this.size) {
      this.gemm_dw(x, dy, dw, B, I, O, 0, sparse);
      // dispatch.ts's paramStep on this pool's own steps: that module is not imported here at run time (a bundle
      // copies thread-worker.js and threads.js alone)
      const [p, [s1, s2], h] = [step.p, step.state, step.hyper];
      if (step.fn === "sgd_update") this.sgd_update(p, dw, s1, I * O, h[0], h[1], h[2], h[3]);
      else this.adam_update(p, dw, s1, s2, I * O, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
      return;
    }
    const dwFn = JOB_FNS.indexOf(sparse ? "gemm_dw_sparse_rows" : "gemm_dw_rows"), stepFn = JOB_FNS.indexOf(step.fn);
    this.run("pair", rows.map(([a, b]) => {
      const at = a * O * 4;
      const args = [step.p + at, dw + at, ...step.state.map((s) => s + at), (b - a) * O, ...step.hyper];
      return [dwFn, 9, x, dy, dw, B, I, O, 0, a, b, stepFn, args.length, ...args];
    }));
  }

  softmax_forward(x: number, y: number, rows: number, cols: number, scale: number): void {
    this.softmaxRows(false, x, y, rows, cols, scale);
  }

  log_softmax_forward(x: number, y: number, rows: number, cols: number, scale: number): void {
    this.softmaxRows(true, x, y, rows, cols, scale);
  }

  /** Softmax or log-softmax of rows, split by rows (narrow ones in multiples of 8), or fewer long rows each in segments. */
  private softmaxRows(log: boolean, x: number, y: number, rows: number, cols: number, scale: number): void {
    const fn = log ? "log_softmax_forward" : "softmax_forward";
    if (rows < this.size && cols >= MIN_ELEMS) {
      for (let r = 0; r < rows; r++) this.softmaxLongRow(log, x + r * cols * 4, y + r * cols * 4, cols, scale);
      return;
    }
    if (rows * cols < MIN_ELEMS || rows < 2) {
      this.k[fn](x, y, rows, cols, scale);
      return;
    }
    this.run(fn, split(rows, this.size, rowUnit(cols)).map(([a, b]) => [x + a * cols * 4, y + a * cols * 4, b - a, cols, scale]));
  }

  /** cross_entropy_index split by rows (narrow ones in multiples of 8); the total summed in row order as one call does. */
  cross_entropy_index(logits: number, labels: number, weight: number, grad: number, losses: number, rows: number,
    cols: number, ignoreIndex: number, smoothing: number, wsum: number, scale: number): number {
    if (rows < this.size && cols >= MIN_ELEMS) { // fewer long rows than threads: each row in segments
      let total = 0;
      for (let r = 0; r < rows; r++) {
        const o = r * cols * 4;
        total += this.crossEntropyLongRow(logits + o, labels + r * 4, weight, grad + o, losses === 0 ? 0 : losses + r * 4,
          cols, ignoreIndex, smoothing, wsum, scale);
      }
      return total;
    }
    if (rows * cols < MIN_ELEMS || rows < 2) {
      return this.k.cross_entropy_index(logits, labels, weight, grad, losses, rows, cols, ignoreIndex, smoothing, wsum, scale);
    }
    const parts = this.e.alloc(rows * 8); // inside the caller's mark, released with it
    const ranges = split(rows, this.size, rowUnit(cols));
    const counts = this.run("cross_entropy_index_parts", ranges.map(([a, b]) => {
      const o = a * cols * 4;
      return [logits + o, labels + a * 4, weight, grad + o, losses === 0 ? 0 : losses + a * 4, b - a, cols, ignoreIndex,
        smoothing, wsum, scale, parts + a * 8];
    }));
    const f = new Float64Array(this.e.memory.buffer, parts, rows);
    let total = 0;
    ranges.forEach(([a], t) => {
      for (let g = 0; g < counts[t]; g++) total += f[a + g];
    });
    return total;
  }

  /** cross_entropy_prob split by rows (fewer long rows than threads: in segments); losses added in row order. */
  cross_entropy_prob(logits: number, target: number, weight: number, grad: number, losses: number, rows: number,
    cols: number, smoothing: number, scale: number): number {
    if (rows < this.size && cols >= MIN_ELEMS) {
      let total = 0;
      for (let r = 0; r < rows; r++) {
        const o = r * cols * 4;
        total += this.crossEntropyProbLongRow(logits + o, target + o, weight, grad + o, losses === 0 ? 0 : losses + r * 4,
          cols, smoothing, scale);
      }
      return total;
    }
    if (rows * cols < MIN_ELEMS || rows < 2) {
      return this.k.cross_entropy_prob(logits, target, weight, grad, losses, rows, cols, smoothing, scale);
    }
    const parts = this.e.alloc(rows * 8); // inside the caller's mark, released with it
    this.run("cross_entropy_prob_parts", split(rows, this.size, 1).map(([a, b]) => {
      const o = a * cols * 4;
      return [logits + o, target + o, weight, grad + o, losses === 0 ? 0 : losses + a * 4, b - a, cols, smoothing, scale,
        parts + a * 8];
    }));
    return this.sumParts(parts, rows);
  }

  /**
   * bce_with_logits split at its block boundaries (`period` elements with pos weights, which then start every share on
   * a row, else the sum block); the block sums are added here in order, as the single call adds them.
   */
  bce_with_logits(logits: number, target: number, posWeight: number, period: number, grad: number, losses: number, n: number,
    scale: number): number {
    const step = posWeight === 0 ? this.block : period;
    const blocks = Math.ceil(n / step);
    if (n < MIN_ELEMS || blocks < 2) return this.k.bce_with_logits(logits, target, posWeight, period, grad, losses, n, scale);
    const parts = this.e.alloc(blocks * 8);
    this.run("bce_with_logits_parts", split(blocks, this.size, 1).map(([a, b]) => {
      const o = a * step * 4;
      return [logits + o, target + o, posWeight, period, grad + o, losses === 0 ? 0 : losses + o,
        Math.min(n, b * step) - a * step, scale, parts + a * 8];
    }));
    return this.sumParts(parts, blocks);
  }

  /** The quadratic cost split at sum-block boundaries; block sums added in order, then / (2 rows) as the single call. */
  quadratic_cost(a: number, y: number, grad: number, n: number, rows: number): number {
    const blocks = Math.ceil(n / this.block);
    if (n < MIN_ELEMS || blocks < 2) return this.k.quadratic_cost(a, y, grad, n, rows);
    const parts = this.e.alloc(blocks * 8);
    this.run("quadratic_cost_parts", split(blocks, this.size, 1).map(([s, t]) => {
      const o = s * this.block * 4;
      return [a + o, y + o, grad + o, Math.min(n, t * this.block) - s * this.block, rows, parts + s * 8];
    }));
    return this.sumParts(parts, blocks) / (2 * rows);
  }

  softmax_backward(y: number, dy: number, dx: number, rows: number, cols: number): void {
    this.backwardRows(false, y, dy, dx, rows, cols);
  }

  log_softmax_backward(logp: number, dy: number, dx: number, rows: number, cols: number): void {
    this.backwardRows(true, logp, dy, dx, rows, cols);
  }

  /** softmax_backward or log_softmax_backward, split by rows. */
  private backwardRows(log: boolean, y: number, dy: number, dx: number, rows: number, cols: number): void {
    const fn = log ? "log_softmax_backward" : "softmax_backward";
    if (rows * cols < MIN_ELEMS || rows < 2) {
      this.k[fn](y, dy, dx, rows, cols);
      return;
    }
    this.run(fn, split(rows, this.size, 1).map(([a, b]) => {
      const o = a * cols * 4;
      return [y + o, dy + o, dx + o, b - a, cols];
    }));
  }

  /** The inverse softmax, split by rows. */
  logits_from_probs(p: number, z: number, rows: number, cols: number): void {
    if (rows * cols < MIN_ELEMS || rows < 2) {
      this.k.logits_from_probs(p, z, rows, cols);
      return;
    }
    this.run("logits_from_probs", split(rows, this.size, 1).map(([a, b]) => [p + a * cols * 4, z + a * cols * 4, b - a, cols]));
  }

  /** The sigmoid of n elements, split in multiples of 4. */
  sigmoid_forward(x: number, y: number, n: number): void {
    if (n < MIN_ELEMS) {
      this.k.sigmoid_forward(x, y, n);
      return;
    }
    this.run("sigmoid_forward", split(n, this.size, 4).map(([a, b]) => [x + a * 4, y + a * 4, b - a]));
  }

  /**
   * One long row split into segments of whole sum blocks, in the single-thread kernel's three passes: the segments'
   * maxes (their max is the row's: max is exact in any order), their block sums (added here in order), the scaling.
   */
  private softmaxLongRow(log: boolean, x: number, y: number, n: number, scale: number): void {
    const { blocks, segments } = this.rowSegments(n);
    const job = (pass: number, max: number, sum: number, parts: number) => segments.map(([k, a, b]) =>
      [x + a * 4, y + a * 4, b - a, scale, log ? 1 : 0, pass, max, sum, parts === 0 ? 0 : parts + k * 8]);
    const max = maxOf(this.run("softmax_row_part", job(0, 0, 0, 0)));
    const parts = this.e.alloc(blocks * 8); // inside the caller's mark, released with it
    this.run("softmax_row_part", job(1, max, 0, parts));
    this.run("softmax_row_part", job(2, max, this.sumParts(parts, blocks), 0));
  }

  /**
   * One long row's cross-entropy split into segments of whole sum blocks, in the single-thread kernel's passes: the
   * segments' maxes, their blocks' smoothing terms and exp-sums (added here in order), the scaling and the loss.
   */
  private crossEntropyLongRow(z: number, label: number, weight: number, g: number, loss: number, n: number,
    ignoreIndex: number, smoothing: number, wsum: number, scale: number): number {
    const i32 = new Int32Array(this.e.memory.buffer);
    const f32 = new Float32Array(this.e.memory.buffer);
    const y = i32[label >>> 2];
    if (y === ignoreIndex) { // a zero gradient and loss: the kernel's own path
      return this.k.cross_entropy_index(z, label, weight, g, loss, 1, n, ignoreIndex, smoothing, wsum, scale);
    }
    const zy = f32[(z >>> 2) + y]; // read before pass 1 writes g, which may be z
    const wy = weight === 0 ? 1 : f32[(weight >>> 2) + y];
    const { blocks, segments } = this.rowSegments(n);
    const parts = this.e.alloc(blocks * 16); // inside the caller's mark, released with it
    const job = (pass: number, m: number, sum: number, d: number) => segments.map(([k, a, b]) =>
      [z + a * 4, g + a * 4, b - a, weight === 0 ? 0 : weight + a * 4, y - a, wy, n, smoothing, wsum, scale, pass, m,
        zy, sum, d, parts + k * 16]);
    const m = maxOf(this.run("cross_entropy_row_part", job(0, 0, 0, 0)));
    this.run("cross_entropy_row_part", job(1, m, 0, 0));
    const f = new Float64Array(this.e.memory.buffer, parts, blocks * 2);
    let d = 0;
    let sum = 0;
    for (let k = 0; k < blocks; k++) {
      d += f[2 * k];
      sum += f[2 * k + 1];
    }
    const total = this.run("cross_entropy_row_part", job(2, m, sum, d))[0];
    if (loss !== 0) f32[loss >>> 2] = total;
    return total;
  }

  /** One long row's cross-entropy against probabilities in segments, as crossEntropyLongRow. */
  private crossEntropyProbLongRow(z: number, q: number, weight: number, g: number, loss: number, n: number,
    smoothing: number, scale: number): number {
    const { blocks, segments } = this.rowSegments(n);
    const parts = this.e.alloc(blocks * 24); // inside the caller's mark, released with it
    const job = (pass: number, m: number, tsum: number, sum: number, d: number) => segments.map(([k, a, b]) =>
      [z + a * 4, q + a * 4, weight === 0 ? 0 : weight + a * 4, g + a * 4, b - a, n, smoothing, scale, pass, m, tsum,
        sum, d, parts + k * 24]);
    const m = maxOf(this.run("cross_entropy_prob_row_part", job(0, 0, 0, 0, 0)));
    this.run("cross_entropy_prob_row_part", job(1, m, 0, 0, 0));
    const f = new Float64Array(this.e.memory.buffer, parts, blocks * 3);
    let d = 0;
    let tsum = 0;
    let sum = 0;
    for (let k = 0; k < blocks; k++) {
      d += f[3 * k];
      tsum += f[3 * k + 1];
      sum += f[3 * k + 2];
    }
    const total = this.run("cross_entropy_prob_row_part", job(2, m, tsum, sum, d))[0];
    if (loss !== 0) new Float32Array(this.e.memory.buffer)[loss >>> 2] = total;
    return total;
  }

  /** A long row of n floats as segments [block index, start, end) of whole sum blocks, one a thread. */
  private rowSegments(n: number): { blocks: number; segments: number[][] } {
    const blocks = Math.ceil(n / this.block);
    return { blocks, segments: split(blocks, this.size, 1).map(([a, b]) => [a, a * this.block, Math.min(n, b * this.block)]) };
  }

  /** The sum, in order, of `count` f64 partial results at parts. */
  private sumParts(parts: number, count: number): number {
    const f = new Float64Array(this.e.memory.buffer, parts, count);
    let total = 0;
    for (let i = 0; i < count; i++) total += f[i];
    return total;
  }

  /**
   * sample_rows split by rows. Each share draws from its own copy of the generator, advanced past the rows before it
   * (two draws a sampled row, none when greedy or when only the distribution is asked for), with its own work area,
   * so every row draws what one thread would give it; the caller's state then ends where one thread's would.
   */
  sample_rows(x: number, rows: number, n: number, ids: number, probs: number, scale: number, k: number, p: number,
    minP: number, penalty: number, tokens: number, ntok: number, state: number, work: number): number {
    if (rows === 1 && n >= this.sampleRowMin && ids !== 0 && probs === 0 && ntok === 0 &&
      (scale === 0 || (k > 0 && k < n) || p < 1)) {
      return this.sampleRow(x, n, ids, scale, k, p, minP, state, work);
    }
    if (rows < 2 || rows * n < MIN_ELEMS) {
      return this.k.sample_rows(x, rows, n, ids, probs, scale, k, p, minP, penalty, tokens, ntok, state, work);
    }
    const draws = ids !== 0 && scale !== 0 ? 2 : 0;
    const stride = Math.ceil((this.k.sample_work_bytes(n) + 16) / 16) * 16;
    const ranges = split(rows, this.size, 1);
    const area = this.e.alloc(ranges.length * stride); // inside the caller's mark, released with it
    const bad = this.run("sample_rows", ranges.map(([a, b], t) => {
      const own = area + t * stride;
      this.e.move(state, own, 4); // the generator's 16 bytes
      this.k.rng_skip(own, draws * a);
      return [x + a * n * 4, b - a, n, ids === 0 ? 0 : ids + a * 4, probs === 0 ? 0 : probs + a * n * 4, scale, k, p,
        minP, penalty, tokens, ntok, own, own + 16];
    }));
    const first = bad.findIndex((r) => r >= 0);
    if (first >= 0) return ranges[first][0] + bad[first];
    this.k.rng_skip(state, draws * rows);
    return -1;
  }

  /**
   * augment_batch split by images. Image i's transform depends only on the i-th draw of the generator at s (it seeds
   * the image's own), so each share draws from a copy advanced past the images before it, with a work area of its own
   * (the caller's `work` for the first share); the caller's generator then ends where one thread's would.
   */
  augment_batch(s: number, x: number, work: number, B: number, W: number, H: number, shift: number, rotate: number,
    scale: number, alpha: number, sigma: number, r: number): void {
    if (B < 2) {
      this.k.augment_batch(s, x, work, B, W, H, shift, rotate, scale, alpha, sigma, r);
      return;
    }
    const mark = this.e.mark();
    try {
      const ranges = split(B, this.size, 1);
      const stride = Math.ceil((this.k.augment_work_floats(W, H, r) * 4 + 16) / 16) * 16;
      const area = this.e.alloc(ranges.length * stride);
      this.run("augment_batch", ranges.map(([a, b], t) => {
        const own = area + t * stride; // the generator's 16 bytes, then (shares after the first) the work area
        this.e.move(s, own, 4);
        this.k.rng_skip(own, a);
        return [own, x + a * W * H * 4, t === 0 ? work : own + 16, b - a, W, H, shift, rotate, scale, alpha, sigma, r];
      }));
      this.k.rng_skip(s, B);
    } finally {
      this.e.release(mark);
    }
  }

  /**
   * Logits from which one row's token splits by blocks. Measured on the 2-core machine of this session (loaded), one
   * row of 128,256 runs in 10-250 µs on one thread while waking the workers for a split took milliseconds, so it does
   * not pay there: 2^21, past every vocabulary in use. @internal (tests lower it to run the split on real widths)
   */
  sampleRowMin = 1 << 21;

  /**
   * One long row's token split by blocks (greedy, top-k, or top-p without top-k), bit-identical to one thread: each
   * block's argmax, or top-k candidates, or (after the max) approximate mass and top-p gather runs on its own thread
   * and work area (sample_row_part), merged here in block order; sample_row_finish then draws on this thread with the
   * caller's generator, as sample_rows would (the row runs whole if top-p's bound cannot settle the cut there).
   * Returns -1, or 0 for a refused row.
   */
  private sampleRow(x: number, n: number, ids: number, scale: number, k: number, p: number, minP: number, state: number,
    work: number): number {
    const ranges = split(n, this.size, 16);
    const stride = Math.ceil((this.k.sample_work_bytes(ranges[0][1] - ranges[0][0]) + 16) / 16) * 16;
    const area = this.e.alloc(ranges.length * stride); // inside the caller's mark, released with it
    const part = (mode: number, m: number): number[] => this.run("sample_row_part", ranges.map(([a, b], t) =>
      [x + a * 4, b - a, mode, m, scale, k, area + t * stride, area + t * stride + 16]));
    const topk = scale !== 0 && k > 0 && k < n;
    let m = 0;
    let za = 0;
    let got: number[];
    if (!topk) { // greedy, or top-p's max: the first block holding the row's max
      got = part(0, 0);
      const f32 = new Float32Array(this.e.memory.buffer);
      let at = -1;
      m = -Infinity;
      for (let t = 0; t < ranges.length; t++) {
        if (got[t] < 0) return 0;
        const v = f32[(area + t * stride) >>> 2];
        if (at < 0 || v > m) [m, at] = [v, ranges[t][0] + got[t]];
      }
      if (!(m > -Infinity && m < Infinity)) return 0;
      if (scale === 0) {
        new Int32Array(this.e.memory.buffer)[ids >>> 2] = at;
        return -1;
      }
      got = part(2, m);
      const f64 = new Float64Array(this.e.memory.buffer);
      for (let t = 0; t < ranges.length; t++) za += f64[(area + t * stride) >>> 3];
    } else {
      got = part(1, 0);
      if (got.some((c) => c < 0)) return 0;
    }
    // the blocks' candidates in index order at the start of work
    const i32 = new Int32Array(this.e.memory.buffer);
    let c = 0;
    for (let t = 0; t < ranges.length; t++) {
      const from = (area + t * stride + 16) >>> 2, a = ranges[t][0];
      for (let j = 0; j < got[t]; j++) i32[(work >>> 2) + c++] = i32[from + j] + a;
    }
    const r = this.k.sample_row_finish(x, n, topk ? 1 : 2, m, za, c, ids, 0, scale, k, p, minP, state, work);
    if (r === 1) return this.k.sample_rows(x, 1, n, ids, 0, scale, k, p, minP, 1, 0, 0, state, work);
    return r === 2 ? 0 : -1;
  }

  /** An SGD step over n parameters (element-wise), split in multiples of 16. */
  sgd_update(p: number, g: number, buf: number, n: number, lr: number, momentum: number, nesterov: number, wd: number): void {
    if (n < MIN_ELEMS * 2) {
      this.k.sgd_update(p, g, buf, n, lr, momentum, nesterov, wd);
      return;
    }
    this.run("sgd_update", split(n, this.size, 16).map(([a, b]) =>
      [p + a * 4, g + a * 4, buf + a * 4, b - a, lr, momentum, nesterov, wd]));
  }

  /** An Adam / AdamW step over n parameters (element-wise), split in multiples of 16. */
  adam_update(p: number, g: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number, eps: number,
    wd: number, decoupled: number, bc1: number, bc2: number): void {
    if (n < MIN_ELEMS * 2) {
      this.k.adam_update(p, g, m, v, n, lr, beta1, beta2, eps, wd, decoupled, bc1, bc2);
      return;
    }
    this.run("adam_update", split(n, this.size, 16).map(([a, b]) =>
      [p + a * 4, g + a * 4, m + a * 4, v + a * 4, b - a, lr, beta1, beta2, eps, wd, decoupled, bc1, bc2]));
  }
}

/** The largest of the segments' maxes, the row's (rmax ignores NaN, so a NaN never wins here either). */
function maxOf(maxes: number[]): number {
  let m = -Infinity;
  for (const v of maxes) if (v > m) m = v;
  return m;
}
