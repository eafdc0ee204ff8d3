// Every function against PyTorch 1.13 in float64 (fixtures made by test/fixtures/make_fixtures.py), at the
// accuracy the spec asks: softmax 3e-5 relative; log-softmax 1e-5 relative + 3e-6 absolute; gradients
// 1e-4 relative + 1e-6 absolute; losses 2e-5 relative.
import { beforeAll, describe, expect, it } from "vitest";
import {
  ready, softmax, logSoftmax, softmaxBackward, logSoftmaxBackward, crossEntropy, binaryCrossEntropyWithLogits,
} from "../dist/index.js";
import { expectClose, f32, loadJson, num, nums, type Num } from "./helpers.js";

interface Fixtures {
  softmax: { name: string; cols: number; temperature: number; x: Num[]; softmax: Num[]; logSoftmax: Num[] }[];
  backward: { name: string; cols: number; y: Num[]; logp: Num[]; dy: Num[]; softmaxBackward: Num[]; logSoftmaxBackward: Num[] }[];
  crossEntropy: {
    name: string; cols: number; logits: Num[]; targetKind: "index" | "prob"; target: Num[];
    options: { reduction: "mean" | "sum" | "none"; weight?: Num[]; ignoreIndex?: number; labelSmoothing?: number };
    loss: Num | Num[]; grad: Num[];
  }[];
  bce: {
    name: string; logits: Num[]; target: Num[]; options: { reduction: "mean" | "sum" | "none"; posWeight?: Num[] };
    loss: Num | Num[]; grad: Num[];
  }[];
}

const fx = loadJson<Fixtures>("./fixtures/torch.json");

beforeAll(() => ready());

function expectLoss(got: number | Float32Array, want: Num | Num[], abs = 0): void {
  if (Array.isArray(want)) {
    expect(got).toBeInstanceOf(Float32Array);
    expectClose(got as Float32Array, nums(want), 2e-5, abs, "loss");
  } else {
    expect(typeof got).toBe("number");
    expectClose([got as number], [num(want)], 2e-5, abs, "loss");
  }
}

describe("softmax and logSoftmax match PyTorch", () => {
  it.each(fx.softmax.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const x = f32(c.x);
    expectClose(softmax(x, c.cols, { temperature: c.temperature }), nums(c.softmax), 3e-5, 0, "softmax");
    expectClose(logSoftmax(x, c.cols, { temperature: c.temperature }), nums(c.logSoftmax), 1e-5, 3e-6, "logSoftmax");
  });
});

describe("backward passes match PyTorch", () => {
  it.each(fx.backward.map((c) => [c.name, c] as const))("%s", (_, c) => {
    expectClose(softmaxBackward(f32(c.y), f32(c.dy), c.cols), nums(c.softmaxBackward), 1e-4, 1e-6, "softmaxBackward");
    expectClose(logSoftmaxBackward(f32(c.logp), f32(c.dy), c.cols), nums(c.logSoftmaxBackward), 1e-4, 1e-6,
      "logSoftmaxBackward");
  });
});

describe("crossEntropy matches F.cross_entropy", () => {
  it.each(fx.crossEntropy.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const target = c.targetKind === "index" ? Int32Array.from(nums(c.target)) : f32(c.target);
    const o = c.options;
    const { loss, grad } = crossEntropy(f32(c.logits), c.cols, target, {
      reduction: o.reduction,
      weight: o.weight && f32(o.weight),
      ignoreIndex: o.ignoreIndex,
      labelSmoothing: o.labelSmoothing,
    });
    expectLoss(loss, c.loss);
    expectClose(grad, nums(c.grad), 1e-4, 1e-6, "grad");
  });
});

describe("binaryCrossEntropyWithLogits matches F.binary_cross_entropy_with_logits", () => {
  it.each(fx.bce.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const { loss, grad } = binaryCrossEntropyWithLogits(f32(c.logits), f32(c.target), {
      reduction: c.options.reduction,
      posWeight: c.options.posWeight && f32(c.options.posWeight),
    });
    // torch itself rounds e^-|z| away at |z| ~ 30..80 even in float64 (1e-13 absolute): allow that much
    expectLoss(loss, c.loss, 1e-12);
    expectClose(grad, nums(c.grad), 1e-4, 1e-6, "grad");
  });
});
