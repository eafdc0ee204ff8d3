// ONNX, written and read by the library's own protobuf code (protobuf.ts), for the MLPs it trains and the ones
// torch.onnx.export writes for an nn.Sequential of Linear and ReLU / Sigmoid / Tanh:
//   write: Gemm (transB = 1 over [out, in] weights, as PyTorch's Linear) + the hidden activation per layer, then
//          Softmax(axis = -1) / Sigmoid (the output's) or the raw logits; initializers as raw little-endian f32;
//   read:  Gemm (transB 0 or 1, alpha = beta = 1) or MatMul + Add, Relu / Sigmoid / Tanh, an optional final Softmax /
//          LogSoftmax / Sigmoid, Dropout and Identity as no-ops (inference), initializers in raw_data or float_data.
// Field numbers are onnx.proto's (onnx/onnx.proto, IR version 10).
import { fields, Writer, type Field } from "./protobuf.js";
import {
  architecture, firstNonFinite, LIBRARY_VERSION, metadataOf, packParams, weightOutIn, type Mlp,
} from "./safetensors.js";
import { atLeast, oneOf, options } from "./checks.js";
import type { HiddenActivation, OutputActivation } from "./network.js";

// network.ts takes both formats from here (one import)
export { encodeSafetensors, mlpFromSafetensors, type ArchitectureOptions, type Mlp } from "./safetensors.js";

export interface OnnxOptions {
  /** The default domain's opset, 11 to 21 (default 17). */
  opset?: number;
  /** The graph's output: the output activation's probabilities (default) or the last layer's logits. */
  output?: "probabilities" | "logits";
  /** A fixed batch size; without it the batch dimension is symbolic ("batch"). */
  batch?: number;
}

export const OPSETS = [11, 21] as const;
/** The IR version each opset came with (onnx/helper.py's VERSION_TABLE). */
function irVersion(opset: number): number {
  return opset <= 14 ? 7 : opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}
const FLOAT = 1; // TensorProto.DataType
const ATTR_FLOAT = 1, ATTR_INT = 2; // AttributeProto.AttributeType

/** ValueInfoProto of a float tensor [batch, n] (a dim_value or a dim_param). */
function valueInfo(w: Writer, name: string, batch: number | string, n: number): void {
  w.string(1, name).message(2, (type) => type.message(1, (tensor) => {
    tensor.int(1, FLOAT).message(2, (shape) => {
      shape.message(1, (d) => (typeof batch === "number" ? d.int(1, batch) : d.string(2, batch)));
      shape.message(1, (d) => d.int(1, n));
    });
  }));
}

/** The network as an ONNX ModelProto. */
export function encodeOnnx(fn: string, m: Mlp, opts?: OnnxOptions): Uint8Array {
  const o = options(fn, opts, ["opset", "output", "batch"] as const);
  const opset = atLeast(fn, "opts.opset", o.opset, OPSETS[0], 17);
  if (opset > OPSETS[1]) throw new RangeError(`${fn}: opts.opset must be an integer in [${OPSETS.join(", ")}], got ${opset}`);
  const output = oneOf(fn, "opts.output", o.output, ["probabilities", "logits"] as const, "probabilities");
  const batch = o.batch === undefined ? "batch" : atLeast(fn, "opts.batch", o.batch, 1);
  const L = m.sizes.length - 1;
  const graph = new Writer();
  const node = (op: string, name: string, inputs: string[], out: string, attrs: [string, number, number][] = []) => {
    graph.message(1, (n) => {
      for (const i of inputs) n.string(1, i);
      n.string(2, out).string(3, name).string(4, op);
      for (const [a, type, v] of attrs) {
        n.message(5, (at) => {
          at.string(1, a);
          if (type === ATTR_FLOAT) at.float(2, v);
          else at.int(3, v);
          at.int(20, type);
        });
      }
    });
  };
  const ACT = { relu: "Relu", sigmoid: "Sigmoid", tanh: "Tanh" } as const;
  let cur = "input";
  for (let l = 0; l < L; l++) {
    const last = l === L - 1;
    const gemmOut = last && output === "logits" ? "logits" : `/${2 * l}/Gemm_output_0`;
    node("Gemm", `/${2 * l}/Gemm`, [cur, `${2 * l}.weight`, `${2 * l}.bias`], gemmOut,
      [["alpha", ATTR_FLOAT, 1], ["beta", ATTR_FLOAT, 1], ["transB", ATTR_INT, 1]]);
    cur = gemmOut;
    if (!last) {
      const op = ACT[m.hidden];
      node(op, `/${2 * l + 1}/${op}`, [cur], `/${2 * l + 1}/${op}_output_0`);
      cur = `/${2 * l + 1}/${op}_output_0`;
    }
  }
  if (output === "probabilities") {
    if (m.output === "softmax") node("Softmax", "/Softmax", [cur], "probabilities", [["axis", ATTR_INT, -1]]);
    else node("Sigmoid", "/Sigmoid", [cur], "probabilities");
  }
  graph.string(2, "softmax-wasm");
  for (let l = 0; l < L; l++) {
    const { w, b } = weightOutIn(m, l);
    for (const [name, dims, data] of [[`${2 * l}.weight`, [m.sizes[l + 1], m.sizes[l]], w],
      [`${2 * l}.bias`, [m.sizes[l + 1]], b]] as const) {
      const raw = new Uint8Array(data.length * 4);
      const dv = new DataView(raw.buffer);
      for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
      graph.message(5, (t) => t.packedInts(1, dims).int(2, FLOAT).string(8, name).bytes(9, raw));
    }
  }
  graph.message(11, (v) => valueInfo(v, "input", batch, m.sizes[0]));
  graph.message(12, (v) => valueInfo(v, output, batch, m.sizes[L]));
  const model = new Writer()
    .int(1, irVersion(opset))
    .string(2, "softmax-wasm")
    .string(3, LIBRARY_VERSION)
    .bytes(7, graph.finish())
    .message(8, (op) => op.string(1, "").int(2, opset));
  for (const [k, v] of Object.entries(metadataOf(m))) if (k !== "format") model.message(14, (e) => e.string(1, k).string(2, v));
  return model.finish();
}

// ---- reading ----

const utf8 = new TextDecoder("utf-8", { fatal: true });

interface Tensor { name: string; dims: number[]; data: Float32Array }
interface Node { name: string; op: string; domain: string; inputs: string[]; outputs: string[]; attrs: Map<string, Field> }
interface Graph {
  nodes: Node[]; initializers: Map<string, Tensor>;
  inputs: { name: string; dims: (number | undefined)[] }[]; outputs: string[];
}

/** The reader's helpers for one file: each checks a field's wire type and names the field in errors. */
function reader(fn: string) {
  const wire = (f: Field, want: number, where: string): void => {
    if (f.wire !== want) {
      throw new RangeError(`${fn}: ${where} (field ${f.field}) has wire type ${f.wire} at byte ${f.at}, expected ${want}`);
    }
  };
  const sub = (f: Field, where: string): Field[] => {
    wire(f, 2, where);
    return fields(fn, where, f.bytes, f.value);
  };
  const str = (f: Field, where: string): string => {
    wire(f, 2, where);
    try {
      return utf8.decode(f.bytes);
    } catch {
      throw new RangeError(`${fn}: ${where} at byte ${f.at} is not valid UTF-8`);
    }
  };
  const int = (f: Field, where: string): number => {
    wire(f, 0, where);
    return f.value;
  };
  /** A repeated int64, packed or not, into `into`. */
  const ints = (f: Field, where: string, into: number[]): void => {
    if (f.wire === 0) into.push(f.value);
    else for (const g of fields(fn, where, packedVarints(f, where), f.value)) into.push(g.value);
  };
  /** Packed varints as a message of field-1 varints, so that fields() reads (and bounds-checks) them. */
  const packedVarints = (f: Field, where: string): Uint8Array => {
    wire(f, 2, where);
    const out: number[] = [];
    for (let i = 0; i < f.bytes.length; i++) {
      out.push(0x08); // field 1, wire 0
      while (i < f.bytes.length && f.bytes[i] & 0x80) out.push(f.bytes[i++]);
      if (i < f.bytes.length) out.push(f.bytes[i]);
    }
    return Uint8Array.from(out);
  };
  return { wire, sub, str, int, ints };
}

function f32bits(bits: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, bits, true);
  return dv.getFloat32(0, true);
}

/** The model's graph, opset and metadata_props, every field's wire type and every length checked. */
function decodeModel(fn: string, bytes: Uint8Array): { graph: Graph; opset: number | undefined; meta: Record<string, string> } {
  const r = reader(fn);
  let graphField: Field | undefined;
  let opset: number | undefined;
  const meta: Record<string, string> = {};
  for (const f of fields(fn, "ModelProto", bytes)) {
    if (f.field === 7) graphField = f;
    else if (f.field === 8) {
      let domain = "";
      let version = 0;
      for (const g of r.sub(f, "opset_import")) {
        if (g.field === 1) domain = r.str(g, "opset_import.domain");
        else if (g.field === 2) version = r.int(g, "opset_import.version");
      }
      if (domain === "" || domain === "ai.onnx") opset = version;
    } else if (f.field === 14) {
      let k = "", v = "";
      for (const g of r.sub(f, "metadata_props")) {
        if (g.field === 1) k = r.str(g, "metadata_props.key");
        else if (g.field === 2) v = r.str(g, "metadata_props.value");
      }
      meta[k] = v;
    } else if (f.field === 1) r.int(f, "ir_version");
    else if (f.field === 2 || f.field === 3) r.str(f, f.field === 2 ? "producer_name" : "producer_version");
  }
  if (!graphField) throw new RangeError(`${fn}: not an ONNX model: no graph (ModelProto field 7)`);
  const graph: Graph = { nodes: [], initializers: new Map(), inputs: [], outputs: [] };
  for (const f of r.sub(graphField, "graph")) {
    if (f.field === 1) {
      const n: Node = { name: "", op: "", domain: "", inputs: [], outputs: [], attrs: new Map() };
      for (const g of r.sub(f, "node")) {
        if (g.field === 1) n.inputs.push(r.str(g, "node.input"));
        else if (g.field === 2) n.outputs.push(r.str(g, "node.output"));
        else if (g.field === 3) n.name = r.str(g, "node.name");
        else if (g.field === 4) n.op = r.str(g, "node.op_type");
        else if (g.field === 7) n.domain = r.str(g, "node.domain");
        else if (g.field === 5) {
          let name = "";
          let value: Field | undefined;
          for (const h of r.sub(g, "attribute")) {
            if (h.field === 1) name = r.str(h, "attribute.name");
            else if (h.field === 2) { r.wire(h, 5, "attribute.f"); value = h; }
            else if (h.field === 3) { r.wire(h, 0, "attribute.i"); value = h; }
          }
          if (value) n.attrs.set(name, value);
        }
      }
      graph.nodes.push(n);
    } else if (f.field === 5) {
      const t = tensor(fn, r, f);
      graph.initializers.set(t.name, t);
    } else if (f.field === 11 || f.field === 12) {
      const where = f.field === 11 ? "graph.input" : "graph.output";
      let name = "";
      const dims: (number | undefined)[] = [];
      for (const g of r.sub(f, where)) {
        if (g.field === 1) name = r.str(g, `${where}.name`);
        else if (g.field === 2) {
          for (const t of r.sub(g, `${where}.type`)) {
            if (t.field !== 1) continue;
            for (const tt of r.sub(t, `${where}.type.tensor_type`)) {
              if (tt.field !== 2) continue;
              for (const d of r.sub(tt, `${where}.type.tensor_type.shape`)) {
                if (d.field !== 1) continue;
                let v: number | undefined;
                for (const dd of r.sub(d, `${where}.type.tensor_type.shape.dim`)) {
                  if (dd.field === 1) v = r.int(dd, "dim_value");
                }
                dims.push(v);
              }
            }
          }
        }
      }
      if (f.field === 11) graph.inputs.push({ name, dims });
      else graph.outputs.push(name);
    }
  }
  return { graph, opset, meta };
}

/** An initializer: FLOAT only, data in raw_data (little-endian) or float_data, its length the dims' product. */
function tensor(fn: string, r: ReturnType<typeof reader>, f: Field): Tensor {
  let name = "";
  const dims: number[] = [];
  let type = 0;
  let raw: Uint8Array | undefined;
  const floats: number[] = [];
  let external = false;
  for (const g of r.sub(f, "initializer")) {
    if (g.field === 1) r.ints(g, "initializer.dims", dims);
    else if (g.field === 2) type = r.int(g, "initializer.data_type");
    else if (g.field === 8) name = r.str(g, "initializer.name");
    else if (g.field === 9) { r.wire(g, 2, "initializer.raw_data"); raw = g.bytes; }
    else if (g.field === 4) {
      if (g.wire === 5) floats.push(f32bits(g.value));
      else {
        r.wire(g, 2, "initializer.float_data");
        if (g.bytes.length % 4) throw new RangeError(`${fn}: initializer.float_data at byte ${g.at}: ${g.bytes.length} bytes, not a multiple of 4`);
        const dv = new DataView(g.bytes.buffer, g.bytes.byteOffset, g.bytes.byteLength);
        for (let i = 0; i < g.bytes.length; i += 4) floats.push(dv.getFloat32(i, true));
      }
    } else if (g.field === 14) external = r.int(g, "initializer.data_location") === 1;
  }
  const what = `initializer '${name}'`;
  if (external) throw new RangeError(`${fn}: ${what} keeps its data in an external file (only embedded data is read)`);
  if (type !== FLOAT) throw new RangeError(`${fn}: ${what} has data_type ${type}, expected 1 (FLOAT)`);
  if (dims.some((d) => !(d >= 0 && Number.isSafeInteger(d)))) throw new RangeError(`${fn}: ${what} has dims [${dims}]`);
  const count = dims.reduce((a, b) => a * b, 1);
  let data: Float32Array;
  if (raw !== undefined) {
    if (raw.length !== count * 4) {
      throw new RangeError(`${fn}: ${what} has dims [${dims}] (${count} floats) but ${raw.length} bytes of raw_data`);
    }
    data = new Float32Array(count);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) data[i] = dv.getFloat32(i * 4, true);
  } else {
    if (floats.length !== count) {
      throw new RangeError(`${fn}: ${what} has dims [${dims}] (${count} floats) but ${floats.length} in float_data`);
    }
    data = Float32Array.from(floats);
  }
  const bad = firstNonFinite(data);
  if (bad >= 0) throw new RangeError(`${fn}: ${what} [${bad}] is ${data[bad]}, expected a finite number`);
  return { name, dims, data };
}

const HIDDEN_OPS: Record<string, HiddenActivation> = { Relu: "relu", Sigmoid: "sigmoid", Tanh: "tanh" };

/** A network from an ONNX model of the MLP subset (see the top of this file); anything else names the node. */
export function mlpFromOnnx(fn: string, bytes: Uint8Array): Mlp {
  const { graph, opset, meta } = decodeModel(fn, bytes);
  if (opset === undefined) throw new RangeError(`${fn}: the model imports no default-domain opset`);
  if (opset < OPSETS[0] || opset > OPSETS[1]) {
    throw new RangeError(`${fn}: opset ${opset} is not read (opsets ${OPSETS[0]} to ${OPSETS[1]})`);
  }
  const inits = graph.initializers;
  const inputs = graph.inputs.filter((i) => !inits.has(i.name)); // IR < 4 lists initializers as inputs too
  if (inputs.length !== 1) throw new RangeError(`${fn}: the graph has ${inputs.length} inputs, expected 1 ([batch, features])`);
  if (graph.outputs.length !== 1) throw new RangeError(`${fn}: the graph has ${graph.outputs.length} outputs, expected 1`);
  const input = inputs[0];
  if (input.dims.length !== 2) throw new RangeError(`${fn}: input '${input.name}' has ${input.dims.length} dimensions, expected 2 ([batch, features])`);
  const sizes: number[] = [];
  const layers: { w: Float32Array; b: Float32Array; inOut?: boolean }[] = [];
  const acts: string[] = []; // after each layer: its activation's op ("" for none yet)
  let finalOp: string | undefined;
  let cur = input.name;
  const nodeName = (n: Node) => `node '${n.name || n.outputs[0] || "?"}' (${n.op})`;
  const init = (n: Node, i: number, what: string): Tensor => {
    const t = inits.get(n.inputs[i]);
    if (!t) throw new RangeError(`${fn}: ${nodeName(n)}: its ${what} '${n.inputs[i] ?? ""}' is not an initializer`);
    return t;
  };
  const linear = (n: Node, w: Tensor, transB: boolean, b: Tensor | undefined) => {
    if (finalOp) throw new RangeError(`${fn}: ${nodeName(n)} follows the final ${finalOp}`);
    if (layers.length && !acts.at(-1)) throw new RangeError(`${fn}: ${nodeName(n)}: two linear layers with no activation between`);
    if (w.dims.length !== 2) throw new RangeError(`${fn}: ${nodeName(n)}: weight '${w.name}' has dims [${w.dims}], expected 2-D`);
    const [I, O] = transB ? [w.dims[1], w.dims[0]] : w.dims;
    const prev = sizes.length ? sizes.at(-1)! : input.dims[1] ?? I;
    if (I !== prev) throw new RangeError(`${fn}: ${nodeName(n)}: weight '${w.name}' has dims [${w.dims}], expected ${prev} inputs`);
    if (I < 1 || O < 1) throw new RangeError(`${fn}: ${nodeName(n)}: weight '${w.name}' has dims [${w.dims}]`);
    const bias = b?.data ?? new Float32Array(O);
    if (b && (bias.length !== O || !(b.dims.length === 1 || (b.dims.length === 2 && b.dims[0] === 1)))) {
      throw new RangeError(`${fn}: ${nodeName(n)}: bias '${b.name}' has dims [${b.dims}], expected [${O}]`);
    }
    if (!sizes.length) sizes.push(I);
    sizes.push(O);
    layers.push({ w: w.data, b: bias, inOut: !transB });
    acts.push("");
  };
  const attr = (n: Node, name: string, fallback: number, float = false): number => {
    const a = n.attrs.get(name);
    if (!a) return fallback;
    if (float !== (a.wire === 5)) throw new RangeError(`${fn}: ${nodeName(n)}: attribute ${name} has the wrong type`);
    return float ? f32bits(a.value) : a.value;
  };
  for (let k = 0; k < graph.nodes.length; k++) {
    const n = graph.nodes[k];
    if (n.domain !== "" && n.domain !== "ai.onnx") throw new RangeError(`${fn}: ${nodeName(n)} is in domain '${n.domain}'`);
    if (n.inputs[0] !== cur) {
      throw new RangeError(`${fn}: ${nodeName(n)} reads '${n.inputs[0] ?? ""}', not '${cur}' (only a chain of layers is read)`);
    }
    if (n.outputs.length < 1) throw new RangeError(`${fn}: ${nodeName(n)} has no output`);
    if (n.op === "Gemm") {
      if (attr(n, "alpha", 1, true) !== 1 || attr(n, "beta", 1, true) !== 1 || attr(n, "transA", 0) !== 0) {
        throw new RangeError(`${fn}: ${nodeName(n)}: only alpha = beta = 1 and transA = 0 are read`);
      }
      const transB = attr(n, "transB", 0);
      if (transB !== 0 && transB !== 1) throw new RangeError(`${fn}: ${nodeName(n)}: transB = ${transB}`);
      linear(n, init(n, 1, "B"), transB === 1, n.inputs[2] ? init(n, 2, "C") : undefined);
    } else if (n.op === "MatMul") {
      const add = graph.nodes[k + 1];
      if (add?.op !== "Add" || !add.inputs.includes(n.outputs[0]) || add.inputs.length !== 2) {
        throw new RangeError(`${fn}: ${nodeName(n)} is not followed by an Add of its output and a bias`);
      }
      const other = add.inputs[0] === n.outputs[0] ? 1 : 0;
      linear(n, init(n, 1, "weight"), false, init(add, other, "bias"));
      k++;
      cur = add.outputs[0];
      continue;
    } else if (n.op in HIDDEN_OPS || n.op === "Softmax" || n.op === "LogSoftmax") {
      if (!layers.length || acts.at(-1) || finalOp) throw new RangeError(`${fn}: ${nodeName(n)} does not follow a linear layer`);
      if (n.op === "Softmax" || n.op === "LogSoftmax") {
        const axis = attr(n, "axis", opset < 13 ? 1 : -1);
        if (axis !== -1 && axis !== 1) throw new RangeError(`${fn}: ${nodeName(n)}: axis ${axis}, expected the last (-1 or 1)`);
        finalOp = n.op;
      }
      acts[acts.length - 1] = n.op;
    } else if (n.op !== "Dropout" && n.op !== "Identity") {
      throw new RangeError(`${fn}: ${nodeName(n)}: op type ${n.op} is not read (Gemm, MatMul + Add, Relu, Sigmoid, ` +
        "Tanh, Softmax, LogSoftmax, Dropout, Identity)");
    }
    cur = n.outputs[0];
  }
  if (!layers.length) throw new RangeError(`${fn}: the graph has no linear layer (Gemm or MatMul + Add)`);
  if (graph.outputs[0] !== cur) throw new RangeError(`${fn}: the graph's output '${graph.outputs[0]}' is not the last node's '${cur}'`);
  const hiddenOps = new Set(acts.slice(0, -1));
  for (const op of hiddenOps) {
    if (!(op in HIDDEN_OPS)) throw new RangeError(`${fn}: a hidden layer's activation is ${op || "missing"}, expected Relu, Sigmoid or Tanh`);
  }
  if (hiddenOps.size > 1) throw new RangeError(`${fn}: the hidden layers mix activations (${[...hiddenOps].join(", ")}): one kind is read`);
  const last = acts.at(-1)!;
  if (last === "Relu" || last === "Tanh") throw new RangeError(`${fn}: the last layer ends in ${last}; expected logits, Softmax, LogSoftmax or Sigmoid`);
  const fromGraph: Record<string, string> = { ...meta };
  if (hiddenOps.size) fromGraph.hidden = HIDDEN_OPS[[...hiddenOps][0]];
  if (last) fromGraph.output = (last === "Sigmoid" ? "sigmoid" : "softmax") satisfies OutputActivation;
  else if (!meta.output) fromGraph.output = "softmax"; // logits: trained with cross-entropy over a softmax
  const arch = architecture(fn, fromGraph, undefined, "metadata_props");
  if (arch.output === "softmax" && sizes.at(-1)! < 2) throw new RangeError(`${fn}: a softmax output needs at least 2 classes`);
  return { sizes, ...arch, params: packParams(sizes, layers) };
}
