// The safetensors format (https://github.com/huggingface/safetensors), written and read here without a dependency:
//   u64 little-endian N | N bytes of JSON header, space-padded to a multiple of 8 | the tensors' bytes.
// The header maps each tensor's name to { dtype, shape, data_offsets: [begin, end) } (offsets into the bytes after
// the header), plus an optional "__metadata__" map of strings. A network is written as the state_dict of PyTorch's
// nn.Sequential(Linear, act, Linear, ...): "0.weight" [out, in], "0.bias" [out], "2.weight", ... (Linear layers at
// even indices), with its architecture in the metadata; this file also holds what ONNX shares with it (onnx.ts): the
// network as plain numbers (Mlp) and the [in, out] <-> [out, in] transposes.
import { oneOf, options } from "./checks.js";
import type { Cost, HiddenActivation, OutputActivation } from "./network.js";

/** The library's version, written into exported files (test/safetensors.test.ts keeps it equal to package.json's). */
export const LIBRARY_VERSION = "0.1.0";

export const HIDDEN = ["relu", "sigmoid", "tanh"] as const;
export const OUTPUTS = ["softmax", "sigmoid"] as const;
export const COSTS = ["crossEntropy", "quadratic"] as const;

/** A dense network as numbers: what Network is built from and exported as. */
export interface Mlp {
  sizes: number[]; hidden: HiddenActivation; output: OutputActivation; cost: Cost;
  /** W0 b0 W1 b1 ... as Network.parameters(): each W row-major (inputs x outputs). */
  params: Float32Array;
}

/** Layer l's weights from the parameter layout as PyTorch's Linear.weight: (outputs x inputs) row-major. */
export function weightOutIn(m: Mlp, l: number): { w: Float32Array; b: Float32Array } {
  let off = 0;
  for (let k = 0; k < l; k++) off += m.sizes[k] * m.sizes[k + 1] + m.sizes[k + 1];
  const [I, O] = [m.sizes[l], m.sizes[l + 1]];
  const w = new Float32Array(I * O);
  for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) w[o * I + i] = m.params[off + i * O + o];
  return { w, b: m.params.slice(off + I * O, off + I * O + O) };
}

/** The parameter layout from each layer's (weight (outputs x inputs), or (inputs x outputs) if `inOut`, and bias). */
export function packParams(sizes: number[], layers: { w: Float32Array; b: Float32Array; inOut?: boolean }[]): Float32Array {
  let total = 0;
  for (let l = 0; l + 1 < sizes.length; l++) total += sizes[l] * sizes[l + 1] + sizes[l + 1];
  const p = new Float32Array(total);
  let off = 0;
  layers.forEach(({ w, b, inOut }, l) => {
    const [I, O] = [sizes[l], sizes[l + 1]];
    if (inOut) p.set(w, off);
    else for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) p[off + i * O + o] = w[o * I + i];
    p.set(b, off + I * O);
    off += I * O + O;
  });
  return p;
}

/** The first non-finite value's index, or -1: a NaN or infinite weight is refused, never imported. */
export function firstNonFinite(v: Float32Array): number {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return i;
  return -1;
}

/** The architecture as __metadata__ strings (also ONNX's metadata_props). */
export function metadataOf(m: Mlp): Record<string, string> {
  return {
    format: "pt", library: "softmax-wasm", version: LIBRARY_VERSION, sizes: m.sizes.join(","),
    hidden: m.hidden, output: m.output, cost: m.cost,
  };
}

/** The file's bytes: tensors in the order given, header padded with spaces to 8 bytes as the reference writer does. */
export function encodeSafetensors(m: Mlp): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadataOf(m) };
  const parts: Float32Array[] = [];
  let end = 0;
  const add = (name: string, shape: number[], data: Float32Array) => {
    header[name] = { dtype: "F32", shape, data_offsets: [end, end + data.length * 4] };
    end += data.length * 4;
    parts.push(data);
  };
  for (let l = 0; l + 1 < m.sizes.length; l++) {
    const { w, b } = weightOutIn(m, l);
    add(`${2 * l}.weight`, [m.sizes[l + 1], m.sizes[l]], w);
    add(`${2 * l}.bias`, [m.sizes[l + 1]], b);
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + end);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, padded, true); // the high 32 bits stay 0
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const t of parts) {
    for (let i = 0; i < t.length; i++) dv.setFloat32(at + i * 4, t[i], true);
    at += t.length * 4;
  }
  return out;
}

/** Bytes per element of every dtype the format defines; only the float ones below are read. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};
const READABLE = ["F32", "F16", "BF16"];
/** The reference reader's limit on the header. */
const MAX_HEADER = 100_000_000;

export interface Tensor { name: string; dtype: string; shape: number[]; data: Uint8Array }

/**
 * The header and tensors of a safetensors file, checked as the reference reader does: the length within the file, a
 * JSON object, every entry's dtype known, shape and offsets integers, offsets covering the data exactly once (no
 * overlap, no gap, nothing past the end) and each tensor's byte count its shape's.
 */
export function decodeSafetensors(fn: string, bytes: Uint8Array):
  { tensors: Tensor[]; metadata: Record<string, string> | undefined } {
  if (bytes.length < 8) throw new RangeError(`${fn}: truncated: ${bytes.length} bytes, fewer than the 8 of the header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  if (n > bytes.length - 8) {
    throw new RangeError(`${fn}: the header length (${n} bytes) runs past the end of the file (${bytes.length - 8} after it)`);
  }
  if (n > MAX_HEADER) throw new RangeError(`${fn}: the header length (${n} bytes) is over the format's ${MAX_HEADER}`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (err) {
    throw new RangeError(`${fn}: the header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new RangeError(`${fn}: the header must be a JSON object of tensors`);
  }
  const dataLength = bytes.length - 8 - n;
  let metadata: Record<string, string> | undefined;
  const tensors: (Tensor & { begin: number; end: number })[] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof v !== "object" || v === null || Array.isArray(v) ||
        Object.values(v).some((s) => typeof s !== "string")) {
        throw new RangeError(`${fn}: __metadata__ must be an object of strings`);
      }
      metadata = v as Record<string, string>;
      continue;
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== "object" || t === null) throw new RangeError(`${fn}: tensor '${name}': its entry must be an object`);
    if (typeof t.dtype !== "string" || !(t.dtype in DTYPE_BYTES)) {
      throw new RangeError(`${fn}: tensor '${name}': unknown dtype ${JSON.stringify(t.dtype)}`);
    }
    const isIndex = (x: unknown) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
    if (!Array.isArray(t.shape) || !t.shape.every(isIndex)) {
      throw new RangeError(`${fn}: tensor '${name}': shape must be an array of integers >= 0`);
    }
    const o = t.data_offsets;
    if (!Array.isArray(o) || o.length !== 2 || !o.every(isIndex) || o[0] > o[1]) {
      throw new RangeError(`${fn}: tensor '${name}': data_offsets must be [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = o as number[];
    if (end > dataLength) {
      throw new RangeError(`${fn}: tensor '${name}': data_offsets [${begin}, ${end}] run past the data (${dataLength} bytes)`);
    }
    const count = (t.shape as number[]).reduce((a, b) => a * b, 1);
    if (count * DTYPE_BYTES[t.dtype] !== end - begin) {
      throw new RangeError(`${fn}: tensor '${name}': shape [${t.shape}] of ${t.dtype} is ${count * DTYPE_BYTES[t.dtype]} ` +
        `bytes, but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    tensors.push({ name, dtype: t.dtype, shape: t.shape as number[], begin, end,
      data: bytes.subarray(8 + n + begin, 8 + n + end) });
  }
  const byOffset = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let last = "";
  for (const t of byOffset) {
    if (t.begin < covered) {
      throw new RangeError(`${fn}: tensor '${t.name}': data_offsets [${t.begin}, ${t.end}] overlap tensor '${last}'`);
    }
    if (t.begin > covered) {
      throw new RangeError(`${fn}: tensor '${t.name}': data_offsets [${t.begin}, ${t.end}] leave bytes ${covered} to ` +
        `${t.begin} unused`);
    }
    covered = t.end;
    last = t.name;
  }
  if (covered !== dataLength) {
    throw new RangeError(`${fn}: the tensors cover ${covered} of the ${dataLength} data bytes`);
  }
  return { tensors, metadata };
}

/** A tensor's values as f32 (F16 and BF16 widened exactly). */
export function toFloat32(fn: string, t: Tensor): Float32Array {
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (t.dtype === "F32") {
    const out = new Float32Array(t.data.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
    return out;
  }
  if (t.dtype === "BF16") {
    const out = new Float32Array(t.data.length / 2);
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; i++) bits[i] = dv.getUint16(i * 2, true) << 16;
    return out;
  }
  if (t.dtype === "F16") {
    const out = new Float32Array(t.data.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = half(dv.getUint16(i * 2, true));
    return out;
  }
  throw new RangeError(`${fn}: tensor '${t.name}': dtype ${t.dtype} is not read (expected ${READABLE.join(", ")})`);
}

/** An IEEE half's value. */
function half(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

export interface ArchitectureOptions { hidden?: HiddenActivation; output?: OutputActivation; cost?: Cost }

/**
 * The architecture: each field from the file's metadata when it has it, else from the caller's option, else the
 * default; the two disagreeing is an error (one of them would give the wrong network).
 */
export function architecture(fn: string, meta: Record<string, string> | undefined, opts: ArchitectureOptions | undefined,
  where: string): { hidden: HiddenActivation; output: OutputActivation; cost: Cost } {
  const pick = <T extends string>(key: "hidden" | "output" | "cost", allowed: readonly T[], fallback: T): T => {
    const mine = opts?.[key] === undefined ? undefined : oneOf(fn, `opts.${key}`, opts[key], allowed, fallback);
    const theirs = meta?.[key] === undefined ? undefined : oneOf(fn, `${where}.${key}`, meta[key], allowed, fallback);
    if (mine !== undefined && theirs !== undefined && mine !== theirs) {
      throw new RangeError(`${fn}: opts.${key} '${mine}' contradicts the file's ${where}.${key} '${theirs}'`);
    }
    return mine ?? theirs ?? fallback;
  };
  return { hidden: pick("hidden", HIDDEN, "relu"), output: pick("output", OUTPUTS, "softmax"), cost: pick("cost", COSTS, "crossEntropy") };
}

/**
 * A network from a safetensors file: any `<prefix>.<i>.weight` (out x in) and `.bias` (out) chain, in index order,
 * each layer's inputs the previous one's outputs; every tensor must belong to the chain (a tensor of some other layer
 * would make it another network). The architecture from __metadata__, else from opts.
 */
export function mlpFromSafetensors(fn: string, bytes: Uint8Array, opts?: ArchitectureOptions): Mlp {
  const o = options(fn, opts, ["hidden", "output", "cost"] as const) as ArchitectureOptions;
  const { tensors, metadata } = decodeSafetensors(fn, bytes);
  if (tensors.length === 0) throw new RangeError(`${fn}: the file holds no tensors`);
  const layers = new Map<number, { weight?: Tensor; bias?: Tensor }>();
  let prefix: string | undefined;
  for (const t of tensors) {
    const m = /^(?:(.*)\.)?(\d+)\.(weight|bias)$/.exec(t.name);
    if (!m) throw new RangeError(`${fn}: tensor '${t.name}' is not a '<prefix>.<index>.weight' or '.bias' of a Linear layer`);
    const p = m[1] ?? "";
    if (prefix !== undefined && p !== prefix) {
      throw new RangeError(`${fn}: tensor '${t.name}' has another prefix than '${prefix ? prefix + "." : ""}' (one chain only)`);
    }
    prefix = p;
    const i = Number(m[2]);
    const entry = layers.get(i) ?? {};
    entry[m[3] as "weight" | "bias"] = t;
    layers.set(i, entry);
  }
  const pre = prefix ? prefix + "." : "";
  const order = [...layers.keys()].sort((a, b) => a - b);
  const sizes: number[] = [];
  const packed: { w: Float32Array; b: Float32Array }[] = [];
  for (const i of order) {
    const { weight, bias } = layers.get(i)!;
    if (!weight) throw new RangeError(`${fn}: tensor '${pre}${i}.bias' has no '${pre}${i}.weight'`);
    if (!bias) throw new RangeError(`${fn}: tensor '${pre}${i}.weight' has no '${pre}${i}.bias'`);
    if (weight.shape.length !== 2 || weight.shape[0] < 1 || weight.shape[1] < 1) {
      throw new RangeError(`${fn}: tensor '${weight.name}' has shape [${weight.shape}], expected [out, in] (2-D, nonempty)`);
    }
    const [O, I] = weight.shape;
    if (sizes.length === 0) sizes.push(I);
    else if (I !== sizes.at(-1)) {
      throw new RangeError(`${fn}: tensor '${weight.name}' has shape [${weight.shape}], expected [${O}, ${sizes.at(-1)}] ` +
        `(its inputs are the previous layer's ${sizes.at(-1)} outputs)`);
    }
    if (bias.shape.length !== 1 || bias.shape[0] !== O) {
      throw new RangeError(`${fn}: tensor '${bias.name}' has shape [${bias.shape}], expected [${O}]`);
    }
    sizes.push(O);
    const w = toFloat32(fn, weight);
    const b = toFloat32(fn, bias);
    for (const [t, v] of [[weight, w], [bias, b]] as const) {
      const bad = firstNonFinite(v);
      if (bad >= 0) throw new RangeError(`${fn}: tensor '${t.name}' [${bad}] is ${v[bad]}, expected a finite number`);
    }
    packed.push({ w, b });
  }
  if (metadata?.sizes !== undefined && metadata.sizes !== sizes.join(",")) {
    throw new RangeError(`${fn}: __metadata__.sizes '${metadata.sizes}' does not match the tensors' [${sizes}]`);
  }
  return { sizes, ...architecture(fn, metadata, o, "__metadata__"), params: packParams(sizes, packed) };
}
