// sample / sampleProbs / sampler / topK / argmax against a float64 reference of Hugging Face transformers' logits
// processors (RepetitionPenalty, Temperature, TopK, TopP, MinP, in that order, each keeping at least one token):
// the exact sets of tokens kept, the probabilities drawn from, the draws' distribution (chi-square), the generator's
// state, and every bad input.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ready, sample, sampleProbs, sampler, topK, argmax, wasmArray, type SampleOptions,
} from "../dist/index.js";
import { randn, rng } from "./helpers.js";

beforeAll(() => ready());

type Opts = Omit<SampleOptions, "seed">;

interface Ref {
  /** The distribution drawn from (0 for removed tokens). */
  probs: number[];
  /** Tokens whose kept / removed decision lies within rounding of the boundary (f32 exp against f64). */
  close: boolean[];
}

/**
 * The reference, one row: the processors as transformers writes them, in float64 with sorting. Top-p counts tied
 * logits in index order (torch.sort is unstable, so transformers leaves their order open; this library fixes it).
 */
function reference(x: ArrayLike<number>, o: Opts): Ref {
  const n = x.length;
  const v = Array.from(x);
  const close = new Array<boolean>(n).fill(false);
  if (o.repetitionPenalty) {
    const { penalty, tokens } = o.repetitionPenalty;
    for (const t of new Set(tokens)) v[t] = Math.fround(x[t] < 0 ? x[t] * penalty : x[t] / penalty);
  }
  const t = o.temperature ?? 1;
  const top = v.reduce((a, b) => Math.max(a, b), -Infinity);
  if (t === 0) {
    const probs = new Array<number>(n).fill(0);
    probs[v.indexOf(top)] = 1;
    return { probs, close };
  }
  const keep = new Array<boolean>(n).fill(true);
  const k = o.topK ?? 0;
  if (k > 0 && k < n) {
    const kth = [...v].sort((a, b) => b - a)[k - 1];
    for (let i = 0; i < n; i++) if (v[i] < kth) keep[i] = false; // ties at the k-th value stay
  }
  const m = top / t;
  const e = v.map((a) => Math.exp(a / t - m));
  const p = o.topP ?? 1;
  if (p < 1) {
    let z = 0;
    for (let i = 0; i < n; i++) if (keep[i]) z += e[i];
    const order = [...Array(n).keys()].filter((i) => keep[i]).sort((a, b) => v[b] - v[a] || a - b);
    let before = 0;
    for (const i of order) {
      if (Math.abs(before - p * z) < 1e-5 * z) close[i] = true;
      if (!(before < p * z)) keep[i] = false; // the token that crosses p stays
      before += e[i];
    }
  }
  const minP = o.minP ?? 0;
  for (let i = 0; i < n; i++) {
    if (Math.abs(e[i] - minP) < 1e-5 * minP) close[i] = true;
    if (e[i] < minP) keep[i] = false;
  }
  let s = 0;
  for (let i = 0; i < n; i++) if (keep[i]) s += e[i];
  return { probs: e.map((a, i) => (keep[i] ? a / s : 0)), close };
}

/** Checks one row of sampleProbs against the reference: the same kept set (outside rounding's reach), close probabilities. */
function expectRow(got: Float32Array, x: ArrayLike<number>, o: Opts, what: string): number {
  const ref = reference(x, o);
  let unsure = 0;
  for (let i = 0; i < x.length; i++) {
    const kept = got[i] > 0, want = ref.probs[i] > 0;
    if (kept !== want) {
      if (ref.close[i]) { unsure++; continue; }
      expect.fail(`${what}: token ${i} (logit ${x[i]}) ${kept ? "kept" : "removed"}, the reference ${want ? "keeps" : "removes"} it`);
    }
  }
  if (unsure === 0) {
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(got[i] - ref.probs[i]);
      if (!(d <= 2e-5 * ref.probs[i] + 1e-7)) expect.fail(`${what}: p[${i}] = ${got[i]}, the reference ${ref.probs[i]}`);
    }
  }
  return unsure;
}

/** Rows of every shape the filters meet: spread, peaked, tied on a grid, masked, all equal, one dominant. */
function rowOf(kind: number, n: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = randn(n, 1 + 2 * r(), seed);
  switch (kind % 6) {
    case 1: for (let i = 0; i < n; i++) x[i] = Math.round(x[i] * 2) / 2; break; // ties everywhere
    case 2: for (let i = 0; i < n; i++) if (r() < 0.3) x[i] = -Infinity; x[Math.floor(r() * n)] = 1; break;
    case 3: x.fill(0.25); break;
    case 4: x[Math.floor(r() * n)] = 40; break; // one token holds all the mass
    case 5: for (let i = 0; i < Math.min(n, 20); i++) x[Math.floor(r() * n)] = 6 + 4 * r(); break; // an LM-like head
  }
  return x;
}

const CONFIGS: Opts[] = [
  {}, { topK: 1 }, { topK: 5 }, { topK: 40 }, { topK: 1000 }, { topP: 0.9 }, { topP: 0.5 }, { topP: 1e-9 },
  { minP: 0.05 }, { minP: 0.5 }, { temperature: 0.7, topK: 40, topP: 0.9, minP: 0.05 }, { temperature: 1.5, topP: 0.95 },
  { topK: 10, topP: 0.8 }, { temperature: 0 },
];

describe("sampleProbs: exactly the tokens the reference keeps", () => {
  it("for every width 1 .. 300, every kind of row, every configuration", () => {
    let rows = 0, unsure = 0;
    for (let n = 1; n <= 300; n++) {
      for (let kind = 0; kind < 6; kind++) {
        const x = rowOf(kind, n, n * 31 + kind);
        for (const o of [CONFIGS[(n + kind) % CONFIGS.length], CONFIGS[(n * 7 + kind) % CONFIGS.length]]) {
          unsure += expectRow(sampleProbs(x, n, o), x, o, `n=${n} kind=${kind} ${JSON.stringify(o)}`) > 0 ? 1 : 0;
          rows++;
        }
      }
    }
    expect(rows).toBe(3600);
    expect(unsure).toBeLessThan(rows / 100);
  });

  it.each([32000, 128256, 256000])("for rows of %i", (n) => {
    let unsure = 0;
    for (let kind = 0; kind < 6; kind++) {
      const x = rowOf(kind, n, n + kind);
      for (const o of [{ topK: 50 }, { topP: 0.9 }, { minP: 0.1 }, { temperature: 0.8, topK: 200, topP: 0.95, minP: 0.02 }]) {
        unsure += expectRow(sampleProbs(x, n, o), x, o, `n=${n} kind=${kind} ${JSON.stringify(o)}`);
      }
    }
    expect(unsure).toBeLessThan(3);
  });

  it("keeps every tie at the k-th value, and counts ties at top-p in index order", () => {
    const x = Float32Array.of(1, 3, 2, 3, 2, 2, 0);
    expect(Array.from(sampleProbs(x, 7, { topK: 3 })).map((p) => p > 0)).toEqual([false, true, true, true, true, true, false]);
    expect(Array.from(sampleProbs(x, 7, { topK: 2 })).map((p) => p > 0)).toEqual([false, true, false, true, false, false, false]);
    // four equal logits: with p = 0.5 the third has 0.5 before it, not below: the first two stay
    const q = Float32Array.of(0, 0, 0, 0);
    expect(Array.from(sampleProbs(q, 4, { topP: 0.5 }))).toEqual([0.5, 0.5, 0, 0]);
    expect(Array.from(sampleProbs(q, 4, { topP: 0.51 }))).toEqual([1 / 3, 1 / 3, 1 / 3, 0].map(Math.fround));
    // -0 and +0 are equal logits, so a tie
    expect(Array.from(sampleProbs(Float32Array.of(-1, -0, 0, -2), 4, { topK: 1 })).map((p) => p > 0))
      .toEqual([false, true, true, false]);
  });

  it("k > vocab is no filter; a topP so small that one token is left; minP with one dominant token", () => {
    const x = randn(100, 2, 3);
    expect(sampleProbs(x, 100, { topK: 101 })).toEqual(sampleProbs(x, 100));
    const one = sampleProbs(x, 100, { topP: 1e-12 });
    expect(Array.from(one).filter((p) => p > 0)).toEqual([1]);
    expect(one[argmax(x, 100)[0]]).toBe(1);
    const d = randn(1000, 1, 4);
    d[777] = 12;
    const dom = sampleProbs(d, 1000, { minP: 0.001 });
    expect(Array.from(dom).filter((p) => p > 0)).toEqual([1]);
    expect(dom[777]).toBe(1);
  });

  it("masked (-Infinity) tokens are never kept with mass; ties at the top all stay; all-equal rows are uniform", () => {
    const x = Float32Array.of(-Infinity, 1, -Infinity, 1, 1, -Infinity);
    for (const o of [{}, { topK: 2 }, { topP: 0.99 }, { minP: 0.5 }]) {
      expect(Array.from(sampleProbs(x, 6, o))).toEqual([0, 1, 0, 1, 1, 0].map((v) => Math.fround(v / 3)));
    }
    expect(Array.from(sampleProbs(new Float32Array(8).fill(-3), 8, { topK: 3 }))).toEqual(new Array(8).fill(0.125));
  });

  it("the repetition penalty divides positive and multiplies negative logits of the seen tokens, once each", () => {
    const x = Float32Array.of(2, -1, 0.5, 3);
    const o = { repetitionPenalty: { penalty: 2, tokens: Int32Array.of(3, 1, 3) } };
    const want = reference(x, o).probs;
    expect(reference(Float32Array.of(2, -2, 0.5, 1.5), {}).probs).toEqual(want);
    const got = sampleProbs(x, 4, o);
    for (let i = 0; i < 4; i++) expect(got[i]).toBeCloseTo(want[i], 6);
    expect(sample(x, 4, { ...o, temperature: 0 })).toEqual(Int32Array.of(0));
  });

  it("top-p over a wide row whose cut sits exactly on p Z: the bound cannot settle it, the exact sum does", () => {
    // four equal tokens among masked ones: Z = 4 e^0, and p = 0.5 puts the third token's mass before it at p Z exactly
    const n = 128256;
    const x = new Float32Array(n).fill(-Infinity);
    for (const i of [1000, 50000, 90000, 128000]) x[i] = 5;
    const got = sampleProbs(x, n, { topP: 0.5 });
    expect([...got.keys()].filter((i) => got[i] > 0)).toEqual([1000, 50000]);
    expect(got[1000]).toBe(0.5);
    // a background of tiny logits (about e^-35 each) lifts p Z past the second token's mass by ~1e-9: the third stays,
    // as the reference keeps it, though the bound (4e-4) cannot see that far
    const y = rowOf(0, n, 99).map((v) => v - 30);
    for (const i of [1000, 50000, 90000, 128000]) y[i] = 5;
    const near = sampleProbs(y, n, { topP: 0.5 });
    expect([...near.keys()].filter((i) => near[i] > 0)).toEqual([1000, 50000, 90000]);
    expect(expectRow(near, y, { topP: 0.5 }, "background")).toBe(0);
  });

  it("reads a WasmArray in place and leaves the logits as they were", () => {
    const x = rowOf(5, 5000, 9);
    const copy = x.slice();
    const w = wasmArray(x);
    expect(sampleProbs(w, 5000, { topK: 20, repetitionPenalty: { penalty: 1.3, tokens: Int32Array.of(1, 2) } }))
      .toEqual(sampleProbs(x, 5000, { topK: 20, repetitionPenalty: { penalty: 1.3, tokens: Int32Array.of(1, 2) } }));
    expect(sample(w, 5000, { seed: 4, topP: 0.9 })).toEqual(sample(x, 5000, { seed: 4, topP: 0.9 }));
    expect(w.data).toEqual(copy);
    expect(x).toEqual(copy);
    w.dispose();
  });
});

/** Upper 1e-6 quantile of chi-square with df degrees of freedom (Wilson-Hilferty). */
function chiSquareLimit(df: number): number {
  const z = 4.753; // one-sided normal quantile of 1 - 1e-6
  const a = 2 / (9 * df);
  return df * Math.pow(1 - a + z * Math.sqrt(a), 3);
}

/** Pearson's chi-square of counts against probabilities (cells expecting < 5 merged into one). */
function chiSquare(counts: number[], probs: number[], draws: number): { stat: number; df: number } {
  let stat = 0, df = -1, restObs = 0, restExp = 0;
  for (let i = 0; i < probs.length; i++) {
    const ex = probs[i] * draws;
    if (probs[i] === 0) {
      expect(counts[i], `token ${i} has probability 0 but was drawn`).toBe(0);
      continue;
    }
    if (ex < 5) { restObs += counts[i]; restExp += ex; continue; }
    stat += (counts[i] - ex) ** 2 / ex;
    df++;
  }
  if (restExp > 0) { stat += (restObs - restExp) ** 2 / restExp; df++; }
  return { stat, df };
}

describe("sample: draws follow the reference distribution", () => {
  const DRAWS = 100000;
  it.each([
    [{}, 0], [{ topK: 8 }, 1], [{ topP: 0.8 }, 1], [{ minP: 0.1 }, 5], [{ temperature: 0.5, topK: 20, topP: 0.9, minP: 0.01 }, 5],
    [{ temperature: 2 }, 1],
  ] as [Opts, number][])("%j (chi-square, 10^5 seeded draws)", (o, kind) => {
    const n = 40;
    const x = rowOf(kind, n, 77);
    const batch = new Float32Array(DRAWS * n);
    for (let r = 0; r < DRAWS; r++) batch.set(x, r * n);
    const ids = sample(batch, n, { ...o, seed: 12345 });
    const counts = new Array<number>(n).fill(0);
    for (const t of ids) counts[t]++;
    const { stat, df } = chiSquare(counts, reference(x, o).probs, DRAWS);
    expect(df).toBeGreaterThan(0);
    expect(stat).toBeLessThan(chiSquareLimit(df));
  });

  it("over a 32,000-wide row with topK 50 (sampler, 10^5 draws)", () => {
    const n = 32000;
    const x = rowOf(0, n, 5);
    const s = sampler({ topK: 50, seed: 9 });
    const counts = new Map<number, number>();
    for (let d = 0; d < DRAWS; d++) {
      const t = s.next(x)[0];
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    const probs = reference(x, { topK: 50 }).probs;
    const { stat, df } = chiSquare(Array.from({ length: n }, (_, i) => counts.get(i) ?? 0), probs, DRAWS);
    expect(df).toBe(49);
    expect(stat).toBeLessThan(chiSquareLimit(df));
  });
});

describe("the generator", () => {
  const x = rowOf(5, 1000, 21);
  it("greedy (temperature 0) is argmax, the first index of the maximum", () => {
    const rows = new Float32Array(3000);
    for (let r = 0; r < 3; r++) rows.set(rowOf(r, 1000, r + 50), r * 1000);
    rows[1000 + 5] = 1e9;
    rows[1000 + 700] = 1e9;
    expect(sample(rows, 1000, { temperature: 0 })).toEqual(argmax(rows, 1000));
    expect(argmax(rows, 1000)[1]).toBe(5);
  });

  it("one seed gives one sequence; rows draw as consecutive next() calls", () => {
    const a = sample(x, 1000, { seed: 42, topP: 0.95 });
    expect(sample(x, 1000, { seed: 42, topP: 0.95 })).toEqual(a);
    const two = new Float32Array(2000);
    two.set(x);
    two.set(rowOf(1, 1000, 3), 1000);
    const s = sampler({ seed: 42, topP: 0.95 });
    expect(sample(two, 1000, { seed: 42, topP: 0.95 })).toEqual(Int32Array.of(s.next(two.subarray(0, 1000))[0], s.next(two.subarray(1000))[0]));
  });

  it("sampler resumed from state() continues the same sequence", () => {
    const opts = { temperature: 0.9, topK: 100, seed: 7 };
    const s = sampler(opts);
    for (let i = 0; i < 5; i++) s.next(x);
    const st = s.state();
    const rest = Array.from({ length: 50 }, () => s.next(x)[0]);
    const resumed = sampler({ ...opts, state: st });
    expect(Array.from({ length: 50 }, () => resumed.next(x)[0])).toEqual(rest);
    expect(new Set(rest).size).toBeGreaterThan(5);
  });

  it("state() carries the generator's 16 bytes exactly, words that read as NaN floats too, into and out of a draw", () => {
    const nans = Uint32Array.of(0x7fc00001, 0x7f800001, 0xffffffff, 0xff800001); // quiet, signalling, negative NaNs
    const step = (w: Uint32Array): Uint32Array => { // xoshiro128**'s state update, as assembly/rng.ts writes it
      const t = w[1] << 9, n2 = w[2] ^ w[0], n3 = w[3] ^ w[1];
      return Uint32Array.of(w[0] ^ n3, w[1] ^ n2, n2 ^ t, (n3 << 11) | (n3 >>> 21));
    };
    const back = (w: Uint32Array): Uint32Array => { // its inverse
      const n3 = (w[3] >>> 11) | (w[3] << 21), s0 = w[0] ^ n3;
      const y = w[2] ^ (w[1] << 9); // = n2 ^ (n2 << 9)
      const n2 = y ^ (y << 9) ^ (y << 18) ^ (y << 27);
      const s1 = w[1] ^ n2;
      return Uint32Array.of(s0, s1, n2 ^ s0, n3 ^ s1);
    };
    expect(step(back(nans))).toEqual(nans);
    const bytes = (w: Uint32Array) => new Uint8Array(w.buffer);
    const into = sampler({ topK: 3, state: bytes(nans) }); // a draw is two steps
    into.next(x);
    expect(into.state()).toEqual(bytes(step(step(nans))));
    const out = sampler({ topK: 3, state: bytes(back(back(nans))) });
    out.next(x);
    expect(out.state()).toEqual(bytes(nans));
  });

  it("without a seed, sample() continues the library's own stream", () => {
    const a = Array.from({ length: 20 }, () => sample(x, 1000)[0]);
    expect(new Set(a).size).toBeGreaterThan(5);
  });
});

// One long row split by blocks over the pool: each thread count in its own child Node (a fresh library and pool);
// the child counts the pool's sample_row_part runs, so the split really ran.
const SPLIT_CHILD = `
import * as lib from ${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)};
import { engine } from ${JSON.stringify(new URL("../dist/engine.js", import.meta.url).href)};
const threads = Number(process.argv[2]);
await lib.ready(threads > 1 ? { threads } : undefined);
const d = engine("split").d;
let parts = 0;
if (d.run) { // the pool: split every row of 32,000 and more (by default only rows past any vocabulary in use split)
  d.sampleRowMin = 32000;
  const run = d.run.bind(d);
  d.run = (fn, jobs) => { if (fn === "sample_row_part") parts++; return run(fn, jobs); };
}
let s = 7;
const r = () => ((s = (Math.imul(s ^ (s >>> 15), 1 | s) + 0x6d2b79f5) | 0) >>> 0) / 4294967296;
const out = [];
for (const n of [32000, 128256, 256000]) {
  const rows = [];
  const g = new Float32Array(n);
  for (let i = 0; i < n; i++) g[i] = 2 * (r() + r() + r() - 1.5);
  for (let j = 0; j < 30; j++) g[Math.floor(r() * n)] += 5 + 5 * r();
  rows.push(g);
  rows.push(g.map((v) => Math.round(v * 2) / 2)); // ties, also at the k-th value and across blocks
  rows.push(g.map((v, i) => (i % 3 === 0 ? -Infinity : v))); // masked
  const flat = new Float32Array(n).fill(0.5); flat[n - 1] = 0.75; rows.push(flat); // the max in the last block
  rows.push(new Float32Array(n).fill(-2)); // all equal
  for (const x of rows) {
    for (const o of [{ temperature: 0 }, { topK: 50 }, { topK: 1 }, { topK: 2000 }, { topP: 0.9 }, { topP: 0.5, temperature: 0.7 },
      { topP: 0.995, temperature: 1.5 }, { topP: 0.9, minP: 0.05 }, { topK: 40, topP: 0.95, minP: 0.05, temperature: 0.8 }]) {
      out.push(Array.from(lib.sample(x, n, { ...o, seed: out.length })).join());
    }
    const sm = lib.sampler({ topP: 0.8, seed: 3 });
    out.push([sm.next(x)[0], sm.next(x)[0], lib.sample(x, n, { topK: 5, seed: 4 })[0]].join());
    const w = lib.wasmArray(x);
    out.push(String(lib.sample(w, n, { topP: 0.9, seed: 5 })[0]) + "," + lib.argmax(x, n)[0]);
    w.dispose();
  }
  const bad = g.slice(); bad[n - 3] = NaN;
  for (const o of [{ temperature: 0 }, { topK: 50 }, { topP: 0.9 }]) {
    try { lib.sample(bad, n, o); out.push("no error"); } catch (e) { out.push(e.message); }
  }
}
console.log(JSON.stringify({ parts, out }));
`;

describe("one long row split by blocks over threads", () => {
  it("gives one thread's tokens with 2 and 3 threads at 32,000, 128,256 and 256,000", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sample-split-"));
    const file = path.join(dir, "child.mjs"); // a file, not --eval: the pool's workers inherit the process's flags
    writeFileSync(file, SPLIT_CHILD);
    const run = (threads: number) => JSON.parse(execFileSync(process.execPath, [file, String(threads)],
      { encoding: "utf8", timeout: 120_000 })) as { parts: number; out: string[] };
    const one = run(1);
    expect(one.parts).toBe(0);
    expect(one.out).toContain("sample: logits row 0 holds NaN (at column 31997)");
    expect(new Set(one.out).size).toBeGreaterThan(100);
    for (const threads of [2, 3]) {
      const got = run(threads);
      expect(got.parts, `${threads} threads split the rows`).toBeGreaterThan(200);
      expect(got.out).toEqual(one.out);
    }
    rmSync(dir, { recursive: true });
  }, 300_000);
});

describe("topK and argmax", () => {
  it("the k largest per row, sorted descending, ties by lower index, at every width 1 .. 300 and 128,256", () => {
    for (const n of [...Array.from({ length: 300 }, (_, i) => i + 1), 128256]) {
      for (const kind of [0, 1, 2]) {
        const x = rowOf(kind, n, n + kind * 1000);
        for (const k of new Set([0, 1, Math.min(n, 5), Math.min(n, 50), n])) {
          const { values, indices } = topK(x, n, k);
          const want = [...Array(n).keys()].sort((a, b) => x[b] - x[a] || a - b).slice(0, k);
          expect(Array.from(indices), `n=${n} kind=${kind} k=${k}`).toEqual(want);
          expect(Array.from(values)).toEqual(want.map((i) => x[i]));
        }
      }
    }
  });

  it("fills opts.out and takes rows", () => {
    const x = Float32Array.of(1, 5, 3, 9, 9, 0);
    const out = { values: new Float32Array(4), indices: new Int32Array(4) };
    expect(topK(x, 3, 2, { out })).toBe(out);
    expect(Array.from(out.indices)).toEqual([1, 2, 0, 1]);
    expect(Array.from(out.values)).toEqual([5, 3, 9, 9]);
    expect(argmax(x, 3)).toEqual(Int32Array.of(1, 0));
  });
});

describe("top-k's selection over the candidates' float bits", () => {
  /** topK and sampleProbs({ topK: k }) of one row against a sort: the k first by value then index; kept: >= the k-th. */
  function expectTopK(x: Float32Array, k: number, what: string): void {
    const n = x.length;
    const want = [...Array(n).keys()].sort((a, b) => x[b] - x[a] || a - b).slice(0, k);
    const { values, indices } = topK(x, n, k);
    expect(Array.from(indices), what).toEqual(want);
    expect(Array.from(values), what).toEqual(want.map((i) => x[i])); // toEqual tells -0 from +0: read from x
    if (k === 0) return;
    const kth = x[want[k - 1]];
    // sampleProbs' kept set, where every kept finite token's e^(x - max) is > 0 in f32 (a masked one has 0 mass)
    const low = Math.min(...want.map((i) => x[i]).filter((v) => v > -Infinity));
    if (!(x[want[0]] - low < 80) || x[want[0]] === -Infinity) return;
    const kept = Array.from(sampleProbs(x, n, { topK: k }), (p, i) => p > 0 || (x[i] === -Infinity && x[i] >= kth));
    expect(kept, what).toEqual(Array.from(x, (v) => v >= kth));
  }

  /** Neighbouring floats: every candidate shares all bits but the lowest few, so the select runs down to bit 0. */
  function ulps(base: number, n: number, spread: number, seed: number): Float32Array {
    const r = rng(seed);
    const b = new Uint32Array(new Float32Array([base]).buffer)[0];
    return new Float32Array(Uint32Array.from({ length: n }, () => b + Math.floor(r() * spread)).buffer);
  }

  it("candidates that differ only in their lowest bits, at widths that compact the buffer many times", () => {
    for (const [n, spread] of [[300, 7], [1000, 64], [5000, 3], [5000, 300], [40000, 1000]]) {
      for (const base of [1, -1, 3e-39, 1e30]) { // normal and subnormal, both signs (negative: the order flips)
        const x = ulps(base, n, spread, n + spread);
        for (const k of [1, 2, 50, 257, Math.min(n - 1, 1000)]) expectTopK(x, k, `n=${n} spread=${spread} base=${base} k=${k}`);
      }
    }
  });

  it("both signs, both zeros, subnormals, huge values and -Infinity in one row", () => {
    const pool = [-0, 0, 1e-45, -1e-45, 1.5e-38, -3.4e38, 3.4e38, -Infinity, 1, -1, 0.5, -0.5];
    for (const n of [16, 255, 256, 257, 3000]) {
      const r = rng(n);
      const x = Float32Array.from({ length: n }, () => pool[Math.floor(r() * pool.length)]);
      for (const k of new Set([1, 5, Math.min(n - 1, 40), Math.min(n - 1, 300), n - 1])) expectTopK(x, k, `n=${n} k=${k}`);
    }
  });

  it("ties at the k-th value that keep the buffer full (it doubles), and a k-th value of -Infinity", () => {
    const flat = new Float32Array(6000); // zeros, with 10 ones: the 50th value is 0, tied 5990 times
    for (let i = 0; i < 10; i++) flat[i * 599] = 1;
    expectTopK(flat, 50, "flat");
    const masked = new Float32Array(2000).fill(-Infinity); // 30 finite tokens: the 50th is -Infinity
    const r = rng(9);
    for (let i = 0; i < 30; i++) masked[Math.floor(r() * 2000)] = r() * 4 - 2;
    expectTopK(masked, 50, "masked");
    expectTopK(masked, 20, "masked, k below the finite ones");
  });

  it("a first threshold from the maxima of the first groups of 16: sorted rows, the top in one group, around 16 x 256", () => {
    for (const n of [4095, 4096, 4097, 20000]) { // k 50: 256 groups of 16, so rows of 4096 and more
      const up = Float32Array.from({ length: n }, (_, i) => i / 8); // ascending: the first groups hold the smallest
      const down = Float32Array.from(up).reverse(); // descending: the first groups hold the k largest
      const packed = randn(n, 1, n); // the 50 largest all in columns 32 .. 81, so few groups hold them
      for (let i = 32; i < 82; i++) packed[i] = 100 + i;
      const late = randn(n, 1, n + 1); // the largest past the first 4096
      for (let i = 0; i < 60; i++) late[n - 1 - i * 3] = 50 + i;
      for (const [name, x] of [["up", up], ["down", down], ["packed", packed], ["late", late]] as const) {
        for (const k of [1, 50, 64]) expectTopK(x, k, `${name} n=${n} k=${k}`);
      }
    }
  });

  it("the k-th value at a 16-element group's edge and at the buffer's size, widths one below, at and above", () => {
    for (const k of [16, 64, 100]) { // the buffer holds max(4k, 256) before its first compaction
      const cap = Math.max(4 * k, 256);
      for (const n of [cap - 1, cap, cap + 1, 2 * cap - 1, 2 * cap, 2 * cap + 1]) {
        for (const at of [15, 16, cap - 1, cap, n - 1]) {
          if (at >= n) continue;
          const x = randn(n, 1, n * 7 + at);
          const sorted = Float32Array.from(x).sort().reverse();
          x[at] = sorted[k - 1] + 0; // a tie with the k-th, placed at the edge
          expectTopK(x, k, `k=${k} n=${n} at=${at}`);
        }
      }
    }
  });
});

describe("bad input: a TypeError or RangeError naming the option or the row", () => {
  const x = Float32Array.of(1, 2, 3, 4);
  it.each([
    [{ topK: -1 }, RangeError, /opts\.topK/], [{ topK: 1.5 }, RangeError, /opts\.topK/], [{ topK: "3" }, TypeError, /opts\.topK/],
    [{ topP: 0 }, RangeError, /opts\.topP/], [{ topP: 1.01 }, RangeError, /opts\.topP/], [{ topP: NaN }, RangeError, /opts\.topP/],
    [{ minP: 1 }, RangeError, /opts\.minP/], [{ minP: -0.1 }, RangeError, /opts\.minP/],
    [{ temperature: -1 }, RangeError, /opts\.temperature/], [{ temperature: NaN }, RangeError, /opts\.temperature/],
    [{ temperature: Infinity }, RangeError, /opts\.temperature/],
    [{ repetitionPenalty: { penalty: 0, tokens: new Int32Array(0) } }, RangeError, /repetitionPenalty\.penalty/],
    [{ repetitionPenalty: { penalty: -2, tokens: new Int32Array(0) } }, RangeError, /repetitionPenalty\.penalty/],
    [{ repetitionPenalty: { penalty: 1.2, tokens: Int32Array.of(0, 4) } }, RangeError, /tokens\[1\] = 4/],
    [{ repetitionPenalty: { penalty: 1.2, tokens: [1] } }, TypeError, /tokens must be an Int32Array/],
    [{ seed: -1 }, RangeError, /opts\.seed/], [{ seed: 2 ** 32 }, RangeError, /opts\.seed/],
    [{ topk: 3 }, TypeError, /unknown option opts\.topk/],
  ] as [object, typeof Error, RegExp][])("%j", (o, type, message) => {
    expect(() => sample(x, 4, o as SampleOptions)).toThrow(type);
    expect(() => sample(x, 4, o as SampleOptions)).toThrow(message);
  });

  it("a row that holds NaN or +Infinity, or is all -Infinity, is named", () => {
    const rows = Float32Array.of(1, 2, 3, 4, 0, 0, 0, 0);
    for (const [bad, why] of [[NaN, /row 1 holds NaN \(at column 2\)/], [Infinity, /row 1 holds \+Infinity/]] as const) {
      rows[6] = bad;
      for (const o of [{}, { topK: 2 }, { topP: 0.5 }, { temperature: 0 }]) {
        expect(() => sample(rows, 4, o)).toThrow(RangeError);
        expect(() => sample(rows, 4, o)).toThrow(why);
      }
    }
    rows.fill(-Infinity, 4);
    for (const o of [{}, { topK: 2 }, { topP: 0.5 }, { temperature: 0 }]) expect(() => sample(rows, 4, o)).toThrow(/row 1 is all -Infinity/);
    expect(() => argmax(Float32Array.of(0, NaN), 2)).toThrow(/x row 0 holds NaN/);
    expect(() => topK(Float32Array.of(0, 1, NaN, 2), 4, 1)).toThrow(/x row 0 holds NaN/);
    expect(() => topK(x, 4, 5)).toThrow(RangeError);
    expect(() => sample(x, 3)).toThrow(/multiple of cols/);
  });

  it("wide rows: a NaN anywhere is found; a NaN of the kernels' lane sums (+Infinity meeting -Infinity, an overflow) is not one", () => {
    const n = 5003; // blocks of 256 and 16, and a tail of 3
    for (const at of [0, 17, 255, 256, 4095, 4999, 5000, 5002]) {
      const x = rowOf(0, n, at);
      x[at] = NaN;
      for (const o of [{ temperature: 0 }, { topK: 50 }, { topP: 0.9 }, {}]) {
        expect(() => sample(x, n, o)).toThrow(`sample: logits row 0 holds NaN (at column ${at})`);
      }
      expect(() => argmax(x, n)).toThrow(`argmax: x row 0 holds NaN (at column ${at})`);
      expect(() => topK(x, n, 5)).toThrow(`topK: x row 0 holds NaN (at column ${at})`);
    }
    const y = rowOf(0, n, 1);
    y[100] = Infinity;
    y[104] = -Infinity; // the same lane of the same vector: its sum is NaN
    expect(argmax(y, n)).toEqual(Int32Array.of(100));
    expect(Array.from(topK(y, n, 1).indices)).toEqual([100]);
    const big = new Float32Array(n).fill(1);
    big.fill(3e38, 0, 32); // the lane sums overflow to +Infinity, then meet -Infinity: NaN, with no NaN in the row
    big[4100] = -Infinity;
    big[4104] = 3.1e38;
    expect(argmax(big, n)).toEqual(Int32Array.of(4104));
    expect(sample(big, n, { temperature: 0 })).toEqual(Int32Array.of(4104));
    expect(Array.from(topK(big, n, 2).indices)).toEqual([4104, 0]);
  });

  it("sampler state: a Uint8Array of 16 bytes, not all zero", () => {
    expect(() => sampler({ state: new Uint8Array(15) })).toThrow(RangeError);
    expect(() => sampler({ state: new Uint8Array(16) })).toThrow(/all zeros/);
    expect(() => sampler({ state: [1] as unknown as Uint8Array })).toThrow(TypeError);
  });
});
