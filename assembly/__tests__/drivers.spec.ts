// The row drivers at odd row counts and at widths that cross SIMD remainders and the f64 block boundary
// (BLOCK = 4096), against float64 scalar references.
import {
  softmax_forward, log_softmax_forward, softmax_backward, log_softmax_backward, logits_from_probs, softmax_row_part,
} from "../softmax";
import {
  cross_entropy_index, cross_entropy_prob, cross_entropy_prob_parts, cross_entropy_row_part, cross_entropy_prob_row_part,
} from "../cross-entropy";
import { bce_with_logits, quadratic_cost, bce_with_logits_parts, quadratic_cost_parts } from "../loss";

const WIDTHS: i32[] = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 4095, 4096, 4097, 8193];
const ROWS: i32[] = [1, 3, 5, 8, 9, 13]; // groups of eight and four rows (the narrow path) and what remains

let seed: u32 = 777;
function rand(): f64 {
  seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
  return <f64>seed / 4294967296.0;
}
function buf(n: i32): usize { return heap.alloc(<usize>(n + 4) << 2); }
function fill(p: usize, n: i32, lo: f64, hi: f64): void {
  for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), <f32>(lo + (hi - lo) * rand()));
}
function at(p: usize, i: i32): f64 { return <f64>load<f32>(p + (<usize>i << 2)); }
function close(got: f64, want: f64, rel: f64, abs: f64): bool {
  if (want == got) return true; // equal infinities
  return Math.abs(got - want) <= abs + rel * Math.abs(want);
}
function check(what: string, rows: i32, cols: i32, i: i32, got: f64, want: f64, rel: f64, abs: f64): void {
  // expect only on a miss: as-pect's expect is too slow to call for each of ~10^6 elements
  if (close(got, want, rel, abs)) return;
  log<string>(what + " " + rows.toString() + "x" + cols.toString() + " [" + i.toString() + "] got " + got.toString() + " want " + want.toString());
  expect<bool>(false).toBe(true);
}
/** The in-order f64 sum of count parts, as the thread pool adds them. */
function sumParts(parts: usize, count: i32): f64 {
  let t: f64 = 0;
  for (let i = 0; i < count; i++) t += load<f64>(parts + (<usize>i << 3));
  return t;
}
/** float64 log-sum-exp of row r. */
function lse(x: usize, r: i32, cols: i32, scale: f64): f64 {
  let m: f64 = -Infinity;
  for (let j = 0; j < cols; j++) m = max(m, at(x, r * cols + j) * scale);
  let s: f64 = 0;
  for (let j = 0; j < cols; j++) s += Math.exp(at(x, r * cols + j) * scale - m);
  return m + Math.log(s);
}

const MAXN = 13 * 8193;
const x = buf(MAXN);
const y = buf(MAXN);
const g = buf(MAXN);
const q = buf(MAXN);
const w = buf(8193);
const labels = heap.alloc(64);
const losses = buf(MAXN);

describe("softmax drivers", () => {
  it("softmax_forward and log_softmax_forward, plain, with a temperature, and with a huge one on huge logits", () => {
    for (let a = 0; a < WIDTHS.length; a++) for (let b = 0; b < ROWS.length; b++) for (let t = 0; t < 3; t++) {
      const cols = WIDTHS[a]; const rows = ROWS[b]; const n = rows * cols;
      // t = 2: temperature 1e38 on logits up to +-3e38, where x - max would overflow before the scaling
      const scale: f32 = t == 0 ? 1 : t == 1 ? 0.4 : 1e-38;
      if (t == 2) fill(x, n, -3e38, 3e38);
      else fill(x, n, -20, 20);
      softmax_forward(x, y, rows, cols, scale);
      log_softmax_forward(x, g, rows, cols, scale);
      for (let r = 0; r < rows; r++) {
        const l = lse(x, r, cols, <f64>scale);
        for (let j = 0; j < cols; j++) {
          const i = r * cols + j;
          const ref = at(x, i) * <f64>scale - l;
          check("softmax", rows, cols, i, at(y, i), Math.exp(ref), 3e-5, 0);
          check("logSoftmax", rows, cols, i, at(g, i), ref, 1e-5, 3e-6);
        }
      }
    }
  });

  it("backward drivers", () => {
    for (let a = 0; a < WIDTHS.length; a++) for (let b = 0; b < ROWS.length; b++) {
      const cols = WIDTHS[a]; const rows = ROWS[b]; const n = rows * cols;
      fill(x, n, -5, 5); fill(q, n, -1, 1);
      softmax_forward(x, y, rows, cols, 1);
      softmax_backward(y, q, g, rows, cols);
      for (let r = 0; r < rows; r++) {
        let dot: f64 = 0;
        for (let j = 0; j < cols; j++) dot += at(y, r * cols + j) * at(q, r * cols + j);
        for (let j = 0; j < cols; j++) {
          const i = r * cols + j;
          check("softmax_backward", rows, cols, i, at(g, i), at(y, i) * (at(q, i) - dot), 1e-4, 1e-6);
        }
      }
      log_softmax_forward(x, y, rows, cols, 1);
      log_softmax_backward(y, q, g, rows, cols);
      for (let r = 0; r < rows; r++) {
        let s: f64 = 0;
        for (let j = 0; j < cols; j++) s += at(q, r * cols + j);
        for (let j = 0; j < cols; j++) {
          const i = r * cols + j;
          check("log_softmax_backward", rows, cols, i, at(g, i), at(q, i) - Math.exp(at(y, i)) * s, 1e-4, 1e-6);
        }
      }
    }
  });

  it("logits_from_probs inverts softmax and centres each row's finite logits", () => {
    for (let a = 0; a < WIDTHS.length; a++) for (let b = 0; b < ROWS.length; b++) {
      const cols = WIDTHS[a]; const rows = ROWS[b]; const n = rows * cols;
      fill(x, n, -6, 6);
      softmax_forward(x, q, rows, cols, 1);
      if (cols > 1) store<f32>(q, 0); // a zero probability: -Infinity logit
      logits_from_probs(q, y, rows, cols);
      for (let r = 0; r < rows; r++) {
        let s: f64 = 0; let c = 0;
        for (let j = 0; j < cols; j++) {
          const v = at(y, r * cols + j);
          if (isFinite(v)) { s += v; c++; } else check("zero probability", rows, cols, j, v, -Infinity, 0, 0);
        }
        check("mean logit", rows, cols, r, s / c, 0, 0, 1e-4);
      }
      softmax_forward(y, g, rows, cols, 1);
      let s0: f64 = 0; // row 0 lost a probability: softmax gives it back normalised
      for (let j = 0; j < cols; j++) s0 += at(q, j);
      for (let i = 0; i < n; i++) {
        check("softmax(logits_from_probs(p))", rows, cols, i, at(g, i), i < cols ? at(q, i) / s0 : at(q, i), 3e-5, 1e-30);
      }
    }
  });
});

describe("one long row split between threads (softmax_row_part, the threads build's in-row split)", () => {
  it("its three passes over segments of whole blocks give softmax_forward's bits, for 1 to 4 segments", () => {
    const WIDE: i32[] = [4096, 4097, 8192, 8193, 12289, 20000, 40961];
    const parts = heap.alloc(16 * 8);
    for (let a = 0; a < WIDE.length; a++) for (let t = 0; t < 4; t++) for (let lg = 0; lg < 2; lg++) {
      const n = WIDE[a];
      const scale: f32 = t == 0 || t == 3 ? 1 : t == 1 ? 0.4 : 1e-38;
      if (t == 2) fill(x, n, -3e38, 3e38);
      else fill(x, n, -20, 20);
      // t = 3: masked classes, every third logit -Infinity and the whole second block too (a segment's max is -Infinity)
      if (t == 3) for (let i = 0; i < n; i++) if (i % 3 == 0 || (i >= 4096 && i < 8192)) store<f32>(x + (<usize>i << 2), -Infinity);
      if (lg) log_softmax_forward(x, y, 1, n, scale);
      else softmax_forward(x, y, 1, n, scale);
      const blocks = (n + 4095) / 4096;
      for (let segs = 1; segs <= 4; segs++) {
        // segments of ceil(blocks / segs) blocks, as the pool's split(blocks, threads, 1) makes them
        const per = (blocks + segs - 1) / segs;
        let top: f32 = -Infinity;
        for (let b0 = 0; b0 < blocks; b0 += per) {
          const a0 = b0 * 4096; const len = min(n, (b0 + per) * 4096) - a0;
          top = max(top, softmax_row_part(x + (<usize>a0 << 2), g + (<usize>a0 << 2), len, scale, lg, 0, 0, 0, 0));
        }
        for (let b0 = 0; b0 < blocks; b0 += per) {
          const a0 = b0 * 4096; const len = min(n, (b0 + per) * 4096) - a0;
          softmax_row_part(x + (<usize>a0 << 2), g + (<usize>a0 << 2), len, scale, lg, 1, top, 0, parts + (<usize>b0 << 3));
        }
        const sum = sumParts(parts, blocks);
        for (let b0 = 0; b0 < blocks; b0 += per) {
          const a0 = b0 * 4096; const len = min(n, (b0 + per) * 4096) - a0;
          softmax_row_part(x + (<usize>a0 << 2), g + (<usize>a0 << 2), len, scale, lg, 2, top, sum, 0);
        }
        if (memory.compare(y, g, <usize>n << 2) != 0) {
          log<string>("row split " + n.toString() + " t" + t.toString() + " log" + lg.toString() + " segs " + segs.toString());
          expect<bool>(false).toBe(true);
        }
      }
    }
    heap.free(parts);
  });
});

describe("one long row's cross-entropy split between threads (cross_entropy_row_part)", () => {
  it("its passes over 1-4 segments give cross_entropy_index's loss and gradient bits, in place or not", () => {
    const WIDE: i32[] = [4096, 8193, 12289, 20000];
    const parts = heap.alloc(16 * 16);
    const cw = buf(20000); // class weights as long as the row
    for (let a = 0; a < WIDE.length; a++) for (let opt = 0; opt < 3; opt++) for (let inPlace = 0; inPlace < 2; inPlace++) {
      const n = WIDE[a];
      // opt 0: plain; 1: label smoothing; 2: smoothing and class weights
      const eps: f32 = opt == 0 ? 0 : 0.1;
      const wp: usize = opt == 2 ? cw : 0;
      fill(x, n, -20, 20); fill(cw, n, 0.2, 2);
      let wsum: f64 = 0;
      for (let j = 0; j < n; j++) wsum += opt == 2 ? at(cw, j) : 1.0;
      const cls = <i32>(rand() * n);
      // masked classes (every seventh logit -Infinity, never the class) when there is no smoothing to see them
      if (opt == 0) for (let i = 0; i < n; i += 7) if (i != cls) store<f32>(x + (<usize>i << 2), -Infinity);
      store<i32>(labels, cls);
      const want = cross_entropy_index(x, labels, wp, y, losses, 1, n, -100, eps, <f32>wsum, 0.5);
      const blocks = (n + 4095) / 4096;
      for (let segs = 1; segs <= 4; segs++) {
        const per = (blocks + segs - 1) / segs;
        const gp: usize = inPlace ? q : g; // in place: the gradient over a copy of the logits
        const zp: usize = inPlace ? q : x;
        if (inPlace) memory.copy(q, x, <usize>n << 2);
        const zy = load<f32>(zp + (<usize>cls << 2));
        const wy: f32 = opt == 2 ? load<f32>(cw + (<usize>cls << 2)) : 1;
        let m: f32 = -Infinity;
        for (let b0 = 0; b0 < blocks; b0 += per) {
          const a0 = b0 * 4096; const len = min(n, (b0 + per) * 4096) - a0; const o = <usize>a0 << 2;
          m = max(m, <f32>cross_entropy_row_part(zp + o, gp + o, len, wp == 0 ? 0 : wp + o, cls - a0, wy, n, eps, <f32>wsum, 0.5, 0, 0, 0, 0, 0, 0));
        }
        for (let b0 = 0; b0 < blocks; b0 += per) {
          const a0 = b0 * 4096; const len = min(n, (b0 + per) * 4096) - a0; const o = <usize>a0 << 2;
          cross_entropy_row_part(zp + o, gp + o, len, wp == 0 ? 0 : wp + o, cls - a0, wy, n, eps, <f32>wsum, 0.5, 1, m, zy, 0, 0, parts + (<usize>b0 << 4));
        }
        let d: f64 = 0; let sum: f64 = 0;
        for (let k = 0; k < blocks; k++) { d += load<f64>(parts + (<usize>k << 4)); sum += load<f64>(parts + (<usize>k << 4) + 8); }
        let loss: f64 = 0;
        for (let b0 = 0; b0 < blocks; b0 += per) {
          const a0 = b0 * 4096; const len = min(n, (b0 + per) * 4096) - a0; const o = <usize>a0 << 2;
          loss = cross_entropy_row_part(zp + o, gp + o, len, wp == 0 ? 0 : wp + o, cls - a0, wy, n, eps, <f32>wsum, 0.5, 2, m, zy, sum, d, 0);
        }
        if (loss != want || memory.compare(y, gp, <usize>n << 2) != 0) {
          log<string>("ce row split " + n.toString() + " opt " + opt.toString() + " in place " + inPlace.toString() + " segs " + segs.toString());
          expect<bool>(false).toBe(true);
        }
      }
    }
    heap.free(parts);
    heap.free(cw);
  });
});

describe("one long row's cross-entropy against probabilities split between threads (cross_entropy_prob_row_part)", () => {
  it("its passes over 1-4 segments give cross_entropy_prob's loss and gradient bits, in place or not", () => {
    const WIDE: i32[] = [4096, 8193, 12289, 20000];
    const parts = heap.alloc(16 * 24);
    const cw = buf(20000);
    const tq = buf(20000);
    for (let a = 0; a < WIDE.length; a++) for (let opt = 0; opt < 3; opt++) for (let inPlace = 0; inPlace < 2; inPlace++) {
      const n = WIDE[a];
      const eps: f32 = opt == 0 ? 0 : 0.1;
      const wp: usize = opt == 2 ? cw : 0;
      fill(x, n, -20, 20); fill(tq, n, 0, 1); fill(cw, n, 0.2, 2);
      const want = cross_entropy_prob(x, tq, wp, y, 0, 1, n, eps, 0.5);
      const blocks = (n + 4095) / 4096;
      for (let segs = 1; segs <= 4; segs++) {
        const per = (blocks + segs - 1) / segs;
        const gp: usize = inPlace ? q : g;
        const zp: usize = inPlace ? q : x;
        if (inPlace) memory.copy(q, x, <usize>n << 2);
        let m: f32 = -Infinity;
        for (let b0 = 0; b0 < blocks; b0 += per) {
          const a0 = b0 * 4096; const len = min(n, (b0 + per) * 4096) - a0; const o = <usize>a0 << 2;
          m = max(m, <f32>cross_entropy_prob_row_part(zp + o, tq + o, wp == 0 ? 0 : wp + o, gp + o, len, n, eps, 0.5, 0, 0, 0, 0, 0, 0));
        }
        for (let b0 = 0; b0 < blocks; b0 += per) {
          const a0 = b0 * 4096; const len = min(n, (b0 + per) * 4096) - a0; const o = <usize>a0 << 2;
          cross_entropy_prob_row_part(zp + o, tq + o, wp == 0 ? 0 : wp + o, gp + o, len, n, eps, 0.5, 1, m, 0, 0, 0, parts + <usize>b0 * 24);
        }
        let d: f64 = 0; let tsum: f64 = 0; let sum: f64 = 0;
        for (let k = 0; k < blocks; k++) {
          const at = parts + <usize>k * 24;
          d += load<f64>(at); tsum += load<f64>(at, 8); sum += load<f64>(at, 16);
        }
        let loss: f64 = 0;
        for (let b0 = 0; b0 < blocks; b0 += per) {
          const a0 = b0 * 4096; const len = min(n, (b0 + per) * 4096) - a0; const o = <usize>a0 << 2;
          loss = cross_entropy_prob_row_part(zp + o, tq + o, wp == 0 ? 0 : wp + o, gp + o, len, n, eps, 0.5, 2, m, tsum, sum, d, 0);
        }
        if (loss != want || memory.compare(y, gp, <usize>n << 2) != 0) {
          log<string>("soft ce row split " + n.toString() + " opt " + opt.toString() + " in place " + inPlace.toString() + " segs " + segs.toString());
          expect<bool>(false).toBe(true);
        }
      }
    }
    heap.free(parts);
    heap.free(cw);
    heap.free(tq);
  });
});

describe("edge values in groups of four rows", () => {
  it("a NaN or an all -Infinity row poisons only itself; -Infinity elsewhere is a masked class", () => {
    for (let cols = 2; cols <= 33; cols++) {
      const rows = 8; const n = rows * cols;
      fill(x, n, -8, 8);
      store<f32>(x + (<usize>(1 * cols + cols - 1) << 2), NaN); // row 1: a NaN
      for (let j = 0; j < cols; j++) store<f32>(x + (<usize>(2 * cols + j) << 2), -Infinity); // row 2: all -Infinity
      store<f32>(x + (<usize>(3 * cols) << 2), -Infinity); // row 3: one masked class
      for (let r = 0; r < rows; r++) store<i32>(labels + (<usize>r << 2), cols - 1);
      for (let k = 0; k < 3; k++) {
        if (k == 0) softmax_forward(x, y, rows, cols, 1);
        else if (k == 1) log_softmax_forward(x, y, rows, cols, 1);
        else cross_entropy_index(x, labels, 0, y, losses, rows, cols, -100, 0, <f32>cols, 1);
        for (let r = 0; r < rows; r++) {
          const l = r == 2 ? NaN : lse(x, r, cols, 1);
          for (let j = 0; j < cols; j++) {
            const i = r * cols + j;
            const v = at(y, i);
            if (r == 1 || r == 2) { check("poisoned row", rows, cols, i, isNaN(v) ? 1 : 0, 1, 0, 0); continue; }
            const p = Math.exp(at(x, i) - l);
            const want = k == 0 ? p : k == 1 ? at(x, i) - l : p - (j == cols - 1 ? 1.0 : 0.0);
            check(k == 0 ? "softmax" : k == 1 ? "logSoftmax" : "ce grad", rows, cols, i, v, want, 1e-4, 1e-6);
          }
        }
      }
    }
  });
});

describe("loss drivers", () => {
  it("cross_entropy_index with weights, smoothing and an ignored row, loss and gradient", () => {
    for (let a = 0; a < WIDTHS.length; a++) for (let b = 0; b < ROWS.length; b++) {
      const cols = WIDTHS[a]; const rows = ROWS[b]; const n = rows * cols;
      fill(x, n, -8, 8); fill(w, cols, 0.2, 2);
      let wsum: f64 = 0;
      for (let j = 0; j < cols; j++) wsum += at(w, j);
      for (let r = 0; r < rows; r++) store<i32>(labels + (<usize>r << 2), r == 1 ? -100 : <i32>(rand() * cols));
      const eps: f32 = 0.1;
      const total = cross_entropy_index(x, labels, w, g, losses, rows, cols, -100, eps, <f32>wsum, 0.5);
      let want: f64 = 0;
      for (let r = 0; r < rows; r++) {
        const lab = load<i32>(labels + (<usize>r << 2));
        if (lab == -100) {
          for (let j = 0; j < cols; j++) check("ignored row grad", rows, cols, j, at(g, r * cols + j), 0, 0, 0);
          check("ignored row loss", rows, cols, r, at(losses, r), 0, 0, 0);
          continue;
        }
        const l = lse(x, r, cols, 1);
        let rowLoss: f64 = 0;
        let T: f64 = 0;
        for (let j = 0; j < cols; j++) {
          const t = (j == lab ? (1.0 - <f64>eps) * at(w, lab) : 0.0) + <f64>eps / <f64>cols * at(w, j);
          rowLoss += t * (l - at(x, r * cols + j));
          T += t;
        }
        for (let j = 0; j < cols; j++) {
          const i = r * cols + j;
          const t = (j == lab ? (1.0 - <f64>eps) * at(w, lab) : 0.0) + <f64>eps / <f64>cols * at(w, j);
          check("ce grad", rows, cols, i, at(g, i), 0.5 * (Math.exp(at(x, i) - l) * T - t), 1e-4, 1e-6);
        }
        check("ce row loss", rows, cols, r, at(losses, r), rowLoss, 2e-5, 0);
        want += rowLoss;
      }
      check("ce total", rows, cols, 0, total, want, 2e-5, 0);
    }
  });

  it("cross_entropy_index in place (grad = logits), without options", () => {
    for (let a = 0; a < WIDTHS.length; a++) {
      const cols = WIDTHS[a]; const rows = 3; const n = rows * cols;
      fill(x, n, -8, 8);
      memory.copy(y, x, <usize>n << 2);
      for (let r = 0; r < rows; r++) store<i32>(labels + (<usize>r << 2), <i32>(rand() * cols));
      const total = cross_entropy_index(y, labels, 0, y, 0, rows, cols, -100, 0, <f32>cols, 1);
      let want: f64 = 0;
      for (let r = 0; r < rows; r++) {
        const lab = load<i32>(labels + (<usize>r << 2));
        const l = lse(x, r, cols, 1);
        want += l - at(x, r * cols + lab);
        for (let j = 0; j < cols; j++) {
          const i = r * cols + j;
          check("ce in place", rows, cols, i, at(y, i), Math.exp(at(x, i) - l) - (j == lab ? 1.0 : 0.0), 1e-4, 1e-6);
        }
      }
      check("ce in place total", rows, cols, 0, total, want, 2e-5, 0);
    }
  });

  it("cross_entropy_prob with weights and smoothing", () => {
    for (let a = 0; a < WIDTHS.length; a++) for (let b = 0; b < ROWS.length; b++) {
      const cols = WIDTHS[a]; const rows = ROWS[b]; const n = rows * cols;
      fill(x, n, -8, 8); fill(q, n, 0, 1); fill(w, cols, 0.2, 2);
      const eps: f32 = 0.2;
      const total = cross_entropy_prob(x, q, w, g, losses, rows, cols, eps, 0.25);
      let want: f64 = 0;
      for (let r = 0; r < rows; r++) {
        const l = lse(x, r, cols, 1);
        let rowLoss: f64 = 0; let T: f64 = 0;
        for (let j = 0; j < cols; j++) {
          const t = at(w, j) * ((1.0 - <f64>eps) * at(q, r * cols + j) + <f64>eps / <f64>cols);
          rowLoss += t * (l - at(x, r * cols + j)); T += t;
        }
        for (let j = 0; j < cols; j++) {
          const i = r * cols + j;
          const t = at(w, j) * ((1.0 - <f64>eps) * at(q, i) + <f64>eps / <f64>cols);
          check("ce prob grad", rows, cols, i, at(g, i), 0.25 * (Math.exp(at(x, i) - l) * T - t), 1e-4, 1e-6);
        }
        check("ce prob row loss", rows, cols, r, at(losses, r), rowLoss, 2e-5, 0);
        want += rowLoss;
      }
      check("ce prob total", rows, cols, 0, total, want, 2e-5, 0);
    }
  });

  it("bce_with_logits with pos weights tiled to a period, across block boundaries", () => {
    for (let a = 0; a < WIDTHS.length; a++) for (let b = 0; b < ROWS.length; b++) for (let k = 0; k < 2; k++) {
      const cols = WIDTHS[a]; const rows = ROWS[b]; const n = rows * cols;
      fill(x, n, -15, 15); fill(q, n, 0, 1);
      // pos weights of `cols` classes, tiled as the API does
      const period = k == 0 ? 0 : cols * max(1, (1024 + cols - 1) / cols);
      const pw: usize = k == 0 ? 0 : heap.alloc(<usize>period << 2);
      for (let i = 0; i < period; i++) store<f32>(pw + (<usize>i << 2), <f32>(0.5 + <f64>(i % cols) * 0.25));
      const total = bce_with_logits(x, q, pw, period, g, losses, n, 0.5);
      let want: f64 = 0;
      for (let i = 0; i < n; i++) {
        const z = at(x, i); const t = at(q, i); const p = k == 0 ? 1.0 : 0.5 + <f64>((i % cols) % cols) * 0.25;
        const L = 1.0 + (p - 1.0) * t;
        const l = (1.0 - t) * z + L * (Math.log1p(Math.exp(-Math.abs(z))) + max(-z, 0.0));
        want += l;
        check("bce loss", rows, cols, i, at(losses, i), l, 2e-5, 1e-6);
        check("bce grad", rows, cols, i, at(g, i), 0.5 * (L / (1.0 + Math.exp(-z)) - p * t), 1e-4, 1e-6);
      }
      check("bce total", rows, cols, 0, total, want, 2e-5, 1e-6);
      if (pw != 0) heap.free(pw);
    }
  });

  it("quadratic_cost", () => {
    for (let a = 0; a < WIDTHS.length; a++) for (let b = 0; b < ROWS.length; b++) {
      const cols = WIDTHS[a]; const rows = ROWS[b]; const n = rows * cols;
      fill(x, n, 0, 1); fill(q, n, 0, 1);
      const c = quadratic_cost(x, q, g, n, rows);
      let s: f64 = 0;
      for (let i = 0; i < n; i++) {
        const d = at(x, i) - at(q, i); s += d * d;
        check("quadratic grad", rows, cols, i, at(g, i), d / <f64>rows, 1e-5, 1e-7);
      }
      check("quadratic cost", rows, cols, 0, c, s / (2.0 * <f64>rows), 2e-5, 0);
    }
  });

  it("the threads build's _parts forms: their parts summed in order are the driver's total, bit for bit", () => {
    const parts = heap.alloc(<usize>MAXN << 3);
    for (let a = 0; a < WIDTHS.length; a++) for (let b = 0; b < ROWS.length; b++) {
      const cols = WIDTHS[a]; const rows = ROWS[b]; const n = rows * cols;
      fill(x, n, -8, 8); fill(q, n, 0, 1); fill(w, cols, 0.2, 2);
      const ce = cross_entropy_prob(x, q, w, g, 0, rows, cols, 0.1, 0.5);
      cross_entropy_prob_parts(x, q, w, y, 0, rows, cols, 0.1, 0.5, parts);
      expect<f64>(sumParts(parts, rows)).toBe(ce);
      expect<i32>(memory.compare(g, y, <usize>n << 2)).toBe(0);
      const blocks = (n + 4095) / 4096;
      const bce = bce_with_logits(x, q, 0, 0, g, 0, n, 0.5);
      bce_with_logits_parts(x, q, 0, 0, y, 0, n, 0.5, parts);
      expect<f64>(sumParts(parts, blocks)).toBe(bce);
      expect<i32>(memory.compare(g, y, <usize>n << 2)).toBe(0);
      const quad = quadratic_cost(x, q, g, n, rows);
      quadratic_cost_parts(x, q, y, n, rows, parts);
      expect<f64>(sumParts(parts, blocks) / (2.0 * <f64>rows)).toBe(quad);
      expect<i32>(memory.compare(g, y, <usize>n << 2)).toBe(0);
    }
    heap.free(parts);
  });
});
