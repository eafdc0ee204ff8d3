// safetensors both ways: the layout PyTorch's nn.Sequential state_dict has (checked byte by byte here, and by torch's
// load_state_dict in `test/fixtures/make_models.py --check` over the files left in test/artifacts/interchange/),
// torch's own files read back (F32, F16, BF16, a prefixed chain) within 1e-5 of torch's outputs, exact round trips,
// and every corruption refused with a RangeError naming it.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, Network } from "../dist/index.js";
import { expectClose, loadJson, randn, rng } from "./helpers.js";

interface Models {
  features: number; classes: number; inputs: number[];
  models: Record<string, { sizes: number[]; hidden: string; probabilities: number[]; logits: number[] }>;
}
const fx = loadJson<Models>("./fixtures/models.json");
const model = (f: string) => new Uint8Array(readFileSync(new URL(`./fixtures/models/${f}`, import.meta.url)));
const ARTIFACTS = new URL("./artifacts/interchange/", import.meta.url);
const pkg = loadJson<{ version: string }>("../package.json");

beforeAll(() => ready());

/** The header and data of a file (the reader under test is not used). */
function parse(bytes: Uint8Array): { n: number; header: Record<string, any>; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { n, header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.subarray(8 + n) };
}

/** A file from a header and data bytes, the header padded to 8 as the format's writer does. */
function file(header: unknown, data: Uint8Array, n?: number): Uint8Array {
  let h = header instanceof Uint8Array ? header
    : new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(h.length / 8) * 8).fill(0x20);
  padded.set(h);
  h = padded;
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(n ?? h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function trained(sizes: number[], hidden: "relu" | "sigmoid" | "tanh" = "relu", seed = 3): Network {
  return new Network({ sizes, hidden, seed });
}

describe("toSafetensors writes nn.Sequential's state_dict", () => {
  it("names, shapes [out, in], dtype F32, contiguous offsets, a header padded to 8 and the architecture", () => {
    const net = trained([5, 4, 3, 2], "tanh");
    const bytes = net.toSafetensors();
    const { n, header, data } = parse(bytes);
    expect(n % 8).toBe(0);
    expect(bytes[8]).toBe(0x7b); // "{"
    expect(header.__metadata__).toEqual({
      format: "pt", library: "softmax-wasm", version: pkg.version, sizes: "5,4,3,2", hidden: "tanh", output: "softmax",
      cost: "crossEntropy",
    });
    const names = Object.keys(header).filter((k) => k !== "__metadata__");
    expect(names).toEqual(["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]);
    expect(names.map((k) => header[k].shape)).toEqual([[4, 5], [4], [3, 4], [3], [2, 3], [2]]);
    expect(names.every((k) => header[k].dtype === "F32")).toBe(true);
    let end = 0;
    for (const k of names) {
      expect(header[k].data_offsets[0]).toBe(end);
      end = header[k].data_offsets[1];
    }
    expect(end).toBe(data.length);
    // 0.weight[o][i] is W0[i][o] (the network keeps W as inputs x outputs)
    const p = net.parameters();
    const dv = new DataView(data.buffer, data.byteOffset);
    for (let o = 0; o < 4; o++) for (let i = 0; i < 5; i++) expect(dv.getFloat32((o * 5 + i) * 4, true)).toBe(p[i * 4 + o]);
    const b2 = header["2.bias"].data_offsets[0];
    for (let o = 0; o < 3; o++) expect(dv.getFloat32(b2 + o * 4, true)).toBe(p[5 * 4 + 4 + 4 * 3 + o]);
  });

  it("round trips swnn -> safetensors -> swnn exactly (parameters, architecture, outputs)", async () => {
    const net = new Network({ sizes: [6, 5, 3], hidden: "sigmoid", output: "sigmoid", cost: "quadratic", seed: 9 });
    const x = randn(40 * 6, 1, 4);
    const labels = Uint8Array.from({ length: 40 }, (_, i) => i % 3);
    await net.fit(x, labels, { epochs: 2, batchSize: 8 });
    const loaded = Network.load(net.save());
    const back = Network.fromSafetensors(loaded.toSafetensors());
    expect(back.sizes).toEqual([6, 5, 3]);
    expect([back.hidden, back.output, back.cost]).toEqual(["sigmoid", "sigmoid", "quadratic"]);
    expect(back.parameters()).toEqual(net.parameters());
    expect(Network.load(back.save()).parameters()).toEqual(net.parameters());
    expect(back.predict(x)).toEqual(net.predict(x));
    // left for make_models.py --check: torch's load_state_dict and outputs against these
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(new URL(".gitignore", ARTIFACTS), "*\n");
    for (const [name, m] of [["sigmoid-quadratic", net], ["relu-784-100-10", trained([784, 100, 10])],
      ["tanh-3-layers", trained([7, 6, 5, 4], "tanh")]] as const) {
      const xs = randn(3 * m.sizes[0], 1, 11);
      writeFileSync(new URL(`${name}.safetensors`, ARTIFACTS), m.toSafetensors());
      writeFileSync(new URL(`${name}.json`, ARTIFACTS), JSON.stringify({ x: [...xs], predict: [...m.predict(xs)] }));
    }
  });
});

describe("fromSafetensors reads torch's files", () => {
  const x = Float32Array.from(fx.inputs);
  it.each([
    ["relu_f32.safetensors", "relu", {}],
    ["tanh_f16.safetensors", "tanh_f16", { hidden: "tanh" }],
    ["tanh_bf16.safetensors", "tanh_bf16", { hidden: "tanh" }],
  ] as const)("%s matches torch's outputs within 1e-5", (f, key, opts) => {
    const want = fx.models[key];
    const net = Network.fromSafetensors(model(f), opts);
    expect(net.sizes).toEqual(want.sizes);
    expect(net.hidden).toBe(want.hidden);
    expectClose(net.predict(x), want.probabilities, 0, 1e-5, f);
  });

  it("takes the architecture from opts when the file has no __metadata__ of it, and refuses a contradiction", () => {
    const bytes = model("tanh_f16.safetensors"); // "body.0.weight", ...: no metadata
    expect(Network.fromSafetensors(bytes).hidden).toBe("relu");
    const own = trained([3, 4, 2], "tanh").toSafetensors();
    expect(Network.fromSafetensors(own, { hidden: "tanh" }).hidden).toBe("tanh");
    expect(() => Network.fromSafetensors(own, { hidden: "relu" })).toThrow(/opts.hidden 'relu' contradicts the file's __metadata__.hidden 'tanh'/);
    expect(() => Network.fromSafetensors(own, { hidden: "gelu" as "relu" })).toThrow(RangeError);
    expect(() => Network.fromSafetensors(own, { depth: 3 } as object)).toThrow(/depth/);
    expect(() => Network.fromSafetensors([1, 2] as unknown as Uint8Array)).toThrow(TypeError);
  });

  it("imported networks evaluate, fine-tune and save", async () => {
    const net = Network.fromSafetensors(model("relu_f32.safetensors"));
    const r = rng(5);
    const x = Float32Array.from({ length: 64 * 12 }, () => r() * 4 - 2);
    const labels = Uint8Array.from({ length: 64 }, (_, i) => (x[i * 12] > 0 ? 1 : 0) + (x[i * 12 + 1] > 0 ? 2 : 0));
    const before = net.evaluate(x, labels).loss;
    await net.fit(x, labels, { epochs: 20, batchSize: 16, optimizer: { name: "adam", lr: 0.01 } });
    expect(net.evaluate(x, labels).loss).toBeLessThan(before * 0.5);
    const copy = Network.load(net.save());
    expect(copy.predict(x)).toEqual(net.predict(x));
  });
});

describe("fromSafetensors refuses corrupted input with a RangeError naming the problem", () => {
  const W = new Uint8Array(4 * 2 * 3 + 4 * 2); // 0.weight [2, 3] and 0.bias [2], F32 zeros
  const ok = { "0.weight": { dtype: "F32", shape: [2, 3], data_offsets: [0, 24] }, "0.bias": { dtype: "F32", shape: [2], data_offsets: [24, 32] } };
  const cases: [string, Uint8Array, RegExp][] = [
    ["fewer than 8 bytes", new Uint8Array(5), /truncated: 5 bytes/],
    ["a header length past the end", file(ok, W, 5000), /header length \(5000 bytes\) runs past the end/],
    ["a header length over 2^32", (() => { const b = file(ok, W); b[4] = 1; return b; })(), /runs past the end/],
    ["bad JSON", file('{"0.weight": {', W), /not valid UTF-8 JSON/],
    ["invalid UTF-8", file(new Uint8Array([0x7b, 0xff, 0x7d]), W), /not valid UTF-8 JSON/],
    ["a header that is an array", file([1, 2], W), /must be a JSON object/],
    ["overlapping data_offsets", file({ ...ok, "0.bias": { dtype: "F32", shape: [2], data_offsets: [16, 24] } }, W.subarray(0, 24)), /overlap/],
    ["data_offsets past the data", file({ ...ok, "0.bias": { dtype: "F32", shape: [2], data_offsets: [24, 40] } }, W), /tensor '0.bias': data_offsets \[24, 40\] run past the data \(32 bytes\)/],
    ["data_offsets leaving a gap", file({ ...ok, "0.bias": { dtype: "F32", shape: [2], data_offsets: [28, 36] } }, new Uint8Array(36)), /leave bytes 24 to 28 unused/],
    ["data not covered", file(ok, new Uint8Array(40)), /cover 32 of the 40 data bytes/],
    ["reversed data_offsets", file({ ...ok, "0.bias": { dtype: "F32", shape: [2], data_offsets: [32, 24] } }, W), /begin <= end/],
    ["an unknown dtype", file({ ...ok, "0.bias": { dtype: "F33", shape: [2], data_offsets: [24, 32] } }, W), /tensor '0.bias': unknown dtype "F33"/],
    ["a dtype not read", file({ ...ok, "0.bias": { dtype: "I32", shape: [2], data_offsets: [24, 32] } }, W), /dtype I32 is not read \(expected F32, F16, BF16\)/],
    ["a shape that is not its bytes", file({ ...ok, "0.weight": { dtype: "F32", shape: [2, 4], data_offsets: [0, 24] } }, W), /shape \[2,4\] of F32 is 32 bytes, but data_offsets \[0, 24\] hold 24/],
    ["a negative shape", file({ ...ok, "0.bias": { dtype: "F32", shape: [-2], data_offsets: [24, 32] } }, W), /shape must be an array of integers/],
    ["a 1-D weight", file({ ...ok, "0.weight": { dtype: "F32", shape: [6], data_offsets: [0, 24] } }, W), /'0.weight' has shape \[6\], expected \[out, in\]/],
    ["a bias of the wrong size", file({ "0.weight": { dtype: "F32", shape: [2, 3], data_offsets: [0, 24] }, "0.bias": { dtype: "F32", shape: [3], data_offsets: [24, 36] } }, new Uint8Array(36)), /'0.bias' has shape \[3\], expected \[2\]/],
    ["layers that do not chain", file({ ...ok, "2.weight": { dtype: "F32", shape: [2, 3], data_offsets: [32, 56] }, "2.bias": { dtype: "F32", shape: [2], data_offsets: [56, 64] } }, new Uint8Array(64)), /'2.weight' has shape \[2,3\], expected \[2, 2\]/],
    ["a missing bias", file({ "0.weight": ok["0.weight"] }, W.subarray(0, 24)), /'0.weight' has no '0.bias'/],
    ["a tensor of another layer", file({ ...ok, "1.running_mean": { dtype: "F32", shape: [0], data_offsets: [32, 32] } }, W), /'1.running_mean' is not a '<prefix>.<index>.weight'/],
    ["two prefixes", file({ "a.0.weight": ok["0.weight"], "b.0.bias": ok["0.bias"] }, W), /another prefix/],
    ["no tensors", file({}, new Uint8Array(0)), /no tensors/],
    ["metadata that is not strings", file({ ...ok, __metadata__: { sizes: [3, 2] } }, W), /__metadata__ must be an object of strings/],
    ["metadata sizes that are not the tensors'", file({ ...ok, __metadata__: { sizes: "3,4" } }, W), /__metadata__.sizes '3,4' does not match the tensors' \[3,2\]/],
    ["an unknown hidden activation", file({ ...ok, __metadata__: { hidden: "gelu" } }, W), /__metadata__.hidden must be/],
  ];
  it.each(cases)("%s", (_, bytes, msg) => {
    expect(() => Network.fromSafetensors(bytes)).toThrow(RangeError);
    expect(() => Network.fromSafetensors(bytes)).toThrow(msg);
  });

  it("a NaN or infinite weight, named by tensor and index", () => {
    const data = new Uint8Array(W);
    new DataView(data.buffer).setFloat32(28, NaN, true);
    expect(() => Network.fromSafetensors(file(ok, data))).toThrow(/tensor '0.bias' \[1\] is NaN, expected a finite number/);
    new DataView(data.buffer).setFloat32(4, -Infinity, true);
    expect(() => Network.fromSafetensors(file(ok, data))).toThrow(/tensor '0.weight' \[1\] is -Infinity/);
  });

  it("seeded fuzz: 3000 mutations of a valid file give a RangeError or a network, nothing else, and never hang", () => {
    const good = trained([6, 5, 3]).toSafetensors();
    const r = rng(20250611);
    let refused = 0;
    for (let t = 0; t < 3000; t++) {
      let b = good.slice();
      const kind = t % 4;
      if (kind === 0) b = b.subarray(0, Math.floor(r() * b.length)); // truncated
      else if (kind === 1) for (let k = 0; k < 1 + r() * 4; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      else if (kind === 2) b[8 + Math.floor(r() * parse(good).n)] ^= 1 << Math.floor(r() * 8); // a bit in the header
      else new DataView(b.buffer).setUint32(Math.floor(r() * 2) * 4, Math.floor(r() * 2 ** 32), true); // its length
      try {
        Network.fromSafetensors(b).dispose();
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(1500);
  });
});
