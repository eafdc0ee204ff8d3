// A fully connected network trained by backpropagation, llm.c style: every tensor lives in Wasm memory, the
// parameters in one contiguous buffer with offsets (W0 b0 W1 b1 ...), their gradients and the optimizer's state in
// buffers of the same layout, and a batch never crosses the JS boundary: it is gathered from the dataset (copied in
// once per call) inside Wasm. The model is a list of layers, each a forward / backward pair (layers.ts), then the
// output and cost; the passes below walk the list, and only the loss comes back. Beside it: the options and their
// checks (network-options.ts), the parameter block (param-block.ts), the optimizer's state and steps
// (optimizer-state.ts), the data in Wasm (batch-data.ts), fit's helpers (fit-run.ts), the checkpoint's values
// (network-checkpoint.ts).
import { engine, type Engine, type Kernels } from "./engine.js";
import { dense, dropout, output_backward, output_forward, type Layer, type Step } from "./layers.js";
import { boolean, inputData, inputs, options, outBuffer } from "./checks.js";
import { encode } from "./checkpoint.js";
import type { Optimizer } from "./optimizer.js";
import { learningRate, scheduledMomentum } from "./schedule.js";
import { residentAt, type Floats, type WasmArray } from "./wasm-array.js";
import { augmentBatch, augmentWorkBytes } from "./augment.js";
import { encodeOnnx, encodeSafetensors, mlpFromOnnx, mlpFromSafetensors, type ArchitectureOptions, type Mlp, type OnnxOptions } from "./onnx.js";
import {
  COSTS, HIDDEN, OUTPUTS, fitOptions, labelled, networkOptions, runOptions, type Cost, type EpochInfo, type FitOptions,
  type FitResult, type HiddenActivation, type NetworkOptions, type OutputActivation,
} from "./network-options.js";
import { BatchData, hold, sparse, type Block, type Data, type Workspace } from "./batch-data.js";
import { EarlyStop, reportBatch, yieldToEventLoop, type FitPosition } from "./fit-run.js";
import { positionFields, readCheckpoint } from "./network-checkpoint.js";
import { OptimizerState } from "./optimizer-state.js";
import { ParamBlock, RNG_BYTES } from "./param-block.js";

export type { Optimizer } from "./optimizer.js";
export type { AugmentOptions } from "./augment.js";
export type {
  HiddenActivation, OutputActivation, Cost, NetworkOptions, EpochInfo, BatchInfo, FitOptions, FitResult,
} from "./network-options.js";

const EVAL_BATCH = 256; // rows per forward pass in evaluate / predict
const PREDICT_OPTS = ["out"] as const;

export class Network {
  readonly sizes: readonly number[];
  readonly hidden: HiddenActivation;
  readonly output: OutputActivation;
  readonly cost: Cost;
  readonly seed: number;
  /** Each hidden layer's dropout probability (0: none), the input's, and the max-norm bound (0: none). */
  readonly dropout: readonly number[];
  readonly inputDropout: number;
  readonly maxNorm: number;
  readonly parameterCount: number;
  /** The model: its layers in order (each a forward / backward pair, layers.ts), then the output and cost. */
  private readonly model: Layer[];
  /** The dense layers' parameters: weight and bias offsets (in floats) into the parameter buffer, and their sizes. */
  private readonly dense: ReturnType<typeof dense>[];
  /** The index in `model` of the first layer with parameters: the backward pass ends there. */
  private readonly firstTrainable: number;
  private readonly e: Engine;
  private readonly k: Kernels;
  /** params | grads | state1 | state2 | init, shuffle, dropout, augmentation rngs: one block, freed by dispose(). */
  private readonly buf: ParamBlock;
  /** The optimizer's settings and state, its steps over the parameters (optimizer-state.ts). */
  private readonly optim: OptimizerState;
  /** The call's datasets in Wasm and the per-batch buffers (batch-data.ts). */
  private readonly io: BatchData;
  /** predict's one-batch step, reused so that a serving loop makes no object a call. */
  private serving: Step | undefined;
  private disposed = false;
  private busy = false;
  /** The run an interrupted fit leaves (fit's `resume`), undefined when none is open. */
  private position: FitPosition | undefined;

  constructor(opts: NetworkOptions) {
    const fn = "Network";
    const e = engine(fn);
    const o = networkOptions(fn, opts);
    ({ sizes: this.sizes, hidden: this.hidden, output: this.output, cost: this.cost, seed: this.seed, dropout: this.dropout,
      inputDropout: this.inputDropout, maxNorm: this.maxNorm } = o);
    const sizes = this.sizes;
    // the model: [input dropout] dense, [dropout], dense, [dropout], ..., dense (linear: the logits)
    this.model = [];
    this.dense = [];
    if (this.inputDropout > 0) this.model.push(dropout(this.inputDropout, sizes[0]));
    let offset = 0;
    for (let l = 0; l + 1 < sizes.length; l++) {
      const [I, O] = [sizes[l], sizes[l + 1]];
      const last = l + 2 === sizes.length; // its outputs are the logits: linear
      const layer = dense(offset, offset + I * O, I, O, e.act[last ? "none" : this.hidden], l === 0);
      this.model.push(layer);
      this.dense.push(layer);
      if (!last && this.dropout[l] > 0) this.model.push(dropout(this.dropout[l], O));
      offset += I * O + O;
    }
    this.parameterCount = offset;
    this.firstTrainable = this.model.findIndex((layer) => layer.trainable);
    if (offset * 16 > 2 ** 31) throw new RangeError(`${fn}: ${offset} parameters do not fit in Wasm memory`);
    this.e = e;
    this.k = e.k;
    this.io = new BatchData(e, sizes, this.model, this.model[0] === this.dense[0]);
    this.buf = new ParamBlock(e, offset);
    this.optim = new OptimizerState(e, this.buf, this.dense, this.maxNorm);
    this.initialize();
  }

  /** Weights N(0, 1/n_in) as Nielsen's network2 (He's N(0, 2/n_in) for ReLU); biases N(0, 1), or 0 for ReLU. */
  private initialize(): void {
    const { k, buf } = this;
    buf.seed(this.seed);
    for (const L of this.dense) {
      const std = Math.sqrt((this.hidden === "relu" ? 2 : 1) / L.inputs);
      k.rng_normal(buf.rng, buf.params + L.w * 4, L.inputs * L.outputs, std);
      if (this.hidden === "relu") this.e.write(buf.params + L.b * 4, new Float32Array(L.outputs));
      else k.rng_normal(buf.rng, buf.params + L.b * 4, L.outputs, 1);
    }
    buf.zeroState();
  }

  /** Between fit's batches every method but fit and dispose may run (they are synchronous). */
  private check(fn: string): void {
    if (this.disposed) throw new Error(`Network.${fn}: this network was disposed`);
  }

  /** What the layers of one step see. */
  private step(B: number, sparse: boolean, training: boolean): Step {
    return { e: this.e, B, params: this.buf.params, grads: this.buf.grads, sparse, training, rng: this.buf.dropoutRng };
  }

  /** Forward pass over the batch in ws.x through every layer (ws.outs: where each output is); returns the logits. */
  private forward(s: Step, ws: Workspace): number {
    let x = ws.x;
    for (let l = 0; l < this.model.length; l++) x = ws.outs[l] = this.model[l].forward(s, x, ws.acts[l], ws.scratch[l]);
    return x;
  }

  /** The batch's summed cost and, into ws.delta[0], d(mean cost)/d(logits). */
  private loss(ws: Workspace, B: number): number {
    return output_backward(this.e, this.output, this.cost, ws.outs.at(-1)!, ws.labels, ws.delta[0], ws.target, ws.prob,
      B, this.sizes.at(-1)!);
  }

  /**
   * Backward pass from ws.delta[0] through every layer down to the first with parameters: gradients into the grads
   * buffer (overwritten). A layer that was the identity in this pass (dropout in evaluation) passes dy on as it is.
   */
  private backward(s: Step, ws: Workspace): void {
    const first = this.firstTrainable;
    let d = 0;
    for (let l = this.model.length - 1; l >= first; l--) {
      const x = l === 0 ? ws.x : ws.outs[l - 1];
      if (ws.outs[l] === x) continue;
      this.model[l].backward(s, x, ws.outs[l], ws.delta[d], l === first ? 0 : ws.delta[1 - d], ws.scratch[l]);
      d = 1 - d;
    }
  }

  /**
   * The optimizer of the last fit (or the one the loaded network was saved with), every default filled in; undefined
   * before the first fit. A fit without opts.optimizer goes on with it.
   */
  get optimizer(): Optimizer | undefined {
    return this.optim.settings && { ...this.optim.settings };
  }

  /**
   * The run a fit left when its signal stopped it (or the saved network was in), which fit({ resume: true }) goes on
   * with: its epochs, the epoch and batch it stands at, its batch size and row count; undefined when no run is open.
   */
  get interruptedFit(): { epochs: number; epoch: number; batch: number; batchSize: number; rows: number } | undefined {
    const p = this.position;
    return p && { epochs: p.epochs, epoch: p.epoch, batch: p.batch, batchSize: p.batchSize, rows: p.rows };
  }

  /** Trains on (x, labels); yields to the event loop between batches; `signal` stops it between batches. */
  async fit(x: Uint8Array | Float32Array | WasmArray, labels: Uint8Array | Int32Array, opts: FitOptions): Promise<FitResult> {
    const fn = "Network.fit";
    this.check("fit");
    if (this.busy) throw new Error(`${fn}: this network is already training (one fit at a time)`);
    const xs = inputData(fn, "x", x); // a WasmArray as its data
    const f = fitOptions(fn, this.sizes, xs, labels, opts, this.optim.settings, this.position);
    const { rows, epochs, batchSize, shuffle, optimizer: opt, validation: val, schedule, stopping, augment, signal } = f;
    this.optim.use(opt);
    const history: EpochInfo[] = [];
    const result: FitResult = { epochs: history };
    const held: Block[] = []; // the blocks this call takes, freed however it ends
    const io = this.io;
    this.busy = true;
    try {
      const src = io.locate(fn, "x", xs, labels);
      const valSrc = val && io.locate(fn, "opts.validation.x", val.x, val.labels);
      const data = hold(held, io.upload(src));
      const valData = valSrc && hold(held, io.upload(valSrc));
      const order = hold(held, io.takeBlock(rows * 4)).ptr;
      const P = this.parameterCount;
      const work = augment && hold(held, io.takeBlock(augmentWorkBytes(this.k, augment))).ptr;
      if (!shuffle) io.writeIdentity(order, rows);
      if (f.seed !== undefined) this.k.rng_seed(this.buf.shuffleRng, f.seed);
      const batches = Math.ceil(rows / batchSize);
      // the run's position, kept up to date so that an abort leaves it (fit's resume); a resumed run starts there
      const pos: FitPosition = f.resume ? this.position! : {
        epochs, epoch: 0, batch: 0, rows, batchSize, shuffle, loss: 0, correct: 0, shuffleRng: new Uint8Array(RNG_BYTES),
        run: runOptions(opt, schedule, augment, stopping),
      };
      if (!f.resume) this.position?.stop?.free(); // a new run replaces an interrupted one
      this.position = pos;
      // early stopping's watch and best parameters belong to the run: an interrupted run keeps them for its resume
      if (!f.resume && stopping) pos.stop = new EarlyStop(stopping, this.e, this.buf.params, P * 4);
      const stop = pos.stop;
      if (f.resume) this.e.write(this.buf.shuffleRng, pos.shuffleRng); // the interrupted epoch's permutation, drawn again
      // made once for the fit, changed in place each batch: the layers' view of a step and the optimizer's steps, the
      // first layer's weights stepping with their gradient (one pool job a thread for both), the rest after
      const s = this.step(batchSize, data.sparse, true);
      const steps = this.optim.segmentSteps(opt);
      s.firstStep = steps[0].step;
      for (let epoch = pos.epoch; epoch < epochs; epoch++) {
        const t0 = performance.now();
        const first = epoch === pos.epoch ? pos.batch : 0;
        if (first === 0) {
          pos.epoch = epoch;
          pos.loss = 0;
          pos.correct = 0;
          pos.shuffleRng = this.e.bytes(this.buf.shuffleRng, RNG_BYTES);
        }
        if (shuffle) this.k.rng_permutation(this.buf.shuffleRng, order, rows); // a fresh order from the running stream
        let total = pos.loss;
        let correct = pos.correct;
        for (let b = first; b < batches; b++) {
          pos.batch = b;
          pos.loss = total;
          pos.correct = correct;
          if (signal?.aborted) throw signal.reason ?? new DOMException("fit was aborted", "AbortError");
          const B = Math.min(batchSize, rows - b * batchSize);
          const ws = io.workspace(Math.min(batchSize, rows)); // validation may have replaced it with a larger one
          io.gather(data, ws, order + b * batchSize * 4, B, 0, augment ? undefined : s); // augmented: x gathered now
          if (augment) augmentBatch(this.e.d, augment, this.buf.augmentRng, ws.x, work!, B); // the gathered copy, in place
          s.B = B;
          const out = this.forward(s, ws);
          const cost = this.loss(ws, B);
          const hits = this.k.count_correct(out, ws.labels, B, this.sizes.at(-1)!);
          correct += hits;
          const t = epoch * batches + b;
          const lr = schedule ? learningRate(schedule, opt.lr, t, epochs * batches, batches, this.k.cos_f64) : opt.lr;
          const momentum = schedule && scheduledMomentum(schedule, t, epochs * batches, batches, this.k.cos_f64);
          this.optim.tune(opt, steps, lr, momentum);
          this.backward(s, ws);
          this.optim.update(steps, 1, ws.norms);
          total += cost;
          // the batch is trained: the run stands at the next one from here on (a save or a throw in onBatch, a save
          // while fit yields, all see the position that matches the parameters)
          pos.batch = b + 1;
          pos.loss = total;
          pos.correct = correct;
          if (f.onBatch) { // loss, hits before the update
            reportBatch(fn, f.onBatch, { epoch, batch: b, batches, loss: cost / B, accuracy: hits / B, lr,
              ...(momentum !== undefined ? { momentum } : {}) }, this.e, ws.x, B,
              this.sizes[0]);
          }
          await yieldToEventLoop();
        }
        const info: EpochInfo = { loss: total / rows, accuracy: correct / rows, seconds: 0 };
        if (valData) {
          const v = this.evaluateData(valData);
          info.valLoss = v.loss;
          info.valAccuracy = v.accuracy;
        }
        info.seconds = (performance.now() - t0) / 1000;
        history.push(info);
        pos.epoch = epoch + 1;
        pos.batch = 0;
        pos.shuffleRng = this.e.bytes(this.buf.shuffleRng, RNG_BYTES); // the next epoch's permutation is drawn from here
        // early stopping watches the epoch before onEpoch runs, so a throw there leaves a run that resumes as it would
        // have gone on; a stop makes the run stand at its end (a resume then only finishes it)
        const halt = stop?.after(epoch, info.valLoss!) ?? false;
        if (halt) pos.epoch = epochs;
        f.onEpoch?.({ epoch, ...info });
        if (halt) break;
      }
      stop?.end(result);
      this.position = undefined; // the run is complete
    } finally {
      this.busy = false;
      for (const b of held) this.e.freeBlock(b.ptr, b.bytes);
    }
    return result;
  }

  /** Runs `each` over the data in batches of EVAL_BATCH rows (forward only): output pointer, first row, rows, workspace. */
  private batches(data: Data, each: (out: number, start: number, B: number, ws: Workspace) => void): void {
    const ws = this.io.workspace(Math.min(EVAL_BATCH, data.rows));
    for (let start = 0; start < data.rows; start += EVAL_BATCH) {
      const B = Math.min(EVAL_BATCH, data.rows - start);
      const s = this.step(B, data.sparse, false);
      this.io.gather(data, ws, ws.idx, B, start, s); // each batch gathers rows in order from its first on
      each(this.forward(s, ws), start, B, ws);
    }
  }

  private evaluateData(data: Data): { loss: number; accuracy: number } {
    let total = 0;
    let correct = 0;
    this.batches(data, (out, _, B, ws) => {
      total += this.loss(ws, B);
      correct += this.k.count_correct(out, ws.labels, B, this.sizes.at(-1)!);
    });
    return { loss: total / data.rows, accuracy: correct / data.rows };
  }

  /** Mean cost and the fraction of rows whose largest output is the label. */
  evaluate(x: Uint8Array | Float32Array | WasmArray, labels: Uint8Array | Int32Array): { loss: number; accuracy: number } {
    const fn = "Network.evaluate";
    this.check("evaluate");
    const xs = inputData(fn, "x", x); // a WasmArray as its data
    labelled(fn, this.sizes, xs, labels);
    return this.io.withData(fn, xs, labels, (data) => this.evaluateData(data));
  }

  /**
   * Output probabilities (softmax or sigmoid), rows x classes: into `opts.out` when given (a Float32Array or a
   * WasmArray of at least that length, returned; a serving loop then allocates nothing), else a new Float32Array.
   */
  predict<O extends Floats = Float32Array>(x: Uint8Array | Float32Array | WasmArray, opts?: { out?: O }): O {
    const fn = "Network.predict";
    this.check("predict");
    const xs = inputData(fn, "x", x); // a WasmArray as its data
    const o = options(fn, opts, PREDICT_OPTS);
    const rows = inputs(fn, "x", xs, this.sizes[0]);
    const C = this.sizes.at(-1)!;
    const result = outBuffer(fn, "opts.out", o.out, rows * C);
    const outAt = residentAt(this.e, fn, "opts.out", result); // before the upload may grow memory
    if (rows > 0 && rows <= EVAL_BATCH && residentAt(this.e, fn, "x", xs) === undefined) {
      // one batch of an ordinary array (a served request): written straight into the workspace's input rows, with no
      // upload block to take, copy into, gather from and free (most of a one-row call's cost besides the GEMMs), and
      // no object made per call but the result when no opts.out is given
      const ws = this.io.workspace(rows);
      this.io.inputRows(ws, xs, rows);
      const s = this.serving ??= this.step(rows, false, false);
      s.B = rows;
      s.sparse = sparse(xs);
      const out = this.forward(s, ws);
      output_forward(this.e, this.output, out, rows, C);
      if (outAt === undefined) this.e.get(out, result as Float32Array, rows * C);
      else this.e.move(out, outAt, rows * C);
      return result as O;
    }
    this.io.withData(fn, xs, undefined, (data) => this.batches(data, (out, start, B) => {
      output_forward(this.e, this.output, out, B, C);
      if (outAt === undefined) (result as Float32Array).set(this.e.f32(out, B * C), start * C);
      else this.e.move(out, outAt + start * C * 4, B * C);
    }));
    return result as O;
  }

  /** A copy of every parameter, laid out W0 b0 W1 b1 ... (W row-major, inputs x outputs). */
  parameters(): Float32Array {
    this.check("parameters");
    return this.e.f32(this.buf.params, this.parameterCount).slice();
  }

  /** Replaces every parameter (layout as parameters()), e.g. to start from a chosen point; optimizer state is kept. */
  setParameters(p: Float32Array): void {
    const fn = "Network.setParameters";
    this.check("setParameters");
    if (!(p instanceof Float32Array)) throw new TypeError(`${fn}: p must be a Float32Array`);
    if (p.length !== this.parameterCount) {
      throw new RangeError(`${fn}: p.length (${p.length}) must equal the parameter count (${this.parameterCount})`);
    }
    this.e.write(this.buf.params, p);
  }

  /**
   * The mean cost on (x, labels) and its gradient w.r.t. every parameter (layout as parameters()). With
   * `training: true` it is a training step's (dropout masks drawn from the network's generator, which advances), else
   * the evaluation's (dropout off).
   */
  gradient(x: Uint8Array | Float32Array | WasmArray, labels: Uint8Array | Int32Array, opts?: { training?: boolean }):
    { loss: number; grad: Float32Array } {
    const fn = "Network.gradient";
    this.check("gradient");
    const xs = inputData(fn, "x", x); // a WasmArray as its data
    const training = boolean(fn, "opts.training", options(fn, opts, ["training"] as const).training, false);
    const rows = labelled(fn, this.sizes, xs, labels);
    return this.io.withData(fn, xs, labels, (data) => {
      const ws = this.io.workspace(rows);
      const s = this.step(rows, data.sparse, training);
      this.io.gather(data, ws, ws.idx, rows, 0, s);
      this.forward(s, ws);
      const loss = this.loss(ws, rows) / rows;
      this.backward(s, ws);
      return { loss, grad: this.e.f32(this.buf.grads, this.parameterCount).slice() };
    });
  }

  /**
   * The network as bytes: the .swnn format (src/checkpoint.ts), with the optimizer's state unless
   * `optimizerState: false` or no fit has run.
   */
  save(opts?: { optimizerState?: boolean }): Uint8Array {
    this.check("save");
    const o = options("Network.save", opts, ["optimizerState"] as const);
    const withState = boolean("Network.save", "opts.optimizerState", o.optimizerState, true) && this.optim.stateOf !== "none";
    return encode({
      withState, sizes: [...this.sizes], hidden: HIDDEN.indexOf(this.hidden), output: OUTPUTS.indexOf(this.output),
      cost: COSTS.indexOf(this.cost), seed: this.seed, ...this.optim.fields(),
      inputDropout: this.inputDropout, maxNorm: this.maxNorm,
      dropout: [...this.dropout],
      ...positionFields(this.position),
      ...this.buf.fields(withState),
    });
  }

  /**
   * A network from save()'s bytes (formats 1 and 2). Truncated, corrupted or foreign bytes are rejected, and so are
   * values behind a valid CRC-32 that would hang or poison the next fit, all before the network takes any memory.
   */
  static load(bytes: Uint8Array): Network {
    const fn = "Network.load";
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`${fn}: bytes must be a Uint8Array`);
    const { c, hidden, output, cost, optName, settings, position } = readCheckpoint(fn, bytes);
    const net = new Network({
      sizes: c.sizes, hidden, output, cost, seed: c.seed, dropout: c.dropout, inputDropout: c.inputDropout,
      ...(c.maxNorm !== 0 ? { maxNorm: c.maxNorm } : {}),
    });
    try {
      net.buf.restore(c);
      net.optim.restore(settings, c, optName);
      net.position = position;
    } catch (err) {
      net.dispose(); // nothing above should throw; if it does, the block goes back
      throw err;
    }
    return net;
  }

  // ---- other formats: safetensors (src/safetensors.ts) and ONNX (src/onnx.ts), inference only ----

  private asMlp(): Mlp {
    return { sizes: [...this.sizes], hidden: this.hidden, output: this.output, cost: this.cost, params: this.parameters() };
  }

  private static fromMlp(m: Mlp): Network {
    const net = new Network({ sizes: m.sizes, hidden: m.hidden, output: m.output, cost: m.cost });
    net.setParameters(m.params);
    return net;
  }

  /**
   * The weights as safetensors, laid out as the state_dict of PyTorch's nn.Sequential(Linear, act, Linear, ...):
   * "0.weight" [out, in], "0.bias", "2.weight", ...; the architecture in __metadata__.
   */
  toSafetensors(): Uint8Array {
    this.check("toSafetensors");
    return encodeSafetensors(this.asMlp());
  }

  /** The inference graph as an ONNX model: Gemm + activation per layer, then Softmax / Sigmoid or the logits. */
  toOnnx(opts?: OnnxOptions): Uint8Array {
    this.check("toOnnx");
    return encodeOnnx("Network.toOnnx", this.asMlp(), opts);
  }

  /** A network from safetensors (a Linear chain, F32 / F16 / BF16): architecture from __metadata__, else opts. */
  static fromSafetensors(bytes: Uint8Array, opts?: ArchitectureOptions): Network {
    const fn = "Network.fromSafetensors";
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`${fn}: bytes must be a Uint8Array`);
    return Network.fromMlp(mlpFromSafetensors(fn, bytes, opts));
  }

  /** A network from an ONNX model of an MLP (as torch.onnx.export writes for nn.Sequential, opsets 11 to 21). */
  static fromOnnx(bytes: Uint8Array): Network {
    const fn = "Network.fromOnnx";
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`${fn}: bytes must be a Uint8Array`);
    return Network.fromMlp(mlpFromOnnx(fn, bytes));
  }

  /** Frees the network's Wasm memory; any later call throws. */
  dispose(): void {
    if (this.disposed) return;
    if (this.busy) throw new Error("Network.dispose: the network is training (abort fit first)");
    this.position?.stop?.free();
    this.io.free();
    this.buf.free();
    this.disposed = true;
  }
}
