// The sampling kernels (assembly/sample.ts) at every width 1 .. 70 against scalar references: topk_rows sorted with
// ties by lower index, argmax_rows the first maximum, sample_rows' probabilities summing to 1 over the kept tokens,
// greedy, the refusal of a NaN row, rng_skip as that many draws, and the cheap exp that bounds top-p's Z within
// APPROX_ERR (4e-4).
import { topk_rows, argmax_rows, sample_rows, sample_work_bytes, rng_skip, sample_row_part } from "../sample";
import { expf } from "../exp";
import { rng_seed, rng_next } from "../rng";

const MAX_N = 70;
let seed: u32 = 777;
function rand(): f64 {
  seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
  return <f64>seed / 4294967296.0;
}
const x = heap.alloc(<usize>(MAX_N + 8) << 2);
const vals = heap.alloc(<usize>(MAX_N + 8) << 2);
const idx = heap.alloc(<usize>(MAX_N + 8) << 2);
const probs = heap.alloc(<usize>(MAX_N + 8) << 2);
const work = heap.alloc(sample_work_bytes(MAX_N));
const state = heap.alloc(16);
const state2 = heap.alloc(16);
function xi(i: i32): f32 {
  return load<f32>(x + (<usize>i << 2));
}
/** Logits on a coarse grid, so ties are common. */
function fill(n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(x + (<usize>i << 2), <f32>Math.floor(rand() * 8) * 0.5);
}
/** How many x[j] come before x[i] in descending order, ties by lower index. */
function rank(n: i32, i: i32): i32 {
  let r = 0;
  for (let j = 0; j < n; j++) if (xi(j) > xi(i) || (xi(j) == xi(i) && j < i)) r++;
  return r;
}

describe("topk_rows", () => {
  it("gives the k largest, sorted, ties by lower index, at every width and k", () => {
    for (let n = 1; n <= MAX_N; n++) {
      fill(n);
      for (let k = 0; k <= n; k += k < 8 ? 1 : 7) {
        expect<i32>(topk_rows(x, 1, n, k, vals, idx, work)).toBe(-1);
        for (let j = 0; j < k; j++) {
          const i = load<i32>(idx + (<usize>j << 2));
          expect<i32>(rank(n, i)).toBe(j);
          expect<f32>(load<f32>(vals + (<usize>j << 2))).toBe(xi(i));
        }
      }
    }
  });
  it("refuses a row holding NaN", () => {
    fill(40);
    store<f32>(x + 37 * 4, NaN);
    expect<i32>(topk_rows(x, 1, 40, 3, vals, idx, work)).toBe(0);
    expect<i32>(argmax_rows(x, 1, 40, idx)).toBe(0);
  });
});

describe("argmax_rows and sample_rows", () => {
  it("argmax is the first maximum; greedy sampling agrees", () => {
    for (let n = 1; n <= MAX_N; n++) {
      fill(n);
      let best = 0;
      for (let i = 1; i < n; i++) if (xi(i) > xi(best)) best = i;
      expect<i32>(argmax_rows(x, 1, n, idx)).toBe(-1);
      expect<i32>(load<i32>(idx)).toBe(best);
      expect<i32>(sample_rows(x, 1, n, idx, 0, 0, 0, 1, 0, 1, 0, 0, state, work)).toBe(-1);
      expect<i32>(load<i32>(idx)).toBe(best);
    }
  });
  it("the distribution sums to 1 over the kept tokens, top-k keeping every tie", () => {
    for (let n = 1; n <= MAX_N; n++) {
      fill(n);
      const k = 1 + n / 3;
      expect<i32>(sample_rows(x, 1, n, 0, probs, 1, k, 1, 0, 1, 0, 0, state, work)).toBe(-1);
      // the k-th largest value: every logit >= it is kept, the rest are not
      let kth: f32 = 0;
      for (let i = 0; i < n; i++) if (rank(n, i) == k - 1) kth = xi(i);
      let s: f64 = 0;
      for (let i = 0; i < n; i++) {
        const p = load<f32>(probs + (<usize>i << 2));
        expect<bool>(k >= n || (p > 0) == (xi(i) >= kth)).toBe(true);
        s += <f64>p;
      }
      expect<bool>(Math.abs(s - 1) < 1e-5).toBe(true);
    }
  });
  it("draws two numbers a row, as rng_skip(2) does", () => {
    rng_seed(state, 5);
    rng_seed(state2, 5);
    fill(30);
    expect<i32>(sample_rows(x, 1, 30, idx, 0, 1, 0, 0.9, 0, 1, 0, 0, state, work)).toBe(-1);
    rng_skip(state2, 2);
    expect<u32>(rng_next(state)).toBe(rng_next(state2));
  });
});

describe("sample_row_part's approximate mass (the bound on top-p's Z)", () => {
  it("is within 1e-4 of the exact exp at every e^t from t = -86 to 0 (APPROX_ERR is 4e-4); below, at most 2^-125", () => {
    const n = 256; // one f32 block: its lanes add 64 equal terms each
    const row = heap.alloc(<usize>n << 2);
    const out = heap.alloc(16);
    const w = heap.alloc(sample_work_bytes(n));
    let worst: f64 = 0;
    for (let t: f32 = -86; t <= 0; t += 0.0137) {
      for (let i = 0; i < n; i++) store<f32>(row + (<usize>i << 2), t);
      sample_row_part(row, n, 2, 0, 1, 0, out, w);
      const want = <f64>n * <f64>expf(t);
      worst = Math.max(worst, Math.abs(load<f64>(out) - want) / want);
    }
    log<string>("approximate exp's max relative error (with a block's f32 sum) " + worst.toString());
    expect<bool>(worst < 1e-4).toBe(true);
    expect<bool>(worst > 1e-6).toBe(true); // the cheap exp itself, not expf
    // below 2^-125 (t < -86.64) it is clamped there: a few 1e-38 over Z >= 1 (the max's own e^0), never garbage
    for (let t: f32 = -200; t < -87; t += 0.37) {
      for (let i = 0; i < n; i++) store<f32>(row + (<usize>i << 2), t);
      sample_row_part(row, n, 2, 0, 1, 0, out, w);
      const z = load<f64>(out);
      expect<bool>(z >= 0 && z <= <f64>n * 2.4e-38).toBe(true);
    }
    store<f32>(row, -Infinity);
    sample_row_part(row, n, 2, 0, 1, 0, out, w);
    expect<bool>(load<f64>(out) <= <f64>n * 2.4e-38).toBe(true);
  });
});
