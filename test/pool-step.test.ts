// A training step's fused pool jobs: a dense layer's dW and the optimizer's step over its weights as one job a thread
// (Pool.gemm_dw_step), and the batch's rows gathered with the first layer's forward pass over them (Pool.gather_forward):
// the same bits as the calls on one thread, for widths whose rows of W do not start at multiples of 16 weights, pixels
// and floats, and two pool jobs a training step (784-128-10 at batch 64: the gather with the first layer's forward,
// then its dW with the step).
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
let JOB_FNS: readonly string[];
beforeAll(async () => {
  lib = await import("../dist/index.js");
  await lib.ready({ threads: 3 });
  e = (await import("../dist/engine.js")).engine("test");
  serial = (await import("../dist/dispatch.js")).serial;
  JOB_FNS = (await import("../dist/threads.js")).JOB_FNS;
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

describe("gather_forward on a pool of 3 threads", () => {
  const [N, I] = [300, 784];
  const pixels = new Uint8Array(N * I).map((_, i) => (((i * 2654435761) >>> 24) & 0xff) > 200 ? i & 0xff : 0); // ~80% zeros
  const idx = Int32Array.from({ length: 256 }, (_, i) => (i * 97 + 13) % N); // a shuffled batch's scattered rows
  // B = 64: split in threads' rows; 3: too few rows to split; 256 x 800 floats, dense: W packed first (gathered here)
  for (const [B, O, kind, sparse] of [[64, 128, "u8", true], [64, 10, "u8", true], [64, 128, "u8", false],
    [64, 128, "f32", true], [37, 100, "f32", false], [3, 128, "u8", true], [256, 800, "f32", false]] as const) {
    it(`gives one thread's bits: ${B} rows of ${kind} gathered, then [${B},${I}] x [${I},${O}]${sparse ? ", zero-skipping" : ""}`, () => {
      const run = (d: typeof e.d | ReturnType<typeof serial>) => {
        const mark = e.mark();
        try {
          const src = kind === "u8" ? e.alloc(N * I) : e.put(Float32Array.from(pixels, (v) => v / 255));
          if (kind === "u8") e.write(src, pixels);
          const ix = e.alloc(B * 4);
          e.write(ix, idx.subarray(0, B));
          const x = e.put(randn(B * I, 1, 7)), w = e.put(randn(I * O, 0.05, 8)), bias = e.put(randn(O, 0.1, 9));
          const y = e.put(randn(B * O, 1, 10));
          d.gather_forward({ src, idx: ix, scale: kind === "u8" ? 1 / 255 : undefined }, x, w, bias, y, B, I, O, e.act.relu, sparse);
          return [Buffer.from(e.bytes(x, B * I * 4)).toString("base64"), Buffer.from(e.bytes(y, B * O * 4)).toString("base64")];
        } finally {
          e.release(mark);
        }
      };
      const one = run(serial(e.k));
      expect(run(e.d)).toEqual(one);
      // and the rows gathered are the dataset's: row idx[b] at row b of x, for the first and the last
      const b64 = Buffer.from(one[0], "base64");
      const x = new Float32Array(b64.buffer, b64.byteOffset, B * I);
      for (const b of [0, B - 1]) {
        const row = pixels.subarray(idx[b] * I, (idx[b] + 1) * I); // u8: v times f32(1 / 255); f32: the floats put in
        const want = Float32Array.from(row, (v) => Math.fround(kind === "u8" ? v * Math.fround(1 / 255) : v / 255));
        expect(x.subarray(b * I, (b + 1) * I)).toEqual(want);
      }
    });
  }
});

describe("a training step of 784-128-10 at batch 64 on the pool", () => {
  // MNIST-like images (about 80% zeros: the zero-skipping first layer, split by rows) and images with few zeros (the
  // dense forward pass, split by columns: W, 784 x 128, is larger than X, 64 x 784, so the rows are gathered first)
  const sparseImages = new Uint8Array(640 * 784).map((_, i) => (((i * 2654435761) >>> 24) & 0xff) < 205 ? 0 : 255);
  const denseImages = new Uint8Array(640 * 784).map((_, i) => ((i * 2654435761) >>> 24) & 0xff);
  for (const [what, images, first] of [["MNIST-like", sparseImages, "pair"], ["dense", denseImages, "gemm_forward_cols"]] as const) {
    it(`is 2 jobs with ${what} images: the first layer's forward (${first === "pair" ? "with the gather" : "by columns"}), then its dW with the optimizer's step (SGD and Adam)`, async () => {
      const pool = e.pool as unknown as PoolInside;
      const labels = new Uint8Array(640).map((_, i) => i % 10);
      for (const optimizer of [{ name: "sgd", lr: 0.05, momentum: 0.9 }, { name: "adam", lr: 1e-3 }] as const) {
        const net = new lib.Network({ sizes: [784, 128, 10], seed: 1 });
        const fns: string[] = [], jobs: number[][][] = [];
        const run = pool.run;
        pool.run = (fn, shares) => (fns.push(fn), jobs.push(shares), run.call(pool, fn, shares));
        try {
          await net.fit(images, labels, { epochs: 1, batchSize: 64, optimizer });
        } finally {
          pool.run = run;
          net.dispose();
        }
        expect(fns.length / 10, optimizer.name).toBe(2);
        expect(fns.slice(0, 2)).toEqual([first, "pair"]);
        if (first === "pair") {
          expect(jobs[0].map((share) => share[0])).toEqual(Array(pool.size).fill(JOB_FNS.indexOf("gather_rows_u8")));
        }
      }
    });
  }
});
