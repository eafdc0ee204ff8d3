// The zero-skipping forward pass (gemm_forward_sparse, blocked over groups of 32 images) in the threads build: on the
// calling thread, through the pool of ready({ threads: 2 }) (rows split between the threads), and called on uneven
// ranges of rows by hand, it gives the bits of a plain loop: each element from its bias (or 0), adding x w for each
// nonzero x (a NaN x included), k ascending, f32 product then f32 sum (the default build's madd), the activation
// last. The smooth activations, which this loop does not model, must agree between every split. Output buffers carry
// guard values after their end, which must survive.
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
const GUARD = 12345.5, SLACK = 8;
/** MNIST-like X(B, I): a fifth nonzero, every fifth row (the 2nd, 7th, ...) all zeros, NaN at x(3, I / 2) if `nan`. */
function pixels(B: number, I: number, seed: number, nan: boolean): Float32Array {
  const r = rng(seed);
  const x = Float32Array.from({ length: B * I }, (_, i) => (Math.floor(i / I) % 5 === 1 || r() < 0.8 ? 0 : r()));
  if (nan && B > 3) x[3 * I + (I >> 1)] = NaN;
  return x;
}
function uniform(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => 2 * r() - 1);
}
/** act(bias + X W), each sum over the nonzero x in order of k, in f32; act "none" or "relu" (ReLU passes NaN). */
function reference(x: Float32Array, w: Float32Array, bias: Float32Array | undefined, B: number, I: number, O: number,
  relu: boolean): Float32Array {
  const y = new Float32Array(B * O);
  for (let r = 0; r < B; r++) {
    const ks: number[] = [];
    for (let k = 0; k < I; k++) if (x[r * I + k] !== 0) ks.push(k);
    for (let o = 0; o < O; o++) {
      let z = bias ? bias[o] : 0;
      for (const k of ks) z = f(z + f(x[r * I + k] * w[k * O + o]));
      y[r * O + o] = relu && z < 0 ? 0 : z;
    }
  }
  return y;
}
/** The first index where got and want differ in their bits, or -1. */
function firstMiss(got: Float32Array, want: Float32Array): number {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length), w = new Uint32Array(want.buffer.slice(want.byteOffset, want.byteOffset + want.byteLength));
  expect(g.length).toBe(w.length);
  for (let i = 0; i < g.length; i++) if (g[i] !== w[i]) return i;
  return -1;
}

// B around the group of 32 (and a batch of 64 split 32 + 32 by the pool, 67 split 34 + 33) and the fewest packed (4);
// I: MNIST's 784, and 1000 (three lists of 256); O: 800, 37 (a 32-column block and a tail), 100, 1024
const SHAPES = [[64, 784, 800], [67, 1000, 37], [33, 784, 100], [31, 257, 800], [130, 784, 37], [1, 784, 800], [4, 1000, 1024]];
const ACTS = ["none", "relu", "sigmoid", "tanh"] as const;

describe("the blocked sparse forward pass, 1 and 2 threads and any split of the rows", () => {
  it("runs the default (mul then add) arithmetic the reference models", () => {
    expect(wasmBuild()).toBe("simd");
    expect(e.pool?.size).toBe(2);
  });

  it("each thread gathers into its own lists: 300 calls of 2 threads at 64x784x800 all give 1 thread's bits", () => {
    // lists shared between the threads (scratch not given to a worker) corrupt each other's sums or read past W
    const B = 64, I = 784, O = 800;
    const mark = e.mark();
    try {
      const x = e.put(pixels(B, I, 7, false)), w = e.put(uniform(I * O, 8)), y = e.alloc(B * O * 4);
      e.k.gemm_forward_sparse(x, w, 0, y, B, I, O, e.act.none);
      const want = e.f32(y, B * O).slice();
      let differ = 0;
      for (let n = 0; n < 300; n++) {
        e.d.gemm_forward(x, w, 0, y, B, I, O, e.act.none, true);
        if (firstMiss(e.f32(y, B * O), want) !== -1) differ++;
      }
      expect(differ).toBe(0);
    } finally {
      e.release(mark);
    }
  }, 60_000);

  SHAPES.forEach(([B, I, O], s) => {
    it(`${B}x${I}x${O}: the plain loop's bits (none, ReLU), and each split's alike (every act), bias or none, NaN`, () => {
      const mark = e.mark();
      try {
        const ws = uniform(I * O, 10 + s), bs = uniform(O, 20 + s);
        const w = e.put(ws), bias = e.put(bs);
        const y = e.alloc((B * O + SLACK) * 4);
        const out = e.f32(y, B * O + SLACK);
        // uneven ranges of rows, each a separate call: a group cut short, one row, the rest
        const cuts = [0, Math.min(B, 5), Math.min(B, 6), Math.min(B, 45), B];
        for (const nan of [false, true]) {
          const xs = pixels(B, I, 30 + s, nan);
          const x = e.put(xs);
          for (const [a, act] of ACTS.entries()) {
            const b = a % 2 === 0 ? bias : 0;
            const want = act === "none" || act === "relu" ? reference(xs, ws, b ? bs : undefined, B, I, O, act === "relu") : undefined;
            let first: Float32Array | undefined;
            const ways: [string, () => void][] = [
              ["1 thread", () => e.k.gemm_forward_sparse(x, w, b, y, B, I, O, e.act[act])],
              ["2 threads", () => e.d.gemm_forward(x, w, b, y, B, I, O, e.act[act], true)],
              ["row ranges", () => {
                for (let c = 0; c + 1 < cuts.length; c++) {
                  const r0 = cuts[c], r1 = cuts[c + 1];
                  if (r1 > r0) e.k.gemm_forward_sparse(x + r0 * I * 4, w, b, y + r0 * O * 4, r1 - r0, I, O, e.act[act]);
                }
              }],
            ];
            if (!nan) ways.push(["dense", () => e.k.gemm_forward(x, w, b, y, B, I, O, e.act[act])]);
            for (const [who, run] of ways) {
              const what = `${who} act=${act} bias=${b !== 0} nan=${nan}`;
              out.fill(1000); // stale values the kernel must overwrite
              out.fill(GUARD, B * O);
              run();
              const got = out.slice(0, B * O);
              if (want) expect(firstMiss(got, want), what).toBe(-1);
              if (first) expect(firstMiss(got, first), `${what} against 1 thread`).toBe(-1);
              else first = got;
              expect(Array.from(out.subarray(B * O)), `${what}: guards`).toEqual(Array(SLACK).fill(GUARD));
            }
            if (nan && B > 3) expect(first!.subarray(3 * O, 4 * O).every(Number.isNaN), "the NaN row").toBe(true);
          }
        }
      } finally {
        e.release(mark);
      }
    }, 60_000);
  });
});
