// The cache-blocked dense GEMM (gemm.ts: K blocks of KC = 256, row blocks of MC = 256, 16-column panels of B packed,
// dW's A packed in pairs of rows, dX's panels packed from W transposed) against a plain loop with the same summation
// order: each element starts from its initial value (bias, 0, or dW's old value) and adds x w for k = 0, 1, ... with
// the kernels' own madd, then takes the activation. Bit for bit, at shapes on each side of every block boundary (K:
// 1, 255, 256, 257, 515 = 2 blocks + 3; rows: 1..5 around the pack threshold, 255, 256, 257, 515; columns: 1, 15, 16,
// 17, 35). Inputs carry NaN in the bytes after their end; outputs carry guard values there, which must survive.
import { gemm_forward, gemm_dw, gemm_dx, gemm_pack_b, gemm_forward_packed, gemm_dw_rows } from "../gemm";
import { step, activate } from "./gemm-reference";

const SLACK = 8; // floats after every buffer
const GUARD: f32 = 12345.5;

let seed: u32 = 77;
function rand(): f32 {
  seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
  return <f32>(<f64>seed / 4294967296.0 * 2 - 1);
}
function buf(n: i32): usize { return heap.alloc(<usize>(n + SLACK) << 2); }
function at(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
function put(p: usize, i: i32, v: f32): void { store<f32>(p + (<usize>i << 2), v); }
function input(p: usize, n: i32): void {
  for (let i = 0; i < n; i++) put(p, i, rand());
  for (let i = n; i < n + SLACK; i++) put(p, i, NaN);
}
/** Stale values in n floats at p (a kernel must overwrite them), then the guard after them. */
function fresh(p: usize, n: i32): void {
  for (let i = 0; i < n; i++) put(p, i, 1000 + rand());
  for (let i = n; i < n + SLACK; i++) put(p, i, GUARD);
}
/** Compares n floats at got with want bit for bit, then the guards after got; reports the first miss. */
function same(what: string, got: usize, want: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    if (load<u32>(got + (<usize>i << 2)) == load<u32>(want + (<usize>i << 2))) continue;
    log<string>(what + " [" + i.toString() + "] got " + at(got, i).toString() + " want " + at(want, i).toString());
    expect<bool>(false).toBe(true);
    return;
  }
  for (let i = n; i < n + SLACK; i++) {
    if (at(got, i) == GUARD) continue;
    log<string>(what + ": wrote past the end, at " + i.toString());
    expect<bool>(false).toBe(true);
    return;
  }
}
function shape(M: i32, K: i32, N: i32): string {
  return " M=" + M.toString() + " K=" + K.toString() + " N=" + N.toString();
}

const MAX = 520 * 520;
const x = buf(MAX);
const w = buf(MAX);
const bias = buf(MAX);
const dy = buf(MAX);
const out = buf(MAX);
const want = buf(MAX);
const wt = buf(MAX);

/** Rows x K x columns: each block boundary crossed on one axis, the others small enough for a plain loop's time. */
const KS: i32[] = [1, 3, 255, 256, 257, 515];
const MS: i32[] = [1, 2, 3, 4, 5, 6, 255, 256, 257, 515];
const NS: i32[] = [1, 15, 16, 17, 35];
function shapes(): i32[][] {
  const s: i32[][] = [];
  for (let a = 0; a < KS.length; a++) { s.push([5, KS[a], 17]); s.push([3, KS[a], 33]); }
  for (let a = 0; a < MS.length; a++) s.push([MS[a], 257, 17]);
  for (let a = 0; a < NS.length; a++) s.push([7, 515, NS[a]]);
  s.push([257, 515, 35]);
  return s;
}

describe("gemm_forward, blocked", () => {
  it("Y = act(bias + X W) bit for bit as one sum per element in order, every activation, with and without bias", () => {
    const all = shapes();
    for (let t = 0; t < all.length; t++) {
      const B = all[t][0], I = all[t][1], O = all[t][2];
      input(x, B * I); input(w, I * O); input(bias, O);
      for (let act = 0; act <= 4; act++) {
        const b: usize = act < 4 ? bias : 0; // the last pass: no bias, no activation
        const f = act < 4 ? act : 0;
        for (let r = 0; r < B; r++) for (let o = 0; o < O; o++) {
          let z: f32 = b ? at(b, o) : 0;
          for (let k = 0; k < I; k++) z = step(z, at(x, r * I + k), at(w, k * O + o));
          put(want, r * O + o, activate(z, f));
        }
        fresh(out, B * O);
        gemm_forward(x, w, b, out, B, I, O, f);
        same("gemm_forward act=" + f.toString() + shape(B, I, O), out, want, B * O);
      }
    }
  });
});

describe("gemm_dw, blocked", () => {
  it("dW (+)= X^T dY bit for bit as one sum per element over the batch in order, overwriting and accumulating", () => {
    const all = shapes();
    for (let t = 0; t < all.length; t++) {
      const I = all[t][0], B = all[t][1], O = all[t][2]; // rows of dW, the batch (K), columns
      input(x, B * I); input(dy, B * O);
      for (let accumulate = 0; accumulate < 2; accumulate++) {
        fresh(out, I * O);
        for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) {
          let z: f32 = accumulate ? at(out, i * O + o) : 0;
          for (let r = 0; r < B; r++) z = step(z, at(x, r * I + i), at(dy, r * O + o));
          put(want, i * O + o, z);
        }
        gemm_dw(x, dy, out, B, I, O, accumulate);
        same("gemm_dw accumulate=" + accumulate.toString() + shape(I, B, O), out, want, I * O);
      }
    }
  });
});

describe("gemm_dx, blocked", () => {
  it("dX = dY W^T bit for bit as one sum per element in order, W^T packed from W", () => {
    const all = shapes();
    for (let t = 0; t < all.length; t++) {
      const B = all[t][0], O = all[t][1], I = all[t][2]; // rows, the sum over outputs (K), columns
      input(dy, B * O); input(w, I * O);
      for (let r = 0; r < B; r++) for (let i = 0; i < I; i++) {
        let z: f32 = 0;
        for (let o = 0; o < O; o++) z = step(z, at(dy, r * O + o), at(w, i * O + o));
        put(want, r * I + i, z);
      }
      fresh(out, B * I);
      gemm_dx(dy, w, out, B, I, O);
      same("gemm_dx" + shape(B, O, I), out, want, B * I);
    }
  });
});

describe("the threads build's row-range forms, blocked", () => {
  it("gemm_forward_packed over gemm_pack_b's panels, gemm_dw_rows over a split of rows, gemm_dx over a split of rows: the same bits", () => {
    const all = shapes();
    for (let t = 0; t < all.length; t++) {
      const B = all[t][0], K = all[t][1], N = all[t][2];
      // forward: Y(B, N) = relu(bias + X(B, K) W(K, N)), W packed in two calls (panels split as the pool splits them)
      input(x, B * K); input(w, K * N); input(bias, N);
      fresh(out, B * N);
      gemm_forward(x, w, bias, out, B, K, N, 1);
      memory.copy(want, out, <usize>(B * N) << 2);
      const panels = (N + 15) >> 4, half = panels >> 1;
      gemm_pack_b(w, wt, K, N, 0, half); gemm_pack_b(w, wt, K, N, half, panels);
      fresh(out, B * N);
      gemm_forward_packed(x, wt, bias, out, B, K, N, 1);
      same("gemm_forward_packed" + shape(B, K, N), out, want, B * N);
      // dW(B rows here, N) += X(K, B)^T dY(K, N), rows split at an odd row
      input(dy, K * N);
      fresh(out, B * N);
      memory.copy(want, out, <usize>(B * N + SLACK) << 2);
      gemm_dw(x, dy, want, K, B, N, 1);
      let cut = (B >> 1) | 1; // an odd cut: a pair of rows split between two calls
      if (cut > B) cut = B;
      gemm_dw_rows(x, dy, out, K, B, N, 1, 0, cut); gemm_dw_rows(x, dy, out, K, B, N, 1, cut, B);
      same("gemm_dw_rows" + shape(B, K, N), out, want, B * N);
      // dX(B, N) = dY(B, K) W(N, K)^T, rows split at the same odd cut (the pool's split of gemm_dx)
      fresh(out, B * N);
      gemm_dx(x, w, out, B, N, K);
      memory.copy(want, out, <usize>(B * N) << 2);
      fresh(out, B * N);
      gemm_dx(x, w, out, cut, N, K);
      gemm_dx(x + ((<usize>(cut * K)) << 2), w, out + ((<usize>(cut * N)) << 2), B - cut, N, K);
      same("gemm_dx split by rows" + shape(B, K, N), out, want, B * N);
    }
  });
});
