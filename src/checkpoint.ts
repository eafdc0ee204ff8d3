// The .swnn checkpoint format, as one field table that encode() and decode() both walk: a field is one line here, and
// the offsets follow from the table (none written by hand). All numbers little-endian:
//   "SWNN" | u32 version | u32 flags (1: optimizer state follows) | u32 layers L | u32 sizes[L + 1]
//   | u8 hidden, output, cost, optimizer (0 none, 1 sgd, 2 adam, 3 adamw) | u32 seed | u32 steps
//   | f64 beta1^steps, beta2^steps | u32 shuffle generator state[4]
//   | since 2: u8 settings kind (as optimizer), nesterov, 0, 0 | f64 lr, momentum or beta1, beta2, eps, weightDecay
//   | since 3: u32 dropout generator state[4] | u32 augmentation generator state[4] | f64 inputDropout, maxNorm
//     | f64 dropout[L - 1] (one per hidden layer)
//     | an interrupted fit's position: u32 epochs (0: none), epoch, batch, rows, batchSize, shuffle, correct | f64 loss
//     | u32 shuffle generator state[4] before the epoch's permutation
//   | f32 parameters[P] | [f32 state1[P] | f32 state2[P]] | u32 CRC-32 of all before.
// decode() checks the framing (magic, version, CRC-32, lengths); what the values mean is Network.load's to check.
import { crc32 } from "./crc32.js";

/** A checkpoint's contents as numbers and bytes. */
export interface Checkpoint {
  version: number;
  /** Flags bit 0: the optimizer state (two buffers of P floats) follows the parameters. */
  withState: boolean;
  sizes: number[];
  hidden: number; output: number; cost: number; optimizer: number;
  seed: number; steps: number; beta1Power: number; beta2Power: number;
  /** The shuffles' generator state, 16 bytes. */
  shuffleRng: Uint8Array;
  /** Since format 2: the last fit's optimizer (kind as `optimizer`; a, b are momentum and 0 for SGD, betas for Adam). */
  settings: number; nesterov: number; lr: number; a: number; b: number; eps: number; weightDecay: number;
  /** Since format 3: the dropout masks' and fit's augmentation generators' states (16 bytes each), and the regularizers (0: none). */
  dropoutRng: Uint8Array; augmentRng: Uint8Array; inputDropout: number; maxNorm: number; dropout: number[];
  /** Since format 3: an interrupted fit's position (runEpochs 0: none; see fit-run.ts FitPosition). */
  runEpochs: number; runEpoch: number; runBatch: number; runRows: number; runBatchSize: number; runShuffle: number;
  runCorrect: number; runLoss: number; runRng: Uint8Array;
  /** P f32 parameters, then (withState) 2P f32 of optimizer state, as bytes. */
  params: Uint8Array;
  state: Uint8Array | undefined;
}

type Scalar = "u8" | "u32" | "f64";
type Field = [key: keyof Checkpoint, type: Scalar | "flags" | "sizes" | "rng" | "pad2" | "rates", since?: number];

/** The header, in order. */
const FIELDS: Field[] = [
  ["version", "u32"], ["withState", "flags"], ["sizes", "sizes"],
  ["hidden", "u8"], ["output", "u8"], ["cost", "u8"], ["optimizer", "u8"],
  ["seed", "u32"], ["steps", "u32"], ["beta1Power", "f64"], ["beta2Power", "f64"], ["shuffleRng", "rng"],
  ["settings", "u8", 2], ["nesterov", "u8", 2], ["settings", "pad2", 2],
  ["lr", "f64", 2], ["a", "f64", 2], ["b", "f64", 2], ["eps", "f64", 2], ["weightDecay", "f64", 2],
  ["dropoutRng", "rng", 3], ["augmentRng", "rng", 3], ["inputDropout", "f64", 3], ["maxNorm", "f64", 3],
  ["dropout", "rates", 3],
  ["runEpochs", "u32", 3], ["runEpoch", "u32", 3], ["runBatch", "u32", 3], ["runRows", "u32", 3],
  ["runBatchSize", "u32", 3], ["runShuffle", "u32", 3], ["runCorrect", "u32", 3], ["runLoss", "f64", 3],
  ["runRng", "rng", 3],
];
const MAGIC = [0x53, 0x57, 0x4e, 0x4e]; // "SWNN"
const RNG_BYTES = 16;
const BYTES: Record<Scalar | "flags" | "rng" | "pad2", number> = { u8: 1, u32: 4, f64: 8, flags: 4, rng: RNG_BYTES, pad2: 2 };
/** The versions this library reads; it writes the last. */
export const VERSIONS = [1, 2, 3];
const MAX_LAYERS = 1000;

function headerBytes(version: number, layers: number): number {
  let n = MAGIC.length;
  for (const [, type, since = 1] of FIELDS) {
    if (version >= since) n += type === "sizes" ? 4 * (layers + 2) : type === "rates" ? 8 * (layers - 1) : BYTES[type];
  }
  return n;
}

/** The parameter count of a network of these sizes (W and b of each layer). */
export function parameterCount(sizes: readonly number[]): number {
  let P = 0;
  for (let l = 0; l + 1 < sizes.length; l++) P += sizes[l] * sizes[l + 1] + sizes[l + 1];
  return P;
}

/** The checkpoint as bytes, in the newest format (`c.version` is ignored). */
export function encode(c: Omit<Checkpoint, "version">): Uint8Array {
  const version = VERSIONS.at(-1)!;
  const L = c.sizes.length - 1;
  const head = headerBytes(version, L);
  const bytes = new Uint8Array(head + c.params.length + (c.state?.length ?? 0) + 4);
  const dv = new DataView(bytes.buffer);
  bytes.set(MAGIC);
  let p = MAGIC.length;
  const all = { ...c, version } as Checkpoint;
  for (const [key, type] of FIELDS) {
    const v = all[key];
    if (type === "u8") dv.setUint8(p, v as number);
    else if (type === "u32") dv.setUint32(p, v as number, true);
    else if (type === "f64") dv.setFloat64(p, v as number, true);
    else if (type === "flags") dv.setUint32(p, v ? 1 : 0, true);
    else if (type === "rng") bytes.set(v as Uint8Array, p);
    else if (type === "sizes") {
      dv.setUint32(p, L, true);
      c.sizes.forEach((n, i) => dv.setUint32(p + 4 + 4 * i, n, true));
      p += 4 * (L + 2);
      continue;
    } else if (type === "rates") {
      c.dropout.forEach((r, i) => dv.setFloat64(p + 8 * i, r, true));
      p += 8 * (L - 1);
      continue;
    }
    p += BYTES[type];
  }
  bytes.set(c.params, head);
  if (c.state) bytes.set(c.state, head + c.params.length);
  dv.setUint32(bytes.length - 4, crc32(bytes, 0, bytes.length - 4), true);
  return bytes;
}

/** A checkpoint's fields from its bytes; a RangeError (prefixed with fn) for anything truncated, corrupted or foreign. */
export function decode(fn: string, bytes: Uint8Array): Checkpoint {
  if (bytes.length < 20 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new RangeError(`${fn}: not a softmax-wasm network (expected the magic "SWNN")`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // copies with their own buffers at offset 0 (the fields are read through .buffer): a Node Buffer's slice() is a view
  const copy = (from: number, to: number) => new Uint8Array(bytes.subarray(from, to));
  const version = dv.getUint32(4, true);
  if (!VERSIONS.includes(version)) {
    throw new RangeError(`${fn}: format version ${version} is not supported (this library reads ${VERSIONS.slice(0, -1).join(", ")} and ${VERSIONS.at(-1)})`);
  }
  if (dv.getUint32(bytes.length - 4, true) !== crc32(bytes, 0, bytes.length - 4)) {
    throw new RangeError(`${fn}: CRC-32 mismatch: the bytes are truncated or corrupted`);
  }
  const L = dv.getUint32(12, true);
  if (L < 1 || L > MAX_LAYERS || headerBytes(version, L) + 4 > bytes.length) {
    throw new RangeError(`${fn}: corrupted header (${L} layers)`);
  }
  // fields newer than the file read as "none", zeros and no generator state (the network seeds its own)
  const c = {
    version, settings: 0, nesterov: 0, lr: 0, a: 0, b: 0, eps: 0, weightDecay: 0, inputDropout: 0, maxNorm: 0,
    dropout: new Array(L - 1).fill(0), runEpochs: 0,
  } as unknown as Checkpoint;
  const out = c as unknown as Record<string, unknown>;
  let p = MAGIC.length;
  for (const [key, type, since = 1] of FIELDS) {
    if (version < since) continue;
    if (type === "u8") out[key] = dv.getUint8(p);
    else if (type === "u32") out[key] = dv.getUint32(p, true);
    else if (type === "f64") out[key] = dv.getFloat64(p, true);
    else if (type === "flags") out[key] = (dv.getUint32(p, true) & 1) === 1;
    else if (type === "rng") out[key] = copy(p, p + RNG_BYTES);
    else if (type === "sizes") {
      c.sizes = Array.from({ length: L + 1 }, (_, i) => dv.getUint32(p + 4 + 4 * i, true));
      p += 4 * (L + 2);
      continue;
    } else if (type === "rates") {
      c.dropout = Array.from({ length: L - 1 }, (_, i) => dv.getFloat64(p + 8 * i, true));
      p += 8 * (L - 1);
      continue;
    }
    p += BYTES[type];
  }
  const P = parameterCount(c.sizes);
  const head = headerBytes(version, L);
  if (bytes.length !== head + P * 4 * (c.withState ? 3 : 1) + 4) {
    throw new RangeError(`${fn}: ${bytes.length} bytes do not match sizes [${c.sizes.join(", ")}] (${P} parameters)`);
  }
  c.params = copy(head, head + P * 4);
  c.state = c.withState ? copy(head + P * 4, head + P * 12) : undefined;
  return c;
}
