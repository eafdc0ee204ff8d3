// The cache-blocked dense GEMM at shapes past its blocks (K over 256 = KC, rows over 256 = MC, columns past whole
// panels) gives the bits of the loop order it replaced: each element's sum in order k = 0..K-1 from its initial value,
// f32 product then f32 sum (the default build's madd), the activation last. The reference is that loop in JS
// (Math.fround after each operation: exact f32 arithmetic), and the pool of ready({ threads: 2 }) must give the same.
import { beforeAll, describe, expect, it } from "vitest";
import { ready, wasmBuild } from "../dist/index.js";
import { engine, type Engine } from "../dist/engine.js";
import { rng } from "./helpers.js";

let e: Engine;
beforeAll(async () => {
  await ready({ threads: 2 });
  e = engine("test");
});

const f = Math.fround;
function uniform(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => 2 * r() - 1);
}
/** C(M, N) = act(init + A B), A(i, k) = a(i, k), B(k, n) = b(k, n), summed in order in f32. */
function reference(M: number, N: number, K: number, a: (i: number, k: number) => number,
  b: (k: number, n: number) => number, init: (i: number, n: number) => number, relu: boolean): Float32Array {
  const c = new Float32Array(M * N);
  const col = new Float64Array(K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) col[k] = b(k, n);
    for (let i = 0; i < M; i++) {
      let z = init(i, n);
      for (let k = 0; k < K; k++) z = f(z + f(a(i, k) * col[k]));
      c[i * N + n] = relu && z < 0 ? 0 : z;
    }
  }
  return c;
}
function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}
/** The first index where got and want differ in their bits, or -1. */
function firstMiss(got: Float32Array, want: Float32Array): number {
  const g = bits(got), w = bits(want);
  expect(g.length).toBe(w.length);
  for (let i = 0; i < g.length; i++) if (g[i] !== w[i]) return i;
  return -1;
}

// B x I x O: 260 rows cross MC for the forward pass and dX, I = 530 crosses it for dW (its rows), K crosses KC twice
// for the forward pass (I = 530) and dX (O = 515), O's and I's last panels are partial.
// With 2 threads the column split (W the larger operand) leaves a last share of one column at O = 33 (the forward pass)
// and at I = 33 (dX): a tile narrower than a vector.
const SHAPES = [[260, 530, 515], [67, 530, 35], [8, 500, 33], [8, 33, 500]];

describe("the blocked GEMM against the unblocked loop order, 1 and 2 threads", () => {
  it("runs the default (mul then add) arithmetic this reference models", () => {
    expect(wasmBuild()).toBe("simd");
    expect(e.pool?.size).toBe(2);
  });

  for (const [B, I, O] of SHAPES) {
    it(`forward, dW (overwriting and accumulating) and dX at ${B}x${I}x${O}, bit for bit`, () => {
      const mark = e.mark();
      try {
        const xs = uniform(B * I, 1), ws = uniform(I * O, 2), bs = uniform(O, 3), dys = uniform(B * O, 4), olds = uniform(I * O, 5);
        const x = e.put(xs), w = e.put(ws), bias = e.put(bs), dy = e.put(dys);
        const y = e.alloc(B * O * 4), dw = e.alloc(I * O * 4), dx = e.alloc(B * I * 4);
        const wantY = reference(B, O, I, (i, k) => xs[i * I + k], (k, n) => ws[k * O + n], (_, n) => bs[n], true);
        const wantDw = reference(I, O, B, (i, k) => xs[k * I + i], (k, n) => dys[k * O + n], () => 0, false);
        const wantAcc = reference(I, O, B, (i, k) => xs[k * I + i], (k, n) => dys[k * O + n], (i, n) => olds[i * O + n], false);
        const wantDx = reference(B, I, O, (i, k) => dys[i * O + k], (k, n) => ws[n * O + k], () => 0, false);
        for (const [who, d] of [["1 thread", e.k], ["2 threads", e.d]] as const) {
          e.f32(y, B * O).fill(NaN); // stale values the kernel must overwrite
          d.gemm_forward(x, w, bias, y, B, I, O, e.act.relu);
          expect(firstMiss(e.f32(y, B * O), wantY), `${who} forward`).toBe(-1);
          d.gemm_dw(x, dy, dw, B, I, O, 0);
          expect(firstMiss(e.f32(dw, I * O), wantDw), `${who} dW`).toBe(-1);
          e.f32(dw, I * O).set(olds);
          d.gemm_dw(x, dy, dw, B, I, O, 1);
          expect(firstMiss(e.f32(dw, I * O), wantAcc), `${who} dW accumulating`).toBe(-1);
          d.gemm_dx(dy, w, dx, B, I, O);
          expect(firstMiss(e.f32(dx, B * I), wantDx), `${who} dX`).toBe(-1);
        }
      } finally {
        e.release(mark);
      }
    }, 60_000);
  }
});
