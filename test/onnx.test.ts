// ONNX both ways: every exported model runs in onnxruntime-node and matches predict within 1e-5 (and passes
// onnx.checker's full check: `test/fixtures/make_models.py --check` over test/artifacts/interchange/), torch.onnx.export's
// models (opsets 11, 13, 17; Gemm and MatMul + Add; raw_data and float_data) read within 1e-5 of torch, exact round
// trips, and every model outside the subset or corrupted refused with a RangeError naming the node or the byte.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, Network, type OnnxOptions } from "../dist/index.js";
import { Writer } from "../dist/protobuf.js";
import { expectClose, loadJson, randn, refSoftmax, rng } from "./helpers.js";

interface Models { inputs: number[]; models: Record<string, { sizes: number[]; hidden: string; probabilities: number[] }> }
const fx = loadJson<Models>("./fixtures/models.json");
const model = (f: string) => new Uint8Array(readFileSync(new URL(`./fixtures/models/${f}`, import.meta.url)));
const ARTIFACTS = new URL("./artifacts/interchange/", import.meta.url);

beforeAll(() => ready());

/** onnxruntime-node's outputs for rows x of a model. */
async function runOrt(bytes: Uint8Array, x: Float32Array, features: number): Promise<{ name: string; data: Float32Array; dims: readonly number[] }> {
  const s = await ort.InferenceSession.create(bytes);
  const out = await s.run({ [s.inputNames[0]]: new ort.Tensor("float32", x, [x.length / features, features]) });
  const name = s.outputNames[0];
  await s.release();
  return { name, data: out[name].data as Float32Array, dims: out[name].dims };
}

describe("toOnnx: onnxruntime-node runs every export and matches predict within 1e-5", () => {
  const cases: [string, ConstructorParameters<typeof Network>[0], OnnxOptions | undefined][] = [
    ["784-100-10 relu, opset 17", { sizes: [784, 100, 10] }, undefined],
    ["sigmoid hidden, 3 layers, opset 11", { sizes: [9, 7, 5, 3], hidden: "sigmoid" }, { opset: 11 }],
    ["tanh hidden, opset 13", { sizes: [9, 8, 4], hidden: "tanh" }, { opset: 13 }],
    ["sigmoid output, opset 21", { sizes: [9, 6, 3], output: "sigmoid" }, { opset: 21 }],
    ["no hidden layer", { sizes: [9, 4] }, { opset: 15 }],
    ["logits", { sizes: [9, 6, 5], hidden: "tanh" }, { output: "logits" }],
    ["a fixed batch of 4", { sizes: [9, 6, 5] }, { batch: 4 }],
  ];
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(new URL(".gitignore", ARTIFACTS), "*\n");
  it.each(cases)("%s", async (name, opts, exportOpts) => {
    const net = new Network({ ...opts, seed: 7 });
    const D = net.sizes[0], C = net.sizes.at(-1)!;
    const x = randn(4 * D, 1.5, 3);
    const bytes = net.toOnnx(exportOpts);
    writeFileSync(new URL(`${name.replace(/[^a-z0-9-]+/gi, "_")}.onnx`, ARTIFACTS), bytes); // for make_models.py --check
    const got = await runOrt(bytes, x, D);
    expect(got.dims).toEqual([4, C]);
    const want = net.predict(x);
    if (exportOpts?.output === "logits") {
      expect(got.name).toBe("logits");
      expectClose(refSoftmax(got.data, C), want, 0, 1e-5, name);
    } else {
      expect(got.name).toBe("probabilities");
      expectClose(got.data, want, 0, 1e-5, name);
    }
  });

  it("a symbolic batch takes any row count; a fixed one only its own", async () => {
    const net = new Network({ sizes: [5, 3], seed: 1 });
    for (const rows of [1, 64]) expect((await runOrt(net.toOnnx(), randn(rows * 5), 5)).dims).toEqual([rows, 3]);
    await expect(runOrt(net.toOnnx({ batch: 4 }), randn(3 * 5), 5)).rejects.toThrow(/dimension|Got: 3/i);
  });

  it("round trips swnn -> onnx -> swnn exactly (parameters, architecture from the graph and metadata_props)", async () => {
    for (const opts of [{ sizes: [6, 5, 4], hidden: "tanh" as const, cost: "quadratic" as const },
      { sizes: [6, 3], hidden: "sigmoid" as const, output: "sigmoid" as const }]) {
      const net = new Network({ ...opts, seed: 4 });
      const x = randn(30 * 6, 1, 8);
      await net.fit(x, Uint8Array.from({ length: 30 }, (_, i) => i % 3), { epochs: 1, batchSize: 5 });
      for (const output of ["probabilities", "logits"] as const) {
        const back = Network.fromOnnx(Network.load(net.save()).toOnnx({ output }));
        expect([back.sizes, back.hidden, back.output, back.cost]).toEqual([net.sizes, net.hidden, net.output, net.cost]);
        expect(back.parameters()).toEqual(net.parameters());
        expect(Network.load(back.save()).predict(x)).toEqual(net.predict(x));
      }
    }
  });

  it("writes producer, opset and IR version, and checks its options", () => {
    const net = new Network({ sizes: [3, 2] });
    const text = new TextDecoder("latin1").decode(net.toOnnx({ opset: 13 }));
    expect(text).toContain("softmax-wasm");
    expect(() => net.toOnnx({ opset: 10 })).toThrow(RangeError);
    expect(() => net.toOnnx({ opset: 22 })).toThrow(/opts.opset must be an integer in \[11, 21\], got 22/);
    expect(() => net.toOnnx({ opset: "17" as unknown as number })).toThrow(TypeError);
    expect(() => net.toOnnx({ output: "logprobs" as "logits" })).toThrow(/opts.output/);
    expect(() => net.toOnnx({ batch: 0 })).toThrow(/opts.batch/);
    expect(() => net.toOnnx({ dynamic: true } as object)).toThrow(/dynamic/);
  });
});

describe("fromOnnx reads torch.onnx.export's models", () => {
  const x = Float32Array.from(fx.inputs);
  it.each([
    ["relu_opset11.onnx", "relu"], // Gemm, logits
    ["relu_softmax_opset17.onnx", "relu"], // Gemm, Softmax
    ["tanh_logsoftmax_opset13.onnx", "tanh"], // LogSoftmax: predict gives the probabilities
    ["sigmoid_matmul_add_opset13.onnx", "sigmoid"], // MatMul + Add (bias first), float_data, Softmax(axis = 1)
  ])("%s matches torch within 1e-5", (f, key) => {
    const net = Network.fromOnnx(model(f));
    expect(net.sizes).toEqual(fx.models[key].sizes);
    expect(net.hidden).toBe(fx.models[key].hidden);
    expect(net.output).toBe("softmax");
    expectClose(net.predict(x), fx.models[key].probabilities, 0, 1e-5, f);
  });

  it("the same weights as the safetensors torch saved", () => {
    expect(Network.fromOnnx(model("relu_opset11.onnx")).parameters())
      .toEqual(Network.fromSafetensors(model("relu_f32.safetensors")).parameters());
  });

  it("imported networks evaluate, fine-tune and save", async () => {
    const net = Network.fromOnnx(model("tanh_logsoftmax_opset13.onnx"));
    const r = rng(6);
    const xs = Float32Array.from({ length: 48 * 12 }, () => r() * 4 - 2);
    const labels = Uint8Array.from({ length: 48 }, (_, i) => (xs[i * 12] > 0 ? 3 : 0));
    const before = net.evaluate(xs, labels).loss;
    await net.fit(xs, labels, { epochs: 20, batchSize: 8, optimizer: { name: "adam", lr: 0.01 } });
    expect(net.evaluate(xs, labels).loss).toBeLessThan(before * 0.5);
    expect(Network.load(net.save()).predict(xs)).toEqual(net.predict(xs));
  });
});

// ---- hand-made models, for what the reader must refuse ----

interface Spec {
  nodes: { op: string; inputs: string[]; output: string; attrs?: [string, "f" | "i", number][]; name?: string }[];
  inits: { name: string; dims: number[]; data?: number[]; type?: number; floatData?: boolean }[];
  input?: string; inputs?: string[]; output?: string; opset?: number;
}

function onnxModel(s: Spec): Uint8Array {
  const g = new Writer();
  for (const n of s.nodes) {
    g.message(1, (w) => {
      for (const i of n.inputs) w.string(1, i);
      w.string(2, n.output).string(3, n.name ?? `${n.op}_${n.output}`).string(4, n.op);
      for (const [a, t, v] of n.attrs ?? []) w.message(5, (at) => (t === "f" ? at.string(1, a).float(2, v).int(20, 1) : at.string(1, a).int(3, v).int(20, 2)));
    });
  }
  for (const t of s.inits) {
    g.message(5, (w) => {
      w.packedInts(1, t.dims).int(2, t.type ?? 1).string(8, t.name);
      const data = Float32Array.from(t.data ?? Array.from({ length: t.dims.reduce((a, b) => a * b, 1) }, (_, i) => (i % 7) / 10 - 0.3));
      if (t.floatData) for (const v of data) w.float(4, v);
      else w.bytes(9, new Uint8Array(data.buffer));
    });
  }
  const info = (w: Writer, name: string, n: number) => w.string(1, name).message(2, (ty) => ty.message(1, (tt) =>
    tt.int(1, 1).message(2, (sh) => sh.message(1, (d) => d.string(2, "N")).message(1, (d) => d.int(1, n)))));
  for (const i of s.inputs ?? [s.input ?? "x"]) g.message(11, (w) => info(w, i, 3));
  g.message(12, (w) => info(w, s.output ?? "y", 2));
  return new Writer().int(1, 8).bytes(7, g.finish()).message(8, (o) => o.string(1, "").int(2, s.opset ?? 17)).finish();
}

const gemm = (x: string, l: number, out: string, attrs: [string, "f" | "i", number][] = [["transB", "i", 1]]) =>
  ({ op: "Gemm", inputs: [x, `w${l}`, `b${l}`], output: out, attrs });
const inits = (dims: [number, number][]) => dims.flatMap(([o, i], l) => [{ name: `w${l}`, dims: [o, i] }, { name: `b${l}`, dims: [o] }]);

describe("fromOnnx refuses what it cannot represent, naming the node and its op type", () => {
  const two = inits([[4, 3], [2, 4]]);
  const cases: [string, Spec, RegExp][] = [
    ["an op outside the subset", { nodes: [gemm("x", 0, "h"), { op: "Conv", inputs: ["h"], output: "c" }, gemm("c", 1, "y")], inits: two },
      /node 'Conv_c' \(Conv\): op type Conv is not read/],
    ["alpha != 1", { nodes: [gemm("x", 0, "h", [["alpha", "f", 2], ["transB", "i", 1]]), { op: "Relu", inputs: ["h"], output: "r" }, gemm("r", 1, "y")], inits: two },
      /node 'Gemm_h' \(Gemm\): only alpha = beta = 1/],
    ["two linear layers without an activation", { nodes: [gemm("x", 0, "h"), gemm("h", 1, "y")], inits: two }, /two linear layers with no activation/],
    ["mixed hidden activations", {
      nodes: [gemm("x", 0, "h"), { op: "Relu", inputs: ["h"], output: "r" }, gemm("r", 1, "h1"), { op: "Tanh", inputs: ["h1"], output: "t" }, gemm("t", 2, "y")],
      inits: inits([[4, 3], [4, 4], [2, 4]]),
    }, /mix activations \(Relu, Tanh\)/],
    ["a final Relu", { nodes: [gemm("x", 0, "h"), { op: "Relu", inputs: ["h"], output: "y" }], inits: inits([[2, 3]]) }, /last layer ends in Relu/],
    ["a branch", { nodes: [gemm("x", 0, "h"), { op: "Relu", inputs: ["x"], output: "r" }, gemm("r", 1, "y")], inits: two },
      /node 'Relu_r' \(Relu\) reads 'x', not 'h'/],
    ["Softmax over axis 0", { nodes: [gemm("x", 0, "y0"), { op: "Softmax", inputs: ["y0"], output: "y", attrs: [["axis", "i", 0]] }], inits: inits([[2, 3]]) },
      /\(Softmax\): axis 0, expected the last/],
    ["a weight that is not an initializer", { nodes: [{ op: "Gemm", inputs: ["x", "W", "b0"], output: "y", attrs: [["transB", "i", 1]] }], inits: inits([[2, 3]]) },
      /\(Gemm\): its B 'W' is not an initializer/],
    ["weights that do not chain", { nodes: [gemm("x", 0, "h"), { op: "Relu", inputs: ["h"], output: "r" }, gemm("r", 1, "y")], inits: inits([[4, 3], [2, 5]]) },
      /weight 'w1' has dims \[2,5\], expected 4 inputs/],
    ["an int64 initializer", { nodes: [gemm("x", 0, "y")], inits: [{ name: "w0", dims: [2, 3], type: 7 }, { name: "b0", dims: [2] }] },
      /initializer 'w0' has data_type 7, expected 1 \(FLOAT\)/],
    ["raw_data shorter than its dims", { nodes: [gemm("x", 0, "y")], inits: [{ name: "w0", dims: [2, 3], data: [1, 2, 3] }, { name: "b0", dims: [2] }] },
      /initializer 'w0' has dims \[2,3\] \(6 floats\) but 12 bytes of raw_data/],
    ["float_data shorter than its dims", { nodes: [gemm("x", 0, "y")], inits: [{ name: "w0", dims: [2, 3], data: [1], floatData: true }, { name: "b0", dims: [2] }] },
      /but 1 in float_data/],
    ["a NaN weight", { nodes: [gemm("x", 0, "y")], inits: [{ name: "w0", dims: [2, 3], data: [1, 2, NaN, 4, 5, 6] }, { name: "b0", dims: [2] }] },
      /initializer 'w0' \[2\] is NaN/],
    ["opset 10", { nodes: [gemm("x", 0, "y")], inits: inits([[2, 3]]), opset: 10 }, /opset 10 is not read \(opsets 11 to 21\)/],
    ["two inputs", { nodes: [gemm("x", 0, "y")], inits: inits([[2, 3]]), inputs: ["x", "z"] }, /2 inputs, expected 1/],
    ["an output that is not the last node's", { nodes: [gemm("x", 0, "h"), { op: "Relu", inputs: ["h"], output: "r" }, gemm("r", 1, "y")], inits: two, output: "h" },
      /the graph's output 'h' is not the last node's 'y'/],
    ["MatMul without its Add", { nodes: [{ op: "MatMul", inputs: ["x", "w0"], output: "y" }], inits: [{ name: "w0", dims: [3, 2] }] },
      /\(MatMul\) is not followed by an Add/],
    ["no nodes", { nodes: [], inits: [], output: "x" }, /no linear layer/],
  ];
  it.each(cases)("%s", (_, spec, msg) => {
    const bytes = onnxModel(spec);
    expect(() => Network.fromOnnx(bytes)).toThrow(RangeError);
    expect(() => Network.fromOnnx(bytes)).toThrow(msg);
  });

  it("the hand-made models' accepted forms: transB = 0, float_data, Dropout and Identity as no-ops", () => {
    const spec: Spec = {
      nodes: [gemm("x", 0, "h", [["transB", "i", 0]]), { op: "Dropout", inputs: ["h"], output: "d" }, { op: "Sigmoid", inputs: ["d"], output: "s" },
        { op: "Identity", inputs: ["s"], output: "i" }, gemm("i", 1, "y", [["transB", "i", 0]])],
      inits: [{ name: "w0", dims: [3, 4], floatData: true }, { name: "b0", dims: [4] }, { name: "w1", dims: [4, 2] }, { name: "b1", dims: [2] }],
    };
    const net = Network.fromOnnx(onnxModel(spec));
    expect([net.sizes, net.hidden]).toEqual([[3, 4, 2], "sigmoid"]);
    const w0 = Float32Array.from({ length: 12 }, (_, i) => (i % 7) / 10 - 0.3);
    expect(net.parameters().subarray(0, 12)).toEqual(w0); // [in, out] as the network keeps it: no transpose
  });
});

describe("fromOnnx refuses corrupted protobuf with a RangeError naming the byte", () => {
  let good: Uint8Array;
  beforeAll(async () => {
    await ready();
    good = new Network({ sizes: [5, 4, 3], seed: 2 }).toOnnx();
  });
  const cases: [string, Uint8Array, RegExp][] = [
    ["garbage", Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff), /wire type 3 \(field 1\) is not one protobuf uses here .* at byte 0 \(in ModelProto\)/],
    ["the graph as a varint (wrong wire type)", Uint8Array.of(0x38, 0x01), /graph \(field 7\) has wire type 0 at byte 0, expected 2/],
    ["a huge length", Uint8Array.of(0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f), /a length of 4294967295 bytes runs past the end \(0 left\) at byte 6/],
    ["a length past the end", Uint8Array.of(0x3a, 0x05, 0x01), /a length of 5 bytes runs past the end/],
    ["an 11-byte varint", Uint8Array.of(0x08, ...new Array(10).fill(0xff), 0x01), /varint longer than 10 bytes at byte 1/],
    ["a truncated varint", Uint8Array.of(0x08, 0xff), /varint runs past the end at byte 1/],
    ["a group (wire type 3)", Uint8Array.of(0x0b), /wire type 3/],
    ["field number 0", Uint8Array.of(0x02, 0x00), /field number 0 at byte 0/],
    ["no graph", Uint8Array.of(0x08, 0x08), /not an ONNX model: no graph/],
    ["empty", new Uint8Array(0), /no graph/],
    ["a node's name as a fixed32", onnxNodeWithFixed32Name(), /node.name \(field 3\) has wire type 5/],
  ];
  it.each(cases)("%s", (_, bytes, msg) => {
    expect(() => Network.fromOnnx(bytes)).toThrow(RangeError);
    expect(() => Network.fromOnnx(bytes)).toThrow(msg);
  });

  it("every truncation is refused or gives the same weights (protobuf cannot tell a cut at a field's end)", () => {
    const want = Network.fromOnnx(good).parameters();
    let refused = 0;
    for (let n = 0; n < good.length; n++) {
      try {
        const net = Network.fromOnnx(good.subarray(0, n));
        expect(net.parameters()).toEqual(want);
        net.dispose();
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(good.length * 0.9);
  });

  it("seeded fuzz: 3000 mutations give a RangeError or a network, nothing else, and never hang", () => {
    const r = rng(20250612);
    let refused = 0;
    for (let t = 0; t < 3000; t++) {
      const b = good.slice();
      for (let k = 0; k < 1 + r() * 3; k++) b[Math.floor(r() * b.length)] = t % 2 ? Math.floor(r() * 256) : b[Math.floor(r() * b.length)] ^ 0x80;
      try {
        Network.fromOnnx(b).dispose();
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(600);
  });

  it("bytes must be a Uint8Array", () => {
    expect(() => Network.fromOnnx(new ArrayBuffer(4) as unknown as Uint8Array)).toThrow(TypeError);
  });
});

/** A model whose first node has its name field (3) written as a fixed32. */
function onnxNodeWithFixed32Name(): Uint8Array {
  const node = Uint8Array.of(0x1d, 1, 2, 3, 4); // field 3, wire 5
  return new Writer().bytes(7, new Writer().bytes(1, node).finish()).finish();
}
