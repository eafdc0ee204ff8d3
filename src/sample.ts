// Sampling a language model's next token (assembly/sample.ts): the options checked here, the kernel run over rows of
// logits in Wasm memory, the generator's 16 bytes of state kept here between calls. Semantics follow Hugging Face
// transformers' RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper and
// MinPLogitsWarper (in that order, each keeping at least one token), then one draw from what is left.
import { engine, type Engine } from "./engine.js";
import { columns, floats, options, rowsOf } from "./checks.js";
import { floatsOf, type Floats } from "./wasm-array.js";
import { withInput } from "./call.js";

export interface RepetitionPenalty {
  /** > 0: a seen token's logit v becomes v / penalty, or v * penalty where v < 0 (1 is off). */
  penalty: number;
  /** The token ids seen so far (each in [0, vocab); a repeated id is penalized once). */
  tokens: Int32Array;
}

export interface SampleOptions {
  /** Divides the logits; 0 is greedy (the first index of the maximum). Default 1. */
  temperature?: number;
  /** Keep the k largest logits and every tie with the k-th; 0 (default) or k >= vocab is off. */
  topK?: number;
  /** Keep the largest logits while the probability before each is below topP (in (0, 1]; 1, the default, is off). */
  topP?: number;
  /** Keep the tokens whose probability is >= minP times the largest (in [0, 1); 0, the default, is off). */
  minP?: number;
  /** The generator's seed (an integer in [0, 2^32)); without one the library's own stream continues. */
  seed?: number;
  repetitionPenalty?: RepetitionPenalty;
}

export interface SamplerOptions extends Omit<SampleOptions, "seed"> {
  seed?: number;
  /** A generator state from Sampler.state(): the sampler resumes exactly there (it takes precedence over seed). */
  state?: Uint8Array;
}

export interface TopKResult { values: Float32Array; indices: Int32Array }

const SAMPLE_OPTS = ["temperature", "topK", "topP", "minP", "seed", "repetitionPenalty"] as const;
const PROBS_OPTS = ["temperature", "topK", "topP", "minP", "repetitionPenalty"] as const;
const SAMPLER_OPTS = [...SAMPLE_OPTS, "state"] as const;
const TOPK_OPTS = ["out"] as const;
const STATE_BYTES = 16;
const F32_MAX = 3.4028234663852886e38;
const F32_MIN_NORMAL = 1.1754943508222875e-38;

/** The filters and the draw, checked: what the kernel takes. */
interface Plan { scale: number; k: number; p: number; minP: number; penalty: number; tokens: Int32Array | undefined }

/** The stream sample() continues when given no seed: seeded with 0 when first used, so a program's runs repeat. */
let defaultState: Uint8Array | undefined;

/**
 * One token id per row of `logits` (rows x vocab): repetition penalty, temperature, top-k, top-p and min-p as Hugging
 * Face transformers applies them, then one draw from the softmax of what is left.
 */
export function sample(logits: Floats, vocab: number, opts?: SampleOptions): Int32Array {
  const fn = "sample";
  const e = engine(fn);
  const o = options(fn, opts, SAMPLE_OPTS);
  const plan = planOf(fn, o, vocab);
  floats(fn, "logits", logits);
  const rows = rowsOf(fn, "logits", logits, vocab);
  const state = o.seed === undefined ? (defaultState ??= seeded(e, 0)) : seeded(e, seedOf(fn, "opts.seed", o.seed));
  return draw(e, fn, logits, rows, vocab, plan, state);
}

/** The distribution sample() draws from, per row (rows x vocab): zeros for the filtered tokens, the rest summing to 1. */
export function sampleProbs(logits: Floats, vocab: number, opts?: Omit<SampleOptions, "seed">): Float32Array {
  const fn = "sampleProbs";
  const e = engine(fn);
  const o = options(fn, opts, PROBS_OPTS);
  const plan = planOf(fn, o, vocab);
  floats(fn, "logits", logits);
  const rows = rowsOf(fn, "logits", logits, vocab);
  const out = new Float32Array(rows * vocab);
  run(e, fn, logits, rows, vocab, plan, undefined, (pp) => e.get(pp, out, rows * vocab));
  return out;
}

/** sample() with its own generator, for a decode loop: next() draws, state() saves, sampler({ ...opts, state }) resumes. */
export class Sampler {
  /** @internal */
  constructor(private readonly plan: Plan, private readonly rng: Uint8Array) {}

  /** One token per row of logits (rows x vocab; vocab defaults to logits.length, one row). */
  next(logits: Floats, vocab?: number): Int32Array {
    const fn = "Sampler.next";
    const e = engine(fn);
    floats(fn, "logits", logits);
    const cols = columns(fn, vocab ?? logits.length);
    if (this.plan.tokens !== undefined) tokensIn(fn, this.plan.tokens, cols);
    const rows = rowsOf(fn, "logits", logits, cols);
    return draw(e, fn, logits, rows, cols, this.plan, this.rng);
  }

  /** The generator's 16 bytes now (a copy). */
  state(): Uint8Array {
    return this.rng.slice();
  }
}

/** A Sampler with the given filters and its own generator, from opts.state, else opts.seed (default 0). */
export function sampler(opts?: SamplerOptions): Sampler {
  const fn = "sampler";
  const e = engine(fn);
  const o = options(fn, opts, SAMPLER_OPTS);
  const plan = planOf(fn, o, undefined);
  let rng: Uint8Array;
  if (o.state !== undefined) {
    const s = o.state;
    if (!(s instanceof Uint8Array)) throw new TypeError(`${fn}: opts.state must be a Uint8Array from Sampler.state()`);
    if (s.length !== STATE_BYTES) throw new RangeError(`${fn}: opts.state must hold ${STATE_BYTES} bytes, got ${s.length}`);
    if (s.every((b) => b === 0)) throw new RangeError(`${fn}: opts.state is all zeros, which no generator reaches`);
    rng = s.slice();
  } else {
    rng = seeded(e, o.seed === undefined ? 0 : seedOf(fn, "opts.seed", o.seed));
  }
  return new Sampler(plan, rng);
}

/** The k largest of each row (rows x cols), sorted descending, ties by lower index: values and indices, rows x k. */
export function topK(x: Floats, cols: number, k: number, opts?: { out?: TopKResult }): TopKResult {
  const fn = "topK";
  const e = engine(fn);
  const o = options(fn, opts, TOPK_OPTS);
  floats(fn, "x", x);
  const rows = rowsOf(fn, "x", x, columns(fn, cols));
  if (typeof k !== "number") throw new TypeError(`${fn}: k must be a number, got ${typeof k}`);
  if (!Number.isInteger(k) || k < 0 || k > cols) throw new RangeError(`${fn}: k must be an integer in [0, cols (${cols})], got ${k}`);
  const out = (o.out ?? { values: new Float32Array(rows * k), indices: new Int32Array(rows * k) }) as TopKResult;
  if (out === null || typeof out !== "object" || !(out.values instanceof Float32Array) || !(out.indices instanceof Int32Array)) {
    throw new TypeError(`${fn}: opts.out must be { values: Float32Array, indices: Int32Array }`);
  }
  if (out.values.length < rows * k || out.indices.length < rows * k) {
    throw new RangeError(`${fn}: opts.out.values and opts.out.indices must each hold at least rows x k (${rows * k}) elements`);
  }
  withInput(e, fn, "x", x, (px) => {
    const pv = e.alloc(rows * k * 4);
    const pi = e.alloc(rows * k * 4);
    const work = e.alloc(e.k.sample_work_bytes(cols));
    const bad = e.k.topk_rows(px, rows, cols, k, pv, pi, work);
    if (bad >= 0) throw badRow(fn, "x", x, bad, cols);
    e.get(pv, out.values, rows * k);
    out.indices.set(new Int32Array(e.memory.buffer, pi, rows * k));
  });
  return out;
}

/** The first index of each row's maximum (rows x cols); a row holding NaN is refused. */
export function argmax(x: Floats, cols: number): Int32Array {
  const fn = "argmax";
  const e = engine(fn);
  floats(fn, "x", x);
  const rows = rowsOf(fn, "x", x, columns(fn, cols));
  return withInput(e, fn, "x", x, (px) => {
    const po = e.alloc(rows * 4);
    const bad = e.k.argmax_rows(px, rows, cols, po);
    if (bad >= 0) throw badRow(fn, "x", x, bad, cols);
    return new Int32Array(e.memory.buffer, po, rows).slice();
  });
}

/** Draws one token per row with the generator bytes `rng`, which advance (two draws a row, none when greedy). */
function draw(e: Engine, fn: string, logits: Floats, rows: number, vocab: number, plan: Plan, rng: Uint8Array): Int32Array {
  let ids: Int32Array | undefined;
  run(e, fn, logits, rows, vocab, plan, rng, (_, pIds) => {
    ids = new Int32Array(e.memory.buffer, pIds, rows).slice();
  });
  return ids!;
}

/**
 * Places logits (in place when resident), runs sample_rows into ids (rng given) or probs (not), releases the arena.
 * A Float32Array row is copied in whole (withInput): copying it in 4-32 K-float chunks, each chunk's first pass run
 * while it is in L1, measured no faster, since the passes are bound by vector ops, not memory (bench/sample.js).
 */
function run(e: Engine, fn: string, logits: Floats, rows: number, vocab: number, plan: Plan, rng: Uint8Array | undefined,
  deliver: (probs: number, ids: number) => void): void {
  const tokens = plan.tokens === undefined ? undefined : e.outside(plan.tokens);
  withInput(e, fn, "logits", logits, (px) => {
    const pt = tokens === undefined || tokens.length === 0 ? 0 : e.putI32(tokens);
    const ntok = pt === 0 ? 0 : tokens!.length;
    const pIds = rng === undefined ? 0 : e.alloc(rows * 4);
    const pProbs = rng === undefined ? e.alloc(rows * vocab * 4) : 0;
    const ps = e.alloc(STATE_BYTES);
    // the generator's bytes as 4 floats: a copy between float arrays is bytewise, and write and get reuse the
    // engine's views (the bytes' own views would cost three allocations a call)
    const state = rng === undefined ? undefined : new Float32Array(rng.buffer, rng.byteOffset, STATE_BYTES / 4);
    if (state !== undefined) e.write(ps, state);
    const work = e.alloc(e.k.sample_work_bytes(vocab));
    const bad = e.d.sample_rows(px, rows, vocab, pIds, pProbs, plan.scale, plan.k, plan.p, plan.minP, plan.penalty, pt,
      ntok, ps, work);
    if (bad >= 0) throw badRow(fn, "logits", logits, bad, vocab, ntok > 0);
    if (state !== undefined) e.get(ps, state, STATE_BYTES / 4);
    deliver(pProbs, pIds);
  });
}


/** The checked options; vocab (when known) bounds the penalized token ids. */
function planOf(fn: string, o: Partial<Record<string, unknown>>, vocab: number | undefined): Plan {
  if (vocab !== undefined) columns(fn, vocab);
  const t = o.temperature;
  let scale = 1;
  if (t !== undefined) {
    if (typeof t !== "number") throw new TypeError(`${fn}: opts.temperature must be a number, got ${typeof t}`);
    if (!(t >= 0) || t === Infinity) throw new RangeError(`${fn}: opts.temperature must be a finite number >= 0 (0 is greedy), got ${t}`);
    scale = t === 0 ? 0 : Math.min(Math.max(1 / t, F32_MIN_NORMAL), F32_MAX); // 0 tells the kernel: greedy
  }
  const k = o.topK;
  if (k !== undefined && typeof k !== "number") throw new TypeError(`${fn}: opts.topK must be a number, got ${typeof k}`);
  if (k !== undefined && (!Number.isInteger(k) || k < 0)) {
    throw new RangeError(`${fn}: opts.topK must be an integer >= 0 (0 is off), got ${k}`);
  }
  const p = o.topP;
  if (p !== undefined && typeof p !== "number") throw new TypeError(`${fn}: opts.topP must be a number, got ${typeof p}`);
  if (p !== undefined && !(p > 0 && p <= 1)) throw new RangeError(`${fn}: opts.topP must be in (0, 1] (1 is off), got ${p}`);
  const minP = o.minP;
  if (minP !== undefined && typeof minP !== "number") throw new TypeError(`${fn}: opts.minP must be a number, got ${typeof minP}`);
  if (minP !== undefined && !(minP >= 0 && minP < 1)) throw new RangeError(`${fn}: opts.minP must be in [0, 1) (0 is off), got ${minP}`);
  let penalty = 1;
  let tokens: Int32Array | undefined;
  const rp = o.repetitionPenalty;
  if (rp !== undefined) {
    if (rp === null || typeof rp !== "object") {
      throw new TypeError(`${fn}: opts.repetitionPenalty must be { penalty: number, tokens: Int32Array }`);
    }
    const { penalty: pen, tokens: tok, ...extra } = rp as Record<string, unknown>;
    const unknown = Object.keys(extra);
    if (unknown.length > 0) throw new TypeError(`${fn}: unknown option opts.repetitionPenalty.${unknown[0]} (expected penalty, tokens)`);
    if (typeof pen !== "number") throw new TypeError(`${fn}: opts.repetitionPenalty.penalty must be a number, got ${typeof pen}`);
    if (!(pen > 0) || pen === Infinity) {
      throw new RangeError(`${fn}: opts.repetitionPenalty.penalty must be a finite number > 0, got ${pen}`);
    }
    if (!(tok instanceof Int32Array)) throw new TypeError(`${fn}: opts.repetitionPenalty.tokens must be an Int32Array`);
    if (vocab !== undefined) tokensIn(fn, tok, vocab);
    penalty = pen;
    tokens = pen === 1 ? undefined : tok;
  }
  return { scale, k: k === undefined ? 0 : Math.min(k, 0x7fffffff), p: p ?? 1, minP: minP ?? 0, penalty, tokens };
}

function tokensIn(fn: string, tokens: Int32Array, vocab: number): void {
  for (let i = 0; i < tokens.length; i++) {
    if (!(tokens[i] >= 0 && tokens[i] < vocab)) {
      throw new RangeError(`${fn}: opts.repetitionPenalty.tokens[${i}] = ${tokens[i]} must be a token id in [0, ${vocab})`);
    }
  }
}

function seedOf(fn: string, name: string, v: unknown): number {
  if (typeof v !== "number") throw new TypeError(`${fn}: ${name} must be a number, got ${typeof v}`);
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${fn}: ${name} must be an integer in [0, 2^32), got ${v}`);
  return v;
}

/** The generator's 16 bytes for a seed (rng_seed: splitmix32, as the trainer seeds). */
function seeded(e: Engine, seed: number): Uint8Array {
  const mark = e.mark();
  try {
    const ps = e.alloc(STATE_BYTES);
    e.k.rng_seed(ps, seed);
    return e.bytes(ps, STATE_BYTES);
  } finally {
    e.release(mark);
  }
}

/** The error for a row the kernel refused, saying why (read here: only on this path). */
function badRow(fn: string, name: string, x: Floats, r: number, cols: number, penalized = false): RangeError {
  const row = floatsOf(x).subarray(r * cols, (r + 1) * cols);
  const nan = row.findIndex((v) => Number.isNaN(v));
  if (nan >= 0) return new RangeError(`${fn}: ${name} row ${r} holds NaN (at column ${nan})`);
  const inf = row.indexOf(Infinity);
  if (inf >= 0) return new RangeError(`${fn}: ${name} row ${r} holds +Infinity (at column ${inf}); logits must be finite or -Infinity`);
  if (row.every((v) => v === -Infinity)) return new RangeError(`${fn}: ${name} row ${r} is all -Infinity: no token can be drawn`);
  return new RangeError(`${fn}: ${name} row ${r} overflows to +Infinity after ${penalized ? "the repetition penalty" : "scaling"}`);
}
