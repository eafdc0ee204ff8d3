// Shared test helpers: fixture decoding, float64 references and tolerance checks.
import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { rng } from "./runtimes/workload.js";

/** JSON fixture values: numbers, with "NaN" / "Infinity" / "-Infinity" as strings. */
export type Num = number | string;

export function num(v: Num): number {
  return typeof v === "number" ? v : Number(v);
}

export function nums(v: Num[]): number[] {
  return v.map(num);
}

export function f32(v: Num[]): Float32Array {
  return Float32Array.from(nums(v));
}

export function loadJson<T>(path: string): T {
  return JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")) as T;
}

/**
 * Asserts |got - want| <= abs + rel * |want| element-wise (equal infinities and NaN positions must match),
 * naming the first index that is off.
 */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, abs = 0, what = ""): void {
  expect(got.length, `${what} length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w) || !Number.isFinite(w)) {
      expect(Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w)), `${what}[${i}]: got ${g}, want ${w}`).toBe(true);
      continue;
    }
    const tol = abs + rel * Math.abs(w);
    if (!(Math.abs(g - w) <= tol)) {
      expect.fail(`${what}[${i}]: got ${g}, want ${w} (|diff| ${Math.abs(g - w)} > ${tol})`);
    }
  }
}

/** A seeded generator for test inputs (mulberry32, shared with the runtime workloads). */
export { rng };

/** n normal(0, sd) floats from a seeded generator. */
export function randn(n: number, sd = 1, seed = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  }
  return out;
}

/** float64 softmax of each row (the reference). */
export function refSoftmax(x: ArrayLike<number>, cols: number, temperature = 1): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / cols; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j] / temperature);
    let s = 0;
    const row: number[] = [];
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(x[r * cols + j] / temperature - m);
      row.push(e);
      s += e;
    }
    for (const e of row) out.push(e / s);
  }
  return out;
}

/** float64 log-softmax of each row. */
export function refLogSoftmax(x: ArrayLike<number>, cols: number, temperature = 1): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / cols; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j] / temperature);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[r * cols + j] / temperature - m);
    const lse = m + Math.log(s);
    for (let j = 0; j < cols; j++) out.push(x[r * cols + j] / temperature - lse);
  }
  return out;
}

/**
 * The relaxed-SIMD build's workload outputs (test/runtimes/relaxed.js) against the default build's: every array
 * within 1e-5 relative + 1e-6 absolute, element-wise (fused multiply-adds may change the last bits, no more).
 * Returns, per output, the worst error as a fraction of that tolerance, for the log.
 */
export function expectRelaxedClose(got: Record<string, unknown>, want: Record<string, unknown>, who: string): string[] {
  const keys = Object.keys(want).filter((k) => k !== "build");
  expect(keys.length).toBeGreaterThan(10);
  const lines: string[] = [];
  for (const key of keys) {
    const g = got[key] as number[], w = want[key] as number[];
    expect(Array.isArray(g), `${who}: output ${key}`).toBe(true);
    expect(g.length, `${who}: ${key} length`).toBe(w.length);
    let worst = 0;
    let at = "";
    for (let i = 0; i < w.length; i++) {
      const r = Math.abs(g[i] - w[i]) / (1e-5 * Math.abs(w[i]) + 1e-6);
      if (!(r <= worst)) { worst = r; at = `[${i}]: ${g[i]} vs ${w[i]}`; }
    }
    expect(worst, `${who}: ${key}${at} is beyond 1e-5 relative + 1e-6 absolute of the default build`).toBeLessThanOrEqual(1);
    lines.push(`${key}: ${worst.toFixed(3)}`);
  }
  return lines;
}

/**
 * A browser's relaxed threads build on 3 threads gives the single-threaded relaxed build's bits (the same check in
 * Chromium and Firefox): `open` loads test/runtimes/browser-threads.html with the query and returns its results.
 */
export async function expectRelaxedThreadsLikeOne(
  open: (query: string) => Promise<{ got: { threads: number; build: string; warnings: string[] }; problems: string[] }>,
): Promise<void> {
  const one = (await open("threads=1&relaxed")).got;
  expect(one.build).toBe("relaxed-simd");
  const { got, problems } = await open("threads=3&relaxed");
  expect(got.threads).toBe(3);
  expect(got.build).toBe("relaxed-simd");
  expect(got.warnings).toEqual([]);
  expect({ ...got, threads: 0 }).toEqual({ ...one, threads: 0 });
  expect(problems).toEqual([]);
}

/** assembly/rng.ts's generator: xoshiro128** seeded by splitmix32; each call the next 32 bits. */
export function xoshiro(seed: number): () => number {
  const s = new Uint32Array(4);
  let z = seed >>> 0;
  for (let i = 0; i < 4; i++) {
    z = (z + 0x9e3779b9) >>> 0;
    let t = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
    s[i] = t ^ (t >>> 16);
  }
  const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));
  return () => {
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9, n2 = s[2] ^ s[0], n3 = s[3] ^ s[1];
    s[0] ^= n3;
    s[1] ^= n2;
    s[2] = n2 ^ t;
    s[3] = rotl(n3, 11);
    return result;
  };
}
