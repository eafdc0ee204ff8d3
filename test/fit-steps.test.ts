// fit's optimizer steps, batch after batch: fit builds each layer's step once and sets its per-batch scalars (the
// learning rate of a schedule, Adam's bias corrections 1 - beta^t) in place, so these check that every batch's update
// used that batch's values, on every layer (the first layer's weights step inside their gradient's job, the rest
// after the backward pass). The reference: network.gradient() on each batch and torch.optim's formulas in float64.
import { beforeAll, describe, expect, it } from "vitest";
import { ready, Network, type Optimizer, type Schedule } from "../dist/index.js";
import { expectClose, rng } from "./helpers.js";

beforeAll(() => ready());

const SIZES = [5, 4, 3, 3];
const [ROWS, BATCH] = [20, 5]; // 4 batches an epoch
const r = rng(41);
const x = Float32Array.from({ length: ROWS * SIZES[0] }, () => r());
const labels = Int32Array.from({ length: ROWS }, () => Math.floor(r() * 3));

/** Which parameters decay: the weights (W0 b0 W1 b1 ... layout), not the biases. */
function weightMask(): boolean[] {
  const mask: boolean[] = [];
  for (let l = 0; l + 1 < SIZES.length; l++) {
    mask.push(...new Array(SIZES[l] * SIZES[l + 1]).fill(true), ...new Array(SIZES[l + 1]).fill(false));
  }
  return mask;
}

/**
 * torch.optim's step on p (float64) from gradient g at step t (1-based) and learning rate lr; state m, v; `mu`: the
 * group's momentum (SGD) or betas[0] (Adam) as a one-cycle schedule sets it, else the optimizer's.
 */
function refStep(o: Optimizer, p: Float64Array, g: Float32Array, m: Float64Array, v: Float64Array, t: number,
  lr: number, decays: boolean[], mu?: number): void {
  const wdAll = o.weightDecay ?? (o.name === "adamw" ? 0.01 : 0);
  for (let i = 0; i < p.length; i++) {
    const wd = decays[i] ? wdAll : 0;
    if (o.name === "sgd") {
      const momentum = mu ?? o.momentum ?? 0;
      const gi = g[i] + wd * p[i];
      m[i] = momentum * m[i] + gi;
      p[i] -= lr * (o.nesterov ? gi + momentum * m[i] : m[i]);
      continue;
    }
    const [b1, b2, eps] = [mu ?? o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.eps ?? 1e-8];
    let gi = g[i];
    if (o.name === "adamw") p[i] *= 1 - lr * wd;
    else gi += wd * p[i];
    m[i] = b1 * m[i] + (1 - b1) * gi;
    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
    p[i] -= lr * (m[i] / (1 - b1 ** t)) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
  }
}

const CASES: [string, Optimizer, Schedule | undefined][] = [
  ["SGD, Nesterov momentum, weight decay, cosine schedule", { name: "sgd", lr: 0.3, momentum: 0.9, nesterov: true, weightDecay: 0.01 }, { name: "cosine" }],
  ["Adam, L2 weight decay", { name: "adam", lr: 0.05, weightDecay: 0.01 }, undefined],
  ["AdamW, one-cycle schedule (beta1 cycled)", { name: "adamw", lr: 0.05, weightDecay: 0.1 }, { name: "onecycle" }],
  ["SGD, one-cycle schedule (momentum cycled from none)", { name: "sgd", lr: 0.3, weightDecay: 0.01 }, { name: "onecycle" }],
];

describe("each batch's update uses that batch's learning rate and bias corrections", () => {
  it.each(CASES)("%s: two epochs of fit equal batch-by-batch gradient() and torch's steps", async (_, opt, schedule) => {
    const net = new Network({ sizes: SIZES, seed: 3 });
    const start = net.parameters();
    const lrs: number[] = [];
    const momenta: (number | undefined)[] = [];
    await net.fit(x, labels, { epochs: 2, batchSize: BATCH, shuffle: false, optimizer: opt, schedule,
      onBatch: ({ lr, momentum }) => { lrs.push(lr); momenta.push(momentum); } });
    const got = net.parameters();
    expect(lrs.length).toBe(2 * ROWS / BATCH);
    if (schedule) expect(new Set(lrs).size).toBe(lrs.length); // a new rate every batch
    // a one-cycle also cycles the momentum (reported each batch), from 0.95 down towards 0.85 and back
    if (schedule?.name === "onecycle") {
      expect(momenta[0]).toBe(0.95);
      expect(Math.min(...momenta.map((v) => v!))).toBeLessThan(0.87);
    } else expect(momenta.every((v) => v === undefined)).toBe(true);

    const ref = new Network({ sizes: SIZES, seed: 3 });
    const p = Float64Array.from(start), m = new Float64Array(p.length), v = new Float64Array(p.length);
    const decays = weightMask();
    lrs.forEach((lr, t) => {
      const b = t % (ROWS / BATCH);
      ref.setParameters(Float32Array.from(p));
      const { grad } = ref.gradient(x.subarray(b * BATCH * SIZES[0], (b + 1) * BATCH * SIZES[0]),
        labels.subarray(b * BATCH, (b + 1) * BATCH));
      refStep(opt, p, grad, m, v, t + 1, lr, decays, momenta[t]);
    });
    expectClose(got, p, 1e-4, 1e-6, opt.name);
    // and not merely close to where it started: the steps moved every layer
    for (const [a, z] of [[0, 20], [24, 36], [39, 48]]) {
      expect(Math.max(...Array.from(got.subarray(a, z), (w, i) => Math.abs(w - start[a + i])))).toBeGreaterThan(1e-3);
    }
    net.dispose();
    ref.dispose();
  });
});
