// A dense layer's dW and the optimizer's step over its weights as one job a thread (Pool.gemm_dw_step): the same bits
// as the two calls on one thread, for widths whose rows of W do not start at multiples of 16 weights, and one pool job
// fewer a training step (784-128-10 at batch 64: the first layer's forward, then its dW with the step).
import { beforeAll, describe, expect, it } from "vitest";
import { randn } from "./helpers.js";

type Lib = typeof import("../dist/index.js");
interface PoolInside {
  size: number;
  run(fn: string, jobs: number[][]): number[];
}

let lib: Lib;
let e: import("../dist/engine.js").Engine;
let serial: typeof import("../dist/dispatch.js").serial;
beforeAll(async () => {
  lib = await import("../dist/index.js");
  await lib.ready({ threads: 3 });
  e = (await import("../dist/engine.js")).engine("test");
  serial = (await import("../dist/dispatch.js")).serial;
});

const steps = {
  sgd: (p: number, s: number[]) => ({ fn: "sgd_update" as const, p, state: s.slice(0, 1), hyper: [0.05, 0.9, 1, 1e-4] }),
  adam: (p: number, s: number[]) => ({ fn: "adam_update" as const, p, state: s,
    hyper: [1e-3, 0.9, 0.999, 1e-8, 1e-2, 1, 1 - 0.9 ** 3, 1 - 0.999 ** 3] }),
};

describe("gemm_dw_step on a pool of 3 threads", () => {
  it("is a real split: the pool has 3 threads", () => {
    expect((e.pool as unknown as PoolInside).size).toBe(3);
  });

  // O = 10 and 7: rows start at multiples of 8 and 16 rows (16 weights); 600: of 2; 128: of 2
  for (const [B, I, O] of [[64, 784, 10], [32, 100, 600], [64, 784, 128], [48, 700, 7]]) {
    for (const kind of ["sgd", "adam"] as const) {
      for (const sparse of [false, true]) {
        it(`gives one thread's bits for [${B},${I}]^T x [${B},${O}], ${kind}${sparse ? ", zero-skipping" : ""}`, () => {
          const x = randn(B * I, 1, 1).map((v) => (sparse && v < 0.8 ? 0 : v)); // mostly zeros when sparse
          const dy = randn(B * O, 0.1, 2);
          const run = (d: typeof e.d | ReturnType<typeof serial>) => {
            const mark = e.mark();
            try {
              const xs = e.put(x), dys = e.put(dy), dw = e.put(randn(I * O, 1, 3)); // dW overwritten, not accumulated
              const p = e.put(randn(I * O, 0.1, 4)), s = [e.put(randn(I * O, 0.01, 5)), e.put(randn(I * O, 0.01, 6).map(Math.abs))];
              d.gemm_dw_step(xs, dys, dw, B, I, O, sparse, steps[kind](p, s));
              return [dw, p, ...s].map((ptr) => Buffer.from(e.bytes(ptr, I * O * 4)).toString("base64"));
            } finally {
              e.release(mark);
            }
          };
          const one = run(serial(e.k));
          expect(run(e.d)).toEqual(one);
          expect(2 * B * I * O).toBeGreaterThanOrEqual(1 << 18); // large enough to split
        });
      }
    }
  }
});

describe("a training step of 784-128-10 at batch 64 on the pool", () => {
  it("is 2 jobs: the first layer's forward, then its dW with the optimizer's step (SGD and Adam)", async () => {
    const pool = e.pool as unknown as PoolInside;
    const images = new Uint8Array(640 * 784).map((_, i) => ((i * 2654435761) >>> 24) & 0xff);
    const labels = new Uint8Array(640).map((_, i) => i % 10);
    for (const optimizer of [{ name: "sgd", lr: 0.05, momentum: 0.9 }, { name: "adam", lr: 1e-3 }] as const) {
      const net = new lib.Network({ sizes: [784, 128, 10], seed: 1 });
      const fns: string[] = [];
      const run = pool.run;
      pool.run = (fn, jobs) => (fns.push(fn), run.call(pool, fn, jobs));
      try {
        await net.fit(images, labels, { epochs: 1, batchSize: 64, optimizer });
      } finally {
        pool.run = run;
        net.dispose();
      }
      expect(fns.length / 10, optimizer.name).toBe(2);
      // these images have few zeros: the dense forward, split by columns (W, 784 x 128, is larger than X, 64 x 784)
      expect(fns.slice(0, 2)).toEqual(["gemm_forward_cols", "pair"]);
    }
  });
});
