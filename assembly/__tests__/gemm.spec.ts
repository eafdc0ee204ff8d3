// The dense-layer kernels at every remainder of their tiles (two rows; 16, 12, 8, 4 and 1..3 columns; the sparse
// forms' 32-column blocks) against float64 references. Inputs carry NaN in the 32 bytes after their end, which a
// whole-vector over-read may bring into a padding lane but must never bring into a result; outputs carry guard values
// there, which must survive.
import { gemm_forward, gemm_dw, gemm_dx, bias_grad } from "../gemm";
import { gemm_forward_sparse, gemm_dw_sparse } from "../gemm-sparse";

const BS: i32[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 17];
const IS: i32[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 33];
const OS: i32[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33];
const ACTS = 4; // 0 none, 1 ReLU, 2 sigmoid, 3 tanh
const SLACK = 8; // floats after every buffer
const GUARD: f32 = 12345.5;

let seed: u32 = 2024;
function rand(): f64 {
  seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
  return <f64>seed / 4294967296.0;
}
function buf(n: i32): usize { return heap.alloc(<usize>(n + SLACK) << 2); }
function at(p: usize, i: i32): f64 { return <f64>load<f32>(p + (<usize>i << 2)); }
function put(p: usize, i: i32, v: f64): void { store<f32>(p + (<usize>i << 2), <f32>v); }
/** n floats uniform in [-1, 1), a fraction `zeros` of them 0; NaN after the end. */
function input(p: usize, n: i32, zeros: f64): void {
  for (let i = 0; i < n; i++) put(p, i, rand() < zeros ? 0 : 2 * rand() - 1);
  for (let i = n; i < n + SLACK; i++) put(p, i, NaN);
}
/** Stale values in n floats at p (a kernel must overwrite them all), then the guard after them. */
function fresh(p: usize, n: i32): void {
  for (let i = 0; i < n; i++) put(p, i, 1000 + rand());
  guard(p, n);
}
function guard(p: usize, n: i32): void {
  for (let i = n; i < n + SLACK; i++) store<f32>(p + (<usize>i << 2), GUARD);
}
function guarded(what: string, p: usize, n: i32): void {
  for (let i = n; i < n + SLACK; i++) {
    if (load<f32>(p + (<usize>i << 2)) == GUARD) continue;
    log<string>(what + ": wrote past the end, at " + i.toString());
    expect<bool>(false).toBe(true);
    return;
  }
}
function activate(z: f64, act: i32): f64 {
  if (act == 1) return z > 0 ? z : 0;
  if (act == 2) return 1 / (1 + Math.exp(-z));
  if (act == 3) return Math.tanh(z);
  return z;
}
/** got against want within 1e-5 relative plus 2e-6 per unit of s, the sum of |products| (bias and initial value included). */
function check(what: string, B: i32, I: i32, O: i32, i: i32, got: f64, want: f64, s: f64): void {
  // expect only on a miss: as-pect's expect is too slow to call for each of ~10^6 elements
  if (Math.abs(got - want) <= 1e-5 * Math.abs(want) + 2e-6 * s) return;
  log<string>(what + " B=" + B.toString() + " I=" + I.toString() + " O=" + O.toString() + " [" + i.toString() +
    "] got " + got.toString() + " want " + want.toString());
  expect<bool>(false).toBe(true);
}

const MAX = 40000;
const x = buf(MAX);
const w = buf(MAX);
const bias = buf(MAX);
const dy = buf(MAX);
const out = buf(MAX);
const before = buf(MAX);

/** out(B, O) against act(X W + bias) (bias 0: none). */
function checkForward(what: string, B: i32, I: i32, O: i32, b: usize, act: i32): void {
  for (let r = 0; r < B; r++) for (let o = 0; o < O; o++) {
    let z: f64 = b ? at(b, o) : 0;
    let s: f64 = Math.abs(z);
    for (let k = 0; k < I; k++) {
      const p = at(x, r * I + k) * at(w, k * O + o);
      z += p; s += Math.abs(p);
    }
    check(what + " act=" + act.toString(), B, I, O, r * O + o, at(out, r * O + o), activate(z, act), s);
  }
  guarded(what, out, B * O);
}

/** out(I, O) against before + X^T dY (accumulate) or X^T dY. */
function checkDw(what: string, B: i32, I: i32, O: i32, accumulate: i32): void {
  for (let k = 0; k < I; k++) for (let o = 0; o < O; o++) {
    let z: f64 = accumulate ? at(before, k * O + o) : 0;
    let s: f64 = Math.abs(z);
    for (let r = 0; r < B; r++) {
      const p = at(x, r * I + k) * at(dy, r * O + o);
      z += p; s += Math.abs(p);
    }
    check(what + " accumulate=" + accumulate.toString(), B, I, O, k * O + o, at(out, k * O + o), z, s);
  }
  guarded(what, out, I * O);
}

describe("gemm_forward", () => {
  it("dense and sparse X, every activation, with and without bias, at every tile remainder", () => {
    for (let a = 0; a < BS.length; a++) for (let c = 0; c < IS.length; c++) for (let d = 0; d < OS.length; d++) {
      const B = BS[a], I = IS[c], O = OS[d];
      input(w, I * O, 0); input(bias, O, 0);
      for (let sparse = 0; sparse < 2; sparse++) {
        input(x, B * I, sparse ? 0.8 : 0);
        for (let act = 0; act <= ACTS; act++) {
          const b: usize = act < ACTS ? bias : 0; // the last pass: no bias, no activation
          const f = act < ACTS ? act : 0;
          fresh(out, B * O);
          if (sparse) gemm_forward_sparse(x, w, b, out, B, I, O, f);
          else gemm_forward(x, w, b, out, B, I, O, f);
          checkForward(sparse ? "gemm_forward_sparse" : "gemm_forward", B, I, O, b, f);
        }
      }
    }
  });

  it("sparse X longer than the nonzero list (several passes over a row), and rows all zeros", () => {
    const B = 3, O = 17;
    for (let t = 0; t < 3; t++) {
      const I = t == 0 ? 1024 : t == 1 ? 1030 : 2100;
      input(x, B * I, 0.3); input(w, I * O, 0); input(bias, O, 0);
      for (let k = 0; k < I; k++) put(x, I + k, 0); // row 1: no nonzero at all
      for (let act = 0; act < ACTS; act++) {
        fresh(out, B * O);
        gemm_forward_sparse(x, w, bias, out, B, I, O, act);
        checkForward("gemm_forward_sparse long", B, I, O, bias, act);
      }
    }
  });
});

describe("gemm_dw", () => {
  it("dense and sparse X, overwriting and accumulating, at every tile remainder", () => {
    for (let a = 0; a < BS.length; a++) for (let c = 0; c < IS.length; c++) for (let d = 0; d < OS.length; d++) {
      const B = BS[a], I = IS[c], O = OS[d];
      input(dy, B * O, 0);
      for (let sparse = 0; sparse < 2; sparse++) {
        input(x, B * I, sparse ? 0.8 : 0);
        for (let accumulate = 0; accumulate < 2; accumulate++) {
          input(before, I * O, 0);
          memory.copy(out, before, <usize>(I * O) << 2);
          guard(out, I * O);
          if (sparse) gemm_dw_sparse(x, dy, out, B, I, O, accumulate);
          else gemm_dw(x, dy, out, B, I, O, accumulate);
          checkDw(sparse ? "gemm_dw_sparse" : "gemm_dw", B, I, O, accumulate);
        }
      }
    }
  });

  it("sparse X with more rows than the nonzero list holds", () => {
    const I = 5, O = 9;
    for (let t = 0; t < 2; t++) {
      const B = t == 0 ? 1025 : 2100;
      input(x, B * I, 0.5); input(dy, B * O, 0);
      for (let r = 0; r < B; r++) put(x, r * I + 2, 0); // column 2: no nonzero at all
      for (let accumulate = 0; accumulate < 2; accumulate++) {
        input(before, I * O, 0);
        memory.copy(out, before, <usize>(I * O) << 2);
        guard(out, I * O);
        gemm_dw_sparse(x, dy, out, B, I, O, accumulate);
        checkDw("gemm_dw_sparse long", B, I, O, accumulate);
      }
    }
  });
});

describe("gemm_dx and bias_grad", () => {
  it("gemm_dx at every tile and panel remainder", () => {
    for (let a = 0; a < BS.length; a++) for (let c = 0; c < IS.length; c++) for (let d = 0; d < OS.length; d++) {
      const B = BS[a], I = IS[c], O = OS[d];
      input(dy, B * O, 0); input(w, I * O, 0);
      fresh(out, B * I);
      gemm_dx(dy, w, out, B, I, O);
      for (let r = 0; r < B; r++) for (let k = 0; k < I; k++) {
        let z: f64 = 0, s: f64 = 0;
        for (let o = 0; o < O; o++) {
          const p = at(dy, r * O + o) * at(w, k * O + o);
          z += p; s += Math.abs(p);
        }
        check("gemm_dx", B, I, O, r * I + k, at(out, r * I + k), z, s);
      }
      guarded("gemm_dx", out, B * I);
    }
  });

  it("bias_grad overwriting and accumulating", () => {
    for (let a = 0; a < BS.length; a++) for (let d = 0; d < OS.length; d++) {
      const B = BS[a], O = OS[d];
      input(dy, B * O, 0);
      for (let accumulate = 0; accumulate < 2; accumulate++) {
        input(before, O, 0);
        memory.copy(out, before, <usize>O << 2);
        guard(out, O);
        bias_grad(dy, out, B, O, accumulate);
        for (let o = 0; o < O; o++) {
          let z: f64 = accumulate ? at(before, o) : 0;
          let s: f64 = Math.abs(z);
          for (let r = 0; r < B; r++) { z += at(dy, r * O + o); s += Math.abs(at(dy, r * O + o)); }
          check("bias_grad accumulate=" + accumulate.toString(), B, 1, O, o, at(out, o), z, s);
        }
        guarded("bias_grad", out, O);
      }
    }
  });
});

describe("empty sums", () => {
  it("I = 0 gives act(bias); B = 0 gives zero gradients, or leaves them when accumulating; O = 0 gives dX = 0", () => {
    const B = 3, I = 5, O = 17;
    input(bias, O, 0);
    for (let act = 0; act < ACTS; act++) {
      fresh(out, B * O);
      gemm_forward(x, w, bias, out, B, 0, O, act);
      checkForward("gemm_forward I=0", B, 0, O, bias, act);
      fresh(out, B * O);
      gemm_forward_sparse(x, w, bias, out, B, 0, O, act);
      checkForward("gemm_forward_sparse I=0", B, 0, O, bias, act);
    }
    for (let accumulate = 0; accumulate < 2; accumulate++) {
      for (let sparse = 0; sparse < 2; sparse++) {
        input(before, I * O, 0);
        memory.copy(out, before, <usize>(I * O) << 2);
        guard(out, I * O);
        if (sparse) gemm_dw_sparse(x, dy, out, 0, I, O, accumulate);
        else gemm_dw(x, dy, out, 0, I, O, accumulate);
        checkDw(sparse ? "gemm_dw_sparse B=0" : "gemm_dw B=0", 0, I, O, accumulate);
      }
      input(before, O, 0);
      memory.copy(out, before, <usize>O << 2);
      guard(out, O);
      bias_grad(dy, out, 0, O, accumulate);
      for (let o = 0; o < O; o++) {
        check("bias_grad B=0", 0, 1, O, o, at(out, o), accumulate ? at(before, o) : 0, 0);
      }
      guarded("bias_grad B=0", out, O);
    }
    fresh(out, B * I);
    gemm_dx(dy, w, out, B, I, 0);
    for (let i = 0; i < B * I; i++) check("gemm_dx O=0", B, I, 0, i, at(out, i), 0, 0);
    guarded("gemm_dx O=0", out, B * I);
  });
});
