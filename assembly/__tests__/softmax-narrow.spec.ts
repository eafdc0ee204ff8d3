// Narrow rows (cols < NARROW) in groups of four as columns: a call writes its rows and nothing else (not the floats
// after the last row, which in the threads build may be another thread's), whatever the row count, in place or not.
import { softmax_forward, log_softmax_forward } from "../softmax";
import { cross_entropy_index } from "../loss";

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
