// Narrow rows (cols < NARROW) in groups of four as columns: a call writes its rows and nothing else (not the floats
// after the last row, which in the threads build may be another thread's), whatever the row count, in place or not.
import { softmax_forward, log_softmax_forward } from "../softmax";
import { cross_entropy_index } from "../cross-entropy";
import { expv, logv } from "../exp";

const GUARD: f32 = 12345.5;
const MAXN = 9 * 31;
const x = heap.alloc((MAXN + 4) << 2);
const y = heap.alloc((MAXN + 8) << 2);
const labels = heap.alloc(64);
const losses = heap.alloc(64);

let seed: u32 = 99;
function rand(): f32 {
  seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
  return <f32>(<f64>seed / 4294967296.0 * 16 - 8);
}
function guardAfter(p: usize, n: i32, count: i32): void {
  for (let i = n; i < n + count; i++) store<f32>(p + (<usize>i << 2), GUARD);
}
function guarded(what: string, p: usize, n: i32, count: i32, rows: i32, cols: i32): void {
  for (let i = n; i < n + count; i++) {
    if (load<f32>(p + (<usize>i << 2)) != GUARD) {
      log<string>(what + " " + rows.toString() + "x" + cols.toString() + " wrote float " + i.toString());
      expect<bool>(false).toBe(true);
    }
  }
}

describe("narrow rows", () => {
  it("softmax, log-softmax and cross-entropy write no float past the last row (or the last loss)", () => {
    for (let cols = 1; cols < 32; cols++) {
      for (let rows = 1; rows <= 9; rows++) {
        const n = rows * cols;
        for (let k = 0; k < 4; k++) {
          for (let i = 0; i < n; i++) store<f32>(x + (<usize>i << 2), rand());
          for (let r = 0; r < rows; r++) store<i32>(labels + (<usize>r << 2), r % cols);
          const out = k == 3 ? x : y; // k = 3: softmax in place
          guardAfter(out, n, 8);
          guardAfter(losses, rows, 4);
          if (k == 0 || k == 3) softmax_forward(x, out, rows, cols, 1);
          else if (k == 1) log_softmax_forward(x, out, rows, cols, 0.5);
          else cross_entropy_index(x, labels, 0, out, losses, rows, cols, -100, 0.1, <f32>cols, 1);
          guarded(k == 0 ? "softmax" : k == 1 ? "log-softmax" : k == 2 ? "cross-entropy grad" : "softmax in place", out, n, 8, rows, cols);
          if (k == 2) guarded("cross-entropy losses", losses, rows, 4, rows, cols);
          for (let i = 0; i < n; i++) {
            const v = load<f32>(out + (<usize>i << 2));
            if (!isFinite(v) || (k != 1 && k != 2 && (v < 0 || v > 1))) {
              log<string>("not a result at float " + i.toString() + ": " + v.toString());
              expect<bool>(false).toBe(true);
            }
          }
        }
      }
    }
  });
});

// ---- bit for bit: the narrow path against one row at a time in its order of operations ----
// Each row: the max as pmax from -Infinity in column order (NaN left out), d = x - max (times the scale, or with a
// huge temperature x and the max scaled first), e = the exp of d (expv, lane 0), the sum of the e added from 0 in
// column order in f32, then softmax e * (1 / sum), log-softmax d + -(ln sum) (logv). Whatever the narrow path does with
// groups, pairs of groups and columns a step, every row must come out with these bits (NaN: any NaN).
const XB = heap.alloc((64 * 31 + 8) << 2);
const YB = heap.alloc((2 * 64 * 31 + 16) << 2); // an out, then a copy of x for the in-place call

function special(u: f32): f32 {
  if (u < 0.06) return -Infinity; // a masked logit
  if (u < 0.09) return NaN;
  if (u < 0.13) return rand() < 0 ? 3.0e38 : -3.0e38;
  if (u < 0.17) return rand() < 0 ? 0.0 : -0.0;
  if (u < 0.25) return rand() * 1.0e4;
  return rand();
}

/** The bits one row at a time gives at (r, j), softmax or log-softmax. */
function rowModel(x: usize, cols: i32, r: i32, j: i32, scale: f32, log: bool): f32 {
  const row = x + (<usize>(r * cols) << 2);
  const tiny = scale < 1e-30;
  let m: f32 = -Infinity;
  for (let c = 0; c < cols; c++) {
    const v = load<f32>(row + (<usize>c << 2));
    m = m < v ? v : m;
  }
  if (tiny) m = m * scale;
  let sum: f32 = 0;
  let dj: f32 = 0;
  let ej: f32 = 0;
  for (let c = 0; c < cols; c++) {
    const v = load<f32>(row + (<usize>c << 2));
    const d: f32 = tiny ? v * scale - m : scale == 1 ? v - m : (v - m) * scale;
    const e = f32x4.extract_lane(expv(f32x4.splat(d)), 0);
    sum = sum + e;
    if (c == j) {
      dj = d;
      ej = e;
    }
  }
  if (log) return dj + -f32x4.extract_lane(logv(f32x4.splat(sum)), 0);
  return ej * (<f32>1 / sum);
}

function sameBits(a: f32, b: f32): bool {
  return reinterpret<u32>(a) == reinterpret<u32>(b) || (isNaN(a) && isNaN(b));
}

describe("narrow rows, bit for bit", () => {
  it("softmax and log-softmax give each row the bits of one row at a time (64x10, rows 1..40 x cols 1..31; -Inf, NaN, 3e38, -0)", () => {
    let cases = 0;
    for (let trial = 0; trial < 700; trial++) {
      const rows = trial % 9 == 0 ? 64 : 1 + <i32>((rand() + 8) / 16 * 40) % 40;
      const cols = trial % 9 == 0 ? 10 : 1 + <i32>((rand() + 8) / 16 * 31) % 31;
      const n = rows * cols;
      for (let i = 0; i < n; i++) store<f32>(XB + (<usize>i << 2), special((rand() + 8) / 16));
      if (trial % 5 == 0) for (let c = 0; c < cols; c++) store<f32>(XB + (<usize>c << 2), -Infinity); // all masked
      const scale: f32 = trial % 3 == 0 ? 1 : trial % 3 == 1 ? 0.37 : 1e-35;
      for (let k = 0; k < 3; k++) {
        const isLog = k == 1;
        const out = k == 2 ? XB : YB; // k = 2: in place (the model reads a copy, kept in YB + n)
        const keep = YB + (<usize>(n + 4) << 2);
        if (k == 2) memory.copy(keep, XB, <usize>n << 2);
        if (isLog) log_softmax_forward(XB, out, rows, cols, scale);
        else softmax_forward(XB, out, rows, cols, scale);
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < cols; j++) {
            const want = rowModel(k == 2 ? keep : XB, cols, r, j, scale, isLog);
            const got = load<f32>(out + (<usize>(r * cols + j) << 2));
            if (!sameBits(got, want)) {
              log<string>((isLog ? "log-softmax " : "softmax ") + rows.toString() + "x" + cols.toString() + " scale " +
                scale.toString() + " at " + r.toString() + "," + j.toString() + ": " + got.toString() + " vs " + want.toString());
              expect<bool>(false).toBe(true);
              return;
            }
          }
        }
        if (k == 2) memory.copy(XB, keep, <usize>n << 2);
        cases++;
      }
    }
    expect<i32>(cases).toBe(2100);
  });
});
