// The optimizer steps (assembly/optim.ts) are exact f32 arithmetic in PyTorch's order of operations, bit for bit, at
// every length from 0 to past several vectors (whole vectors run in one loop, the last 1-3 elements through the same
// formula): the reference is the formula in JS with Math.fround after each operation (f32 sqrt and division are
// correctly rounded, so a double result rounded once is the f32 one). Each step writes nothing past its n elements.
import { beforeAll, describe, expect, it } from "vitest";
import { ready } from "../dist/index.js";
import { engine, type Engine } from "../dist/engine.js";
import { rng } from "./helpers.js";

let e: Engine;
beforeAll(async () => {
  await ready({ threads: 2 });
  e = engine("test");
});

const f = Math.fround;
const GUARD = 4; // floats after each buffer, which no step may write
const LENGTHS = Array.from({ length: 41 }, (_, n) => n).concat([63, 64, 65, 67, 1001]);

/** n values uniform in [-1, 1), a few of them huge or tiny, then GUARD guard values. */
function values(n: number, seed: number, guard = 12345.5): Float32Array {
  const r = rng(seed);
  const a = Float32Array.from({ length: n + GUARD }, () => {
    const u = 2 * r() - 1;
    return r() < 0.05 ? u * 1e30 : r() < 0.05 ? u * 1e-30 : u;
  });
  a.fill(guard, n);
  return a;
}

function sameBits(got: Float32Array, want: Float32Array, what: string): void {
  const g = new Uint32Array(got.slice().buffer), w = new Uint32Array(want.slice().buffer);
  const miss = g.findIndex((b, i) => b !== w[i]);
  expect(miss, `${what}: first element whose bits differ (${got[miss]} != ${want[miss]})`).toBe(-1);
}

describe("sgd_update: g += wd p; buf = momentum buf + g; step = nesterov ? g + momentum buf : buf; p -= lr step", () => {
  const MODES = [
    { momentum: 0, nesterov: 0, wd: 0 },
    { momentum: 0.9, nesterov: 0, wd: 0 },
    { momentum: 0.9, nesterov: 1, wd: 0 },
    { momentum: 0.9, nesterov: 0, wd: 0.01 },
    { momentum: 0, nesterov: 0, wd: 0.01 },
  ];
  for (const { momentum, nesterov, wd } of MODES) {
    it(`momentum ${momentum}, nesterov ${nesterov}, weight decay ${wd}: two steps bit for bit at every length`, () => {
      const lr = 0.1;
      for (const n of LENGTHS) {
        const mark = e.mark();
        try {
          const p0 = values(n, 1 + n), g = values(n, 2 + n), b0 = values(n, 3 + n).fill(0, 0, n);
          const p = e.put(p0), gp = e.put(g), b = e.put(b0);
          const wantP = p0.slice(), wantB = b0.slice();
          for (let step = 0; step < 2; step++) {
            e.k.sgd_update(p, gp, b, n, lr, momentum, nesterov, wd);
            for (let i = 0; i < n; i++) {
              let gi = f(g[i] + f(f(wd) * wantP[i]));
              if (momentum !== 0) {
                wantB[i] = f(f(f(momentum) * wantB[i]) + gi);
                gi = nesterov ? f(gi + f(f(momentum) * wantB[i])) : wantB[i];
              }
              wantP[i] = f(wantP[i] - f(f(lr) * gi));
            }
            sameBits(e.f32(p, n + GUARD), wantP, `n ${n} step ${step + 1} p`);
            sameBits(e.f32(b, n + GUARD), wantB, `n ${n} step ${step + 1} momentum buffer`);
          }
        } finally {
          e.release(mark);
        }
      }
    });
  }
});

describe("adam_update: Adam and AdamW in torch.optim's order, bias corrections as arguments", () => {
  for (const decoupled of [0, 1]) {
    it(`${decoupled ? "AdamW" : "Adam with L2 weight decay"}: three steps bit for bit at every length, on 1 and 2 threads`, () => {
      const [lr, beta1, beta2, eps, wd] = [0.01, 0.9, 0.999, 1e-8, 0.05];
      for (const n of LENGTHS) {
        const mark = e.mark();
        try {
          const p0 = values(n, 5 + n), g = values(n, 6 + n);
          const m0 = values(n, 7 + n).fill(0, 0, n), v0 = values(n, 8 + n).fill(0, 0, n);
          const want = { p: p0.slice(), m: m0.slice(), v: v0.slice() };
          const runs = [e.k, e.d].map(() => ({ p: e.put(p0), g: e.put(g), m: e.put(m0), v: e.put(v0) }));
          for (let t = 1; t <= 3; t++) {
            const bc1 = f(1 - beta1 ** t), bc2 = f(1 - beta2 ** t);
            const step = f(f(lr) / bc1), ibc2 = f(1 / f(Math.sqrt(bc2)));
            const decay = decoupled ? f(1 - f(f(lr) * f(wd))) : 1, l2 = decoupled ? 0 : f(wd);
            const [c1, c2] = [f(1 - f(beta1)), f(1 - f(beta2))];
            for (let i = 0; i < n; i++) {
              const gi = f(g[i] + f(l2 * want.p[i]));
              want.m[i] = f(f(f(beta1) * want.m[i]) + f(c1 * gi));
              want.v[i] = f(f(f(beta2) * want.v[i]) + f(c2 * f(gi * gi)));
              const den = f(f(f(Math.sqrt(want.v[i])) * ibc2) + f(eps));
              want.p[i] = f(f(want.p[i] * decay) - f(f(step * want.m[i]) / den));
            }
            [e.k, e.d].forEach((d, r) => {
              const b = runs[r];
              d.adam_update(b.p, b.g, b.m, b.v, n, lr, beta1, beta2, eps, wd, decoupled, bc1, bc2);
              const who = `${r === 0 ? "1 thread" : "2 threads"}, n ${n} step ${t}`;
              sameBits(e.f32(b.p, n + GUARD), want.p, `${who} p`);
              sameBits(e.f32(b.m, n + GUARD), want.m, `${who} first moment`);
              sameBits(e.f32(b.v, n + GUARD), want.v, `${who} second moment`);
            });
          }
        } finally {
          e.release(mark);
        }
      }
    });
  }
});
