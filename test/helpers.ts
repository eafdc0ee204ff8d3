// Shared test helpers: fixture decoding, float64 references and tolerance checks.
import { readFileSync } from "node:fs";
import { expect } from "vitest";

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

/** A seeded generator for test inputs (mulberry32), so every run sees the same numbers. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
