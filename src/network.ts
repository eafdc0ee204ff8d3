// A fully connected network trained by backpropagation, llm.c style: every tensor lives in Wasm memory, the
// parameters in one contiguous buffer with offsets (W0 b0 W1 b1 ...), their gradients and the optimizer's state in
// buffers of the same layout, and a batch never crosses the JS boundary: it is gathered from the dataset (copied in
// once per call) inside Wasm. The model is a list of layers, each a forward / backward pair (layers.ts), then the
// output and cost; the passes below walk the list, and only the loss comes back.
import { engine, type Engine, type Kernels } from "./engine.js";
import { paramStep, type ParamStep } from "./dispatch.js";
import { dense, dropout, output_backward, output_forward, type Layer, type Step } from "./layers.js";
import {
  atLeast, boolean, classLabels, fraction, inputs, nonNegative, oneOf, options, outBuffer, positive,
} from "./checks.js";
import { decode, encode, type Checkpoint } from "./checkpoint.js";
import { resolveOptimizer, type Optimizer, type ResolvedOptimizer } from "./optimizer.js";
import { checkScheduleFits, learningRate, resolveSchedule, type Schedule } from "./schedule.js";
import { residentAt, type Floats } from "./wasm-array.js";
import { augmentBatch, augmentWorkBytes, resolveAugment, type AugmentOptions } from "./augment.js";
import { encodeOnnx, encodeSafetensors, mlpFromOnnx, mlpFromSafetensors, type ArchitectureOptions, type Mlp, type OnnxOptions } from "./onnx.js";

export type { Optimizer } from "./optimizer.js";
export type { AugmentOptions } from "./augment.js";
export type HiddenActivation = "relu" | "sigmoid" | "tanh";
export type OutputActivation = "softmax" | "sigmoid";
export type Cost = "crossEntropy" | "quadratic";

export interface NetworkOptions {
  sizes: number[]; hidden?: HiddenActivation; output?: OutputActivation; cost?: Cost; seed?: number;
  /** Inverted dropout on each hidden layer's output in training: one probability of dropping for all, or one each. */
  dropout?: number | number[];
  /** Dropout on the input in training. */
  inputDropout?: number;
  /** After every update, each hidden unit's incoming weight vector is scaled down to this L2 norm if longer. */
  maxNorm?: number;
}

export interface EpochInfo { loss: number; accuracy?: number; valLoss?: number; valAccuracy?: number; seconds: number }

/** What fit's onBatch gets after each training batch. */
export interface BatchInfo {
  epoch: number; batch: number; batches: number;
  /** The batch's mean loss and accuracy, before the update. */
  loss: number; accuracy: number;
  /** The learning rate of this batch's update. */
  lr: number;
  /**
   * A copy of the first `rows` rows (default: all) of the batch's input as the network saw it: (rows, sizes[0])
   * floats after opts.augment, before input dropout (pixels scaled to [0, 1] for Uint8Array x). Read from Wasm only
   * when called, so an onBatch that does not call it costs nothing; valid only during the onBatch call (a RangeError
   * after it returns, as the buffer then holds the next batch). Calling it changes nothing in the training.
   */
  input(rows?: number): Float32Array;
}

export interface FitOptions {
  epochs: number; batchSize?: number; shuffle?: boolean; seed?: number; optimizer?: Optimizer;
  validation?: { x: Uint8Array | Float32Array; labels: Uint8Array | Int32Array };
  /** The learning rate per batch (schedule.ts): torch.optim.lr_scheduler's StepLR, CosineAnnealingLR, OneCycleLR. */
  schedule?: Schedule;
  /**
   * Go on with the run an earlier fit left when its signal stopped it (or that a saved network was in): the same data,
   * epochs, batchSize and shuffle; together, the calls train the bytes of one uninterrupted run.
   */
  resume?: boolean;
  /** Stop when the validation loss has not improved by minDelta for `patience` epochs (needs `validation`). */
  earlyStopping?: { patience: number; minDelta?: number; restoreBest?: boolean };
  onBatch?: (info: BatchInfo) => void;
  onEpoch?: (info: { epoch: number } & EpochInfo) => void;
  signal?: AbortSignal;
  /**
   * Each training batch's images transformed inside Wasm after they are gathered (src/augment.ts): a random shift,
   * rotation, scale and elastic distortion per image, drawn from the network's augmentation generator.
   */
  augment?: AugmentOptions;
}

/**
 * Where an interrupted fit stands (aborted by its signal between batches): the run's shape, the epoch and batch to go on
 * from, the shuffle generator's state before that epoch's permutation (so the permutation is drawn again exactly) and
 * the epoch's figures so far. fit({ resume: true }) continues from it; save() keeps it.
 */
export interface FitPosition {
  epochs: number; epoch: number; batch: number; rows: number; batchSize: number; shuffle: boolean;
  loss: number; correct: number; shuffleRng: Uint8Array;
}

/** What fit returns: each epoch's figures; with earlyStopping, the epoch whose parameters were kept and where it stopped. */
export interface FitResult { epochs: EpochInfo[]; bestEpoch?: number; stoppedEpoch?: number }

const EVAL_BATCH = 256; // rows per forward pass in evaluate / predict
const PREDICT_OPTS = ["out"] as const;
const RNG_BYTES = 16; // one generator's state
/** The kinds as a checkpoint numbers them (the index). */
const HIDDEN = ["relu", "sigmoid", "tanh"] as const;
const OUTPUTS = ["softmax", "sigmoid"] as const;
const COSTS = ["crossEntropy", "quadratic"] as const;
const OPTIMIZERS = ["none", "sgd", "adam", "adamw"] as const;

/** A block of the arena taken for the length of one call. */
interface Block { ptr: number; bytes: number }

/** Adds a block to the list a call frees in its `finally`, and returns it. */
function hold<T extends Block>(held: Block[], b: T): T {
  held.push(b);
  return b;
}

/** A call's dataset as the caller passed it: `at` is where x already sits in Wasm memory (a WasmArray's data). */
interface Source {
  x: Uint8Array | Float32Array; at: number | undefined; bytes: number; sparse: boolean; labels?: Uint8Array | Int32Array;
}

/** A dataset copied into Wasm memory for the length of one call. */
interface Data extends Block {
  rows: number; pixels: boolean; sparse: boolean; labels: number; labelBytes: number;
}

/**
 * The optimizer's step over one segment of the parameters (a layer's weights or biases) with where its gradients are
 * and how many: built once per fit, its learning rate and bias corrections set in place each batch (no objects a batch).
 */
interface SegmentStep { step: ParamStep; grad: number; count: number }

/** Per-batch buffers, sized for `rows` rows (byte offsets). */
interface Workspace {
  rows: number; block: number; bytes: number;
  x: number; idx: number; labels: number; target: number; prob: number; norms: number;
  /** Each layer's output buffer and scratch, and where its output is in the current pass (forward fills it). */
  acts: number[]; scratch: number[]; outs: number[];
  delta: [number, number];
}

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
  private readonly block: number;
  private readonly blockBytes: number;
  /** The optimizer whose state the state buffers hold ("none" before any fit or after a load without state). */
  private stateOf: "none" | "sgd" | "adam" | "adamw" = "none";
  /** The last fit's optimizer, every default filled in: later fits without opts.optimizer go on with it. */
  private settings: ResolvedOptimizer | undefined;
  private steps = 0;
  private beta1Power = 1;
  private beta2Power = 1;
  private ws: Workspace | undefined;
  /** predict's one-batch step, reused so that a serving loop makes no object a call. */
  private serving: Step | undefined;
  private disposed = false;
  private busy = false;
  /** The run an interrupted fit leaves (fit's `resume`), undefined when none is open. */
  private position: FitPosition | undefined;

  constructor(opts: NetworkOptions) {
    const fn = "Network";
    const e = engine(fn);
    const o = options(fn, opts, ["sizes", "hidden", "output", "cost", "seed", "dropout", "inputDropout", "maxNorm"] as const);
    if (!Array.isArray(o.sizes)) throw new TypeError(`${fn}: opts.sizes must be an array of layer sizes`);
    if (o.sizes.length < 2) throw new RangeError(`${fn}: opts.sizes needs at least an input and an output size`);
    const sizes = o.sizes.map((n, i) => atLeast(fn, `opts.sizes[${i}]`, n, 1));
    if (sizes.at(-1)! < 2 && (o.output ?? "softmax") === "softmax") {
      throw new RangeError(`${fn}: a softmax output needs at least 2 classes, got ${sizes.at(-1)}`);
    }
    this.sizes = Object.freeze(sizes);
    this.hidden = oneOf(fn, "opts.hidden", o.hidden, HIDDEN, "relu");
    this.output = oneOf(fn, "opts.output", o.output, OUTPUTS, "softmax");
    this.cost = oneOf(fn, "opts.cost", o.cost, COSTS, "crossEntropy");
    this.seed = atLeast(fn, "opts.seed", o.seed, 0, 1);
    const hiddenLayers = sizes.length - 2;
    const rates = Array.isArray(o.dropout) ? o.dropout : new Array(hiddenLayers).fill(o.dropout ?? 0);
    if (rates.length !== hiddenLayers) {
      throw new RangeError(`${fn}: opts.dropout has ${rates.length} rates, expected one per hidden layer (${hiddenLayers})`);
    }
    this.dropout = Object.freeze(rates.map((p, i) =>
      fraction(fn, Array.isArray(o.dropout) ? `opts.dropout[${i}]` : "opts.dropout", p, 0)));
    this.inputDropout = fraction(fn, "opts.inputDropout", o.inputDropout, 0);
    this.maxNorm = o.maxNorm === undefined ? 0 : positive(fn, "opts.maxNorm", o.maxNorm);
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
    this.blockBytes = offset * 16 + 4 * RNG_BYTES;
    this.block = e.allocBlock(this.blockBytes);
    this.initialize();
  }

  // ---- buffers (byte pointers) ----
  private get params(): number { return this.block; }
  private get grads(): number { return this.block + this.parameterCount * 4; }
  private get state1(): number { return this.block + this.parameterCount * 8; }
  private get state2(): number { return this.block + this.parameterCount * 12; }
  private get rng(): number { return this.block + this.parameterCount * 16; }
  /** The shuffles' generator: it runs on across fit calls (and save / load), so each epoch gets a new order. */
  private get shuffleRng(): number { return this.rng + RNG_BYTES; }
  /** The dropout masks' generator: it runs on across fit calls (and save / load) as the shuffles' does. */
  private get dropoutRng(): number { return this.rng + 2 * RNG_BYTES; }
  /** fit's augmentation generator (one draw an image): it runs on across fit calls (and save / load) too. */
  private get augmentRng(): number { return this.rng + 3 * RNG_BYTES; }

  /** Weights N(0, 1/n_in) as Nielsen's network2 (He's N(0, 2/n_in) for ReLU); biases N(0, 1), or 0 for ReLU. */
  private initialize(): void {
    const k = this.k;
    k.rng_seed(this.rng, this.seed);
    k.rng_seed(this.shuffleRng, (this.seed ^ 0x5bd1e995) >>> 0);
    k.rng_seed(this.dropoutRng, (this.seed ^ 0x2545f491) >>> 0);
    k.rng_seed(this.augmentRng, (this.seed ^ 0x6c078965) >>> 0);
    for (const L of this.dense) {
      const std = Math.sqrt((this.hidden === "relu" ? 2 : 1) / L.inputs);
      k.rng_normal(this.rng, this.params + L.w * 4, L.inputs * L.outputs, std);
      if (this.hidden === "relu") this.e.write(this.params + L.b * 4, new Float32Array(L.outputs));
      else k.rng_normal(this.rng, this.params + L.b * 4, L.outputs, 1);
    }
    this.e.write(this.state1, new Float32Array(this.parameterCount * 2));
  }

  /** Between fit's batches every method but fit and dispose may run (they are synchronous). */
  private check(fn: string): void {
    if (this.disposed) throw new Error(`Network.${fn}: this network was disposed`);
  }

  /**
   * Where a call's dataset is, taken before the call allocates anything: a growth of memory detaches a view of it (a
   * WasmArray's data), whose offset and length then read as 0. Labels that are such a view are copied out.
   */
  private locate(fn: string, name: string, x: Uint8Array | Float32Array, labels?: Uint8Array | Int32Array): Source {
    const at = residentAt(this.e, fn, name, x);
    return { x, at, bytes: x.byteLength, sparse: this.sparse(x), labels: labels && this.e.outside(labels) };
  }

  /** Copies a dataset (and its labels) into one Wasm block for this call: a view of Wasm memory is copied within it. */
  private upload(src: Source): Data {
    const e = this.e;
    const { x, labels } = src;
    const pixels = x instanceof Uint8Array;
    const rows = src.bytes / (pixels ? 1 : 4) / this.sizes[0];
    const labelBytes = labels ? rows * 4 : 0;
    const dataBytes = Math.ceil(src.bytes / 16) * 16;
    const ptr = e.allocBlock(dataBytes + labelBytes);
    if (src.at === undefined) e.write(ptr, x);
    else e.moveBytes(src.at, ptr, src.bytes);
    if (labels) e.write(ptr + dataBytes, labels instanceof Int32Array ? labels : Int32Array.from(labels));
    return { ptr, bytes: dataBytes + labelBytes, rows, pixels, sparse: src.sparse, labels: ptr + dataBytes, labelBytes };
  }

  private takeBlock(bytes: number): Block {
    return { ptr: this.e.allocBlock(bytes), bytes };
  }

  /** Buffers for batches of up to `rows` rows, kept until a larger batch or dispose(). */
  private workspace(rows: number): Workspace {
    if (this.ws && this.ws.rows >= rows) return this.ws;
    if (this.ws) this.e.freeBlock(this.ws.block, this.ws.bytes);
    const sizes = this.sizes;
    const widest = Math.max(...sizes);
    const classes = sizes.at(-1)!;
    const L = this.model.length;
    const floats = [rows * sizes[0], rows, rows, rows * classes, rows * classes, widest, rows * widest,
      rows * widest, ...this.model.map((layer) => rows * layer.outputs), ...this.model.map((layer) => rows * layer.scratch)];
    const offsets: number[] = [];
    let bytes = 0;
    for (const f of floats) {
      offsets.push(bytes);
      bytes += Math.ceil(f / 4) * 16 + 16; // 16-aligned, with the kernels' 16 bytes of slack
    }
    const block = this.e.allocBlock(bytes);
    const at = (i: number) => block + offsets[i];
    this.writeIdentity(at(1), rows); // idx: rows taken in order, for evaluation passes and gradient()
    this.ws = {
      rows, block, bytes, x: at(0), idx: at(1), labels: at(2), target: at(3), prob: at(4), norms: at(5),
      delta: [at(6), at(7)], acts: this.model.map((_, l) => at(8 + l)), scratch: this.model.map((_, l) => at(8 + L + l)),
      outs: this.model.map(() => 0),
    };
    return this.ws;
  }

  /**
   * Gathers rows first + idx[0..B) of the dataset into the batch buffers (x scaled to [0, 1] for pixels, labels as i32).
   * Given the pass's step `s` and a model that starts with a dense layer, x is left to that layer (s.rows), which
   * gathers it in its forward pass's pool job; else s.rows is cleared.
   */
  private gather(data: Data, ws: Workspace, idx: number, B: number, first = 0, s?: Step): void {
    const D = this.sizes[0];
    if (data.labelBytes) this.k.gather_rows_f32(data.labels + first * 4, idx, ws.labels, B, 1);
    const src = data.ptr + first * (data.pixels ? D : D * 4), scale = data.pixels ? 1 / 255 : undefined;
    if (s && this.model[0] === this.dense[0]) {
      const r = s.rows ??= { src, idx, scale }; // fit's one step: one object for its batches
      r.src = src;
      r.idx = idx;
      r.scale = scale;
      return;
    }
    if (s) s.rows = undefined;
    if (data.pixels) this.k.gather_rows_u8(src, idx, ws.x, B, D, 1 / 255);
    else this.k.gather_rows_f32(src, idx, ws.x, B, D);
  }

  /** Writes 0, 1, ..., n-1 as i32 at ptr: the index list of rows taken in order. */
  private writeIdentity(ptr: number, n: number): void {
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    this.e.write(ptr, idx);
  }

  /** Checks (x, labels) for fn and returns the row count: labels in range, at least one row. */
  private labelled(fn: string, x: unknown, labels: unknown, xName = "x", labelsName = "labels"): number {
    const rows = inputs(fn, xName, x, this.sizes[0]);
    classLabels(fn, labelsName, labels, rows, this.sizes.at(-1)!);
    if (rows === 0) throw new RangeError(`${fn}: ${xName} has no rows`);
    return rows;
  }

  /** What the layers of one step see. */
  private step(B: number, sparse: boolean, training: boolean): Step {
    return { e: this.e, B, params: this.params, grads: this.grads, sparse, training, rng: this.dropoutRng };
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

  /** Each layer's weights (decaying) and biases (not decaying, as in Nielsen's L2): offset, count, weight decay. */
  private segments(wd: number): [number, number, number][] {
    return this.dense.flatMap((L): [number, number, number][] => [[L.w, L.inputs * L.outputs, wd], [L.b, L.outputs, 0]]);
  }

  /**
   * The optimizer's step over one segment (float offset, count, weight decay) of the parameters; its learning rate and
   * Adam's bias corrections are set by tune() before each use.
   */
  private stepOver(o: ResolvedOptimizer, [off, , wd]: [number, number, number]): ParamStep {
    const p = this.params + off * 4;
    if (o.name === "sgd") {
      return { fn: "sgd_update", p, state: [this.state1 + off * 4], hyper: [0, o.momentum, o.nesterov ? 1 : 0, wd] };
    }
    return { fn: "adam_update", p, state: [this.state1 + off * 4, this.state2 + off * 4],
      hyper: [0, o.beta1, o.beta2, o.eps, wd, o.name === "adamw" ? 1 : 0, 0, 0] };
  }

  /** A fit's steps over every segment (segments() order: the first is the first layer's weights). */
  private segmentSteps(o: ResolvedOptimizer): SegmentStep[] {
    return this.segments(o.weightDecay).map((seg) =>
      ({ step: this.stepOver(o, seg), grad: this.grads + seg[0] * 4, count: seg[1] }));
  }

  /** Sets a step's scalars for this batch: learning rate lr and Adam's 1 - beta^t (the running powers, advanced). */
  private tune(step: ParamStep, lr: number): void {
    const h = step.hyper;
    h[0] = lr;
    if (step.fn === "adam_update") {
      h[6] = 1 - this.beta1Power;
      h[7] = 1 - this.beta2Power;
    }
  }

  /**
   * One optimizer step over the segments from `from` on (tuned for this step), then the max-norm constraint on the
   * hidden units.
   */
  private update(ws: Workspace, steps: SegmentStep[], from: number): void {
    const d = this.e.d;
    for (let i = from; i < steps.length; i++) paramStep(d, steps[i].step, steps[i].grad, steps[i].count);
    if (this.maxNorm === 0) return;
    for (let l = 0; l + 1 < this.dense.length; l++) {
      const L = this.dense[l];
      this.k.max_norm(this.params + L.w * 4, ws.norms, L.inputs, L.outputs, this.maxNorm);
    }
  }

  /** Over 20% zero inputs: the first layer skips them (MNIST's pixels are about 80% zeros). */
  private sparse(x: Uint8Array | Float32Array): boolean {
    const n = x.length;
    // about 4096 samples, 256 below that (a served row of 784 took 3 us to count, as long as its GEMMs); branch-free:
    // on MNIST-like rows a branch per sample is mispredicted one time in five
    const step = Math.max(1, Math.floor(n / (n < 4096 ? 256 : 4096)));
    let zeros = 0;
    for (let i = 0; i < n; i += step) zeros += x[i] === 0 ? 1 : 0;
    return zeros * step > 0.2 * n;
  }

  /**
   * The optimizer of the last fit (or the one the loaded network was saved with), every default filled in; undefined
   * before the first fit. A fit without opts.optimizer goes on with it.
   */
  get optimizer(): Optimizer | undefined {
    return this.settings && { ...this.settings };
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
  async fit(x: Uint8Array | Float32Array, labels: Uint8Array | Int32Array, opts: FitOptions): Promise<FitResult> {
    const fn = "Network.fit";
    this.check("fit");
    if (this.busy) throw new Error(`${fn}: this network is already training (one fit at a time)`);
    const o = options(fn, opts, ["epochs", "batchSize", "shuffle", "seed", "optimizer", "validation", "schedule",
      "earlyStopping", "resume", "augment", "onBatch", "onEpoch", "signal"] as const);
    if (opts === undefined) throw new TypeError(`${fn}: opts ({ epochs, ... }) is required`);
    const rows = this.labelled(fn, x, labels);
    const epochs = atLeast(fn, "opts.epochs", o.epochs, 1);
    const batchSize = atLeast(fn, "opts.batchSize", o.batchSize, 1, 64);
    const shuffle = boolean(fn, "opts.shuffle", o.shuffle, true);
    const seed = o.seed === undefined ? undefined : atLeast(fn, "opts.seed", o.seed, 0);
    const opt = resolveOptimizer(fn, o.optimizer ?? this.settings);
    for (const cb of ["onBatch", "onEpoch"] as const) {
      if (o[cb] !== undefined && typeof o[cb] !== "function") throw new TypeError(`${fn}: opts.${cb} must be a function`);
    }
    const signal = o.signal as AbortSignal | undefined;
    if (signal !== undefined && !(typeof signal === "object" && signal !== null && "aborted" in signal)) {
      throw new TypeError(`${fn}: opts.signal must be an AbortSignal`);
    }
    const val = o.validation as FitOptions["validation"];
    if (val !== undefined) this.labelled(fn, val?.x, val?.labels, "opts.validation.x", "opts.validation.labels");
    const schedule = o.schedule === undefined ? undefined : resolveSchedule(fn, o.schedule);
    if (schedule) checkScheduleFits(fn, schedule, epochs);
    const stopping = o.earlyStopping === undefined ? undefined : earlyStopping(fn, o.earlyStopping, val !== undefined);
    const resume = boolean(fn, "opts.resume", o.resume, false);
    const at = this.position;
    if (resume) {
      if (at === undefined) throw new RangeError(`${fn}: opts.resume: there is no interrupted run to go on with`);
      const same: [string, unknown, unknown][] = [["rows of x", rows, at.rows], ["opts.epochs", epochs, at.epochs],
        ["opts.batchSize", batchSize, at.batchSize], ["opts.shuffle", shuffle, at.shuffle]];
      for (const [name, now, then] of same) {
        if (now !== then) throw new RangeError(`${fn}: opts.resume: ${name} is ${now}, the interrupted run's was ${then}`);
      }
      if (seed !== undefined) throw new TypeError(`${fn}: opts.seed restarts the shuffles: it does not go with opts.resume`);
      if (stopping) throw new TypeError(`${fn}: opts.earlyStopping does not go with opts.resume yet`);
    }
    const augment = o.augment === undefined ? undefined : resolveAugment(fn, o.augment, this.sizes[0]);
    this.settings = opt;
    if (this.stateOf !== opt.name) { // a new optimizer starts from zero state
      this.e.write(this.state1, new Float32Array(this.parameterCount * 2));
      this.stateOf = opt.name;
      this.steps = 0;
      this.beta1Power = 1;
      this.beta2Power = 1;
    }
    const onBatch = o.onBatch as FitOptions["onBatch"];
    const onEpoch = o.onEpoch as FitOptions["onEpoch"];
    const history: EpochInfo[] = [];
    const result: FitResult = { epochs: history };
    const held: Block[] = []; // the blocks this call takes, freed however it ends
    this.busy = true;
    try {
      const src = this.locate(fn, "x", x, labels);
      const valSrc = val && this.locate(fn, "opts.validation.x", val.x, val.labels);
      const data = hold(held, this.upload(src));
      const valData = valSrc && hold(held, this.upload(valSrc));
      const order = hold(held, this.takeBlock(rows * 4)).ptr;
      const best = stopping && hold(held, this.takeBlock(this.parameterCount * 4)).ptr; // the best epoch's parameters
      const work = augment && hold(held, this.takeBlock(augmentWorkBytes(this.k, augment))).ptr;
      if (!shuffle) this.writeIdentity(order, rows);
      if (seed !== undefined) this.k.rng_seed(this.shuffleRng, seed);
      const batches = Math.ceil(rows / batchSize);
      let bestLoss = Infinity;
      let wait = 0;
      // the run's position, kept up to date so that an abort leaves it (fit's resume); a resumed run starts there
      const pos: FitPosition = resume ? at! : {
        epochs, epoch: 0, batch: 0, rows, batchSize, shuffle, loss: 0, correct: 0, shuffleRng: new Uint8Array(RNG_BYTES),
      };
      this.position = pos;
      if (resume) this.e.write(this.shuffleRng, pos.shuffleRng); // the interrupted epoch's permutation, drawn again
      // made once for the fit, changed in place each batch: the layers' view of a step and the optimizer's steps, the
      // first layer's weights stepping with their gradient (one pool job a thread for both), the rest after
      const s = this.step(batchSize, data.sparse, true);
      const steps = this.segmentSteps(opt);
      s.firstStep = steps[0].step;
      for (let epoch = pos.epoch; epoch < epochs; epoch++) {
        const t0 = performance.now();
        const first = epoch === pos.epoch ? pos.batch : 0;
        if (first === 0) {
          pos.epoch = epoch;
          pos.loss = 0;
          pos.correct = 0;
          pos.shuffleRng = this.e.bytes(this.shuffleRng, RNG_BYTES);
        }
        if (shuffle) this.k.rng_permutation(this.shuffleRng, order, rows); // a fresh order from the running stream
        let total = pos.loss;
        let correct = pos.correct;
        for (let b = first; b < batches; b++) {
          pos.batch = b;
          pos.loss = total;
          pos.correct = correct;
          if (signal?.aborted) throw signal.reason ?? new DOMException("fit was aborted", "AbortError");
          const B = Math.min(batchSize, rows - b * batchSize);
          const ws = this.workspace(Math.min(batchSize, rows)); // validation may have replaced it with a larger one
          this.gather(data, ws, order + b * batchSize * 4, B, 0, augment ? undefined : s); // augmented: x gathered now
          if (augment) augmentBatch(this.e.d, augment, this.augmentRng, ws.x, work!, B); // the gathered copy, in place
          s.B = B;
          const out = this.forward(s, ws);
          const cost = this.loss(ws, B);
          const hits = this.k.count_correct(out, ws.labels, B, this.sizes.at(-1)!);
          correct += hits;
          const lr = schedule ? learningRate(schedule, opt.lr, epoch * batches + b, epochs * batches, batches, this.k.cos_f64)
            : opt.lr;
          if (opt.name !== "sgd") {
            this.beta1Power *= opt.beta1; // running products, not Math.pow: the same bits in every engine
            this.beta2Power *= opt.beta2;
          }
          for (const st of steps) this.tune(st.step, lr);
          this.backward(s, ws);
          this.update(ws, steps, 1);
          this.steps++;
          total += cost;
          if (onBatch) {
            let live = true; // input() reads ws.x, which the next batch overwrites: callable during the callback only
            const input = (n: unknown = B) => {
              if (!live) throw new RangeError(`${fn}: onBatch's info.input() is only valid during its onBatch call`);
              const r = atLeast(fn, "info.input(rows)", n, 0);
              if (r > B) throw new RangeError(`${fn}: info.input(rows) must be at most the batch's ${B} rows, got ${r}`);
              return this.e.f32(ws.x, r * this.sizes[0]).slice();
            };
            try {
              onBatch({ epoch, batch: b, batches, loss: cost / B, accuracy: hits / B, lr, input }); // loss, hits before the update
            } finally {
              live = false;
            }
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
        pos.shuffleRng = this.e.bytes(this.shuffleRng, RNG_BYTES); // the next epoch's permutation is drawn from here
        onEpoch?.({ epoch, ...info });
        if (stopping && best !== undefined) {
          // as Keras' EarlyStopping(monitor='val_loss'): an improvement is a loss below the best by more than minDelta
          if (info.valLoss! < bestLoss - stopping.minDelta) {
            bestLoss = info.valLoss!;
            result.bestEpoch = epoch;
            wait = 0;
            this.e.moveBytes(this.params, best, this.parameterCount * 4);
          } else if (++wait >= stopping.patience) {
            result.stoppedEpoch = epoch;
            break;
          }
        }
      }
      if (stopping?.restoreBest && best !== undefined && result.bestEpoch !== undefined) {
        this.e.moveBytes(best, this.params, this.parameterCount * 4);
      }
      this.position = undefined; // the run is complete
    } finally {
      this.busy = false;
      for (const b of held) this.e.freeBlock(b.ptr, b.bytes);
    }
    return result;
  }

  /** Runs fn over the data in batches of EVAL_BATCH rows (forward only), with the output pointer and row count. */
  private batches(data: Data, each: (out: number, start: number, B: number) => void): void {
    const ws = this.workspace(Math.min(EVAL_BATCH, data.rows));
    for (let start = 0; start < data.rows; start += EVAL_BATCH) {
      const B = Math.min(EVAL_BATCH, data.rows - start);
      const s = this.step(B, data.sparse, false);
      this.gather(data, ws, ws.idx, B, start, s); // each batch gathers rows in order from its first on
      each(this.forward(s, ws), start, B);
    }
  }

  private evaluateData(data: Data): { loss: number; accuracy: number } {
    let total = 0;
    let correct = 0;
    this.batches(data, (out, _, B) => {
      total += this.loss(this.ws!, B);
      correct += this.k.count_correct(out, this.ws!.labels, B, this.sizes.at(-1)!);
    });
    return { loss: total / data.rows, accuracy: correct / data.rows };
  }

  /** Mean cost and the fraction of rows whose largest output is the label. */
  evaluate(x: Uint8Array | Float32Array, labels: Uint8Array | Int32Array): { loss: number; accuracy: number } {
    const fn = "Network.evaluate";
    this.check("evaluate");
    this.labelled(fn, x, labels);
    const data = this.upload(this.locate(fn, "x", x, labels));
    try {
      return this.evaluateData(data);
    } finally {
      this.e.freeBlock(data.ptr, data.bytes);
    }
  }

  /**
   * Output probabilities (softmax or sigmoid), rows x classes: into `opts.out` when given (a Float32Array or a
   * WasmArray of at least that length, returned; a serving loop then allocates nothing), else a new Float32Array.
   */
  predict<O extends Floats = Float32Array>(x: Uint8Array | Float32Array, opts?: { out?: O }): O {
    const fn = "Network.predict";
    this.check("predict");
    const o = options(fn, opts, PREDICT_OPTS);
    const rows = inputs(fn, "x", x, this.sizes[0]);
    const C = this.sizes.at(-1)!;
    const result = outBuffer(fn, "opts.out", o.out, rows * C);
    const outAt = residentAt(this.e, fn, "opts.out", result); // before the upload may grow memory
    if (rows > 0 && rows <= EVAL_BATCH && residentAt(this.e, fn, "x", x) === undefined) {
      // one batch of an ordinary array (a served request): written straight into the workspace's input rows, with no
      // upload block to take, copy into, gather from and free (most of a one-row call's cost besides the GEMMs), and
      // no object made per call but the result when no opts.out is given
      const ws = this.workspace(rows);
      this.inputRows(ws, x, rows);
      const s = this.serving ??= this.step(rows, false, false);
      s.B = rows;
      s.sparse = this.sparse(x);
      const out = this.forward(s, ws);
      output_forward(this.e, this.output, out, rows, C);
      if (outAt === undefined) this.e.get(out, result as Float32Array, rows * C);
      else this.e.move(out, outAt, rows * C);
      return result as O;
    }
    const data = this.upload(this.locate(fn, "x", x));
    try {
      this.batches(data, (out, start, B) => {
        output_forward(this.e, this.output, out, B, C);
        if (outAt === undefined) (result as Float32Array).set(this.e.f32(out, B * C), start * C);
        else this.e.move(out, outAt + start * C * 4, B * C);
      });
    } finally {
      this.e.freeBlock(data.ptr, data.bytes);
    }
    return result as O;
  }

  /**
   * One batch of rows of an ordinary array (not a view of Wasm memory) into ws.x: floats copied in; pixels through the
   * arena, scaled to [0, 1] by the same gather as a dataset's, so both paths give the same bits.
   */
  private inputRows(ws: Workspace, x: Uint8Array | Float32Array, rows: number): void {
    const e = this.e;
    if (x instanceof Float32Array) return e.write(ws.x, x);
    const mark = e.mark();
    try {
      const p = e.alloc(x.length);
      e.write(p, x);
      this.k.gather_rows_u8(p, ws.idx, ws.x, rows, this.sizes[0], 1 / 255);
    } finally {
      e.release(mark);
    }
  }

  /** A copy of every parameter, laid out W0 b0 W1 b1 ... (W row-major, inputs x outputs). */
  parameters(): Float32Array {
    this.check("parameters");
    return this.e.f32(this.params, this.parameterCount).slice();
  }

  /** Replaces every parameter (layout as parameters()), e.g. to start from a chosen point; optimizer state is kept. */
  setParameters(p: Float32Array): void {
    const fn = "Network.setParameters";
    this.check("setParameters");
    if (!(p instanceof Float32Array)) throw new TypeError(`${fn}: p must be a Float32Array`);
    if (p.length !== this.parameterCount) {
      throw new RangeError(`${fn}: p.length (${p.length}) must equal the parameter count (${this.parameterCount})`);
    }
    this.e.write(this.params, p);
  }

  /**
   * The mean cost on (x, labels) and its gradient w.r.t. every parameter (layout as parameters()). With
   * `training: true` it is a training step's (dropout masks drawn from the network's generator, which advances), else
   * the evaluation's (dropout off).
   */
  gradient(x: Uint8Array | Float32Array, labels: Uint8Array | Int32Array, opts?: { training?: boolean }):
    { loss: number; grad: Float32Array } {
    const fn = "Network.gradient";
    this.check("gradient");
    const training = boolean(fn, "opts.training", options(fn, opts, ["training"] as const).training, false);
    const rows = this.labelled(fn, x, labels);
    const held: Block[] = [];
    try {
      const data = hold(held, this.upload(this.locate(fn, "x", x, labels)));
      const ws = this.workspace(rows);
      const s = this.step(rows, data.sparse, training);
      this.gather(data, ws, ws.idx, rows, 0, s);
      this.forward(s, ws);
      const loss = this.loss(ws, rows) / rows;
      this.backward(s, ws);
      return { loss, grad: this.e.f32(this.grads, this.parameterCount).slice() };
    } finally {
      for (const b of held) this.e.freeBlock(b.ptr, b.bytes);
    }
  }

  /**
   * The network as bytes: the .swnn format (src/checkpoint.ts), with the optimizer's state unless
   * `optimizerState: false` or no fit has run.
   */
  save(opts?: { optimizerState?: boolean }): Uint8Array {
    this.check("save");
    const o = options("Network.save", opts, ["optimizerState"] as const);
    const withState = boolean("Network.save", "opts.optimizerState", o.optimizerState, true) && this.stateOf !== "none";
    const P = this.parameterCount;
    const s = this.settings;
    const [a, b, eps] = s === undefined ? [0, 0, 0] : s.name === "sgd" ? [s.momentum, 0, 0] : [s.beta1, s.beta2, s.eps];
    return encode({
      withState, sizes: [...this.sizes], hidden: HIDDEN.indexOf(this.hidden), output: OUTPUTS.indexOf(this.output),
      cost: COSTS.indexOf(this.cost), optimizer: OPTIMIZERS.indexOf(this.stateOf), seed: this.seed, steps: this.steps,
      beta1Power: this.beta1Power, beta2Power: this.beta2Power, shuffleRng: this.e.bytes(this.shuffleRng, RNG_BYTES),
      settings: OPTIMIZERS.indexOf(s?.name ?? "none"), nesterov: s?.name === "sgd" && s.nesterov ? 1 : 0,
      lr: s?.lr ?? 0, a, b, eps, weightDecay: s?.weightDecay ?? 0,
      dropoutRng: this.e.bytes(this.dropoutRng, RNG_BYTES), augmentRng: this.e.bytes(this.augmentRng, RNG_BYTES),
      inputDropout: this.inputDropout, maxNorm: this.maxNorm,
      dropout: [...this.dropout],
      ...positionFields(this.position),
      params: this.e.bytes(this.params, P * 4), state: withState ? this.e.bytes(this.state1, P * 8) : undefined,
    });
  }

  /**
   * A network from save()'s bytes (formats 1 and 2). Truncated, corrupted or foreign bytes are rejected, and so are
   * values behind a valid CRC-32 that would hang or poison the next fit, all before the network takes any memory.
   */
  static load(bytes: Uint8Array): Network {
    const fn = "Network.load";
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`${fn}: bytes must be a Uint8Array`);
    const c = decode(fn, bytes);
    const hidden = HIDDEN[c.hidden];
    const output = OUTPUTS[c.output];
    const cost = COSTS[c.cost];
    const optName = OPTIMIZERS[c.optimizer];
    const settingsName = OPTIMIZERS[c.settings];
    if (!hidden || !output || !cost || !optName || !settingsName) throw new RangeError(`${fn}: corrupted header (unknown kinds)`);
    if (c.sizes.some((n) => n < 1)) throw new RangeError(`${fn}: corrupted header (sizes [${c.sizes.join(", ")}])`);
    if (c.seed > 0x7fffffff) throw new RangeError(`${fn}: corrupted header (seed ${c.seed}, expected at most 2^31 - 1)`);
    for (const [name, state] of [["shuffle", c.shuffleRng], ["dropout", c.dropoutRng ?? c.shuffleRng],
      ["augmentation", c.augmentRng ?? c.shuffleRng]] as const) {
      if (state.every((v) => v === 0)) {
        throw new RangeError(`${fn}: corrupted state: the ${name} generator's state is all zero, which xoshiro128** ` +
          "never leaves (no seed gives it)");
      }
    }
    // checked as a caller's options are: a corrupted value is refused here, not at the next fit
    const settings = settingsName === "none" ? undefined : resolveOptimizer(fn, settingsName === "sgd"
      ? { name: settingsName, lr: c.lr, momentum: c.a, nesterov: c.nesterov === 1, weightDecay: c.weightDecay }
      : { name: settingsName, lr: c.lr, beta1: c.a, beta2: c.b, eps: c.eps, weightDecay: c.weightDecay }, "saved optimizer");
    if (c.state) {
      if (optName === "none") throw new RangeError(`${fn}: corrupted header (optimizer state without an optimizer)`);
      for (const [name, v] of [["beta1^steps", c.beta1Power], ["beta2^steps", c.beta2Power]] as const) {
        if (!(v >= 0 && v <= 1)) throw new RangeError(`${fn}: corrupted state: Adam's ${name} is ${v}, expected a number in [0, 1]`);
      }
      if (optName !== "sgd") {
        const v = new Float32Array(c.state.buffer, c.params.length, c.params.length / 4); // the second moments
        const bad = v.findIndex((x) => !(x >= 0));
        if (bad >= 0) {
          throw new RangeError(`${fn}: corrupted state: Adam's second moment [${bad}] is ${v[bad]}, expected a number >= 0`);
        }
      }
    }
    // the regularizers, checked as a caller's options are (a format 1 or 2 file has none: zeros)
    c.dropout.forEach((p, i) => fraction(fn, `saved dropout[${i}]`, p, 0));
    fraction(fn, "saved inputDropout", c.inputDropout, 0);
    if (c.maxNorm !== 0) positive(fn, "saved maxNorm", c.maxNorm);
    const position = c.runEpochs === 0 ? undefined : savedPosition(fn, c);
    const net = new Network({
      sizes: c.sizes, hidden, output, cost, seed: c.seed, dropout: c.dropout, inputDropout: c.inputDropout,
      ...(c.maxNorm !== 0 ? { maxNorm: c.maxNorm } : {}),
    });
    try {
      net.e.write(net.params, c.params);
      net.e.write(net.shuffleRng, c.shuffleRng);
      if (c.version >= 3) {
        net.e.write(net.dropoutRng, c.dropoutRng);
        net.e.write(net.augmentRng, c.augmentRng);
      }
      net.settings = settings;
      if (c.state) {
        net.e.write(net.state1, c.state);
        net.stateOf = optName;
        net.steps = c.steps;
        net.beta1Power = c.beta1Power;
        net.beta2Power = c.beta2Power;
      }
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
    if (this.ws) this.e.freeBlock(this.ws.block, this.ws.bytes);
    this.e.freeBlock(this.block, this.blockBytes);
    this.ws = undefined;
    this.disposed = true;
  }
}

/** An interrupted fit's position as checkpoint fields (zeros: none). */
function positionFields(p: FitPosition | undefined): Pick<Checkpoint, "runEpochs" | "runEpoch" | "runBatch" | "runRows" |
  "runBatchSize" | "runShuffle" | "runCorrect" | "runLoss" | "runRng"> {
  return {
    runEpochs: p?.epochs ?? 0, runEpoch: p?.epoch ?? 0, runBatch: p?.batch ?? 0, runRows: p?.rows ?? 0,
    runBatchSize: p?.batchSize ?? 0, runShuffle: p?.shuffle ? 1 : 0, runCorrect: p?.correct ?? 0, runLoss: p?.loss ?? 0,
    runRng: p?.shuffleRng ?? new Uint8Array(RNG_BYTES),
  };
}

/** A saved position, checked: a corrupted one is refused at load, not found wrong at the resumed fit. */
function savedPosition(fn: string, c: Checkpoint): FitPosition {
  const batches = c.runBatchSize === 0 ? 0 : Math.ceil(c.runRows / c.runBatchSize);
  if (c.runRows === 0 || c.runBatchSize === 0 || c.runEpoch > c.runEpochs || c.runBatch >= Math.max(batches, 1) ||
    c.runShuffle > 1 || c.runCorrect > c.runRows || c.runLoss < 0 || c.runRng.every((v) => v === 0)) {
    throw new RangeError(`${fn}: corrupted state: the interrupted fit's position (epoch ${c.runEpoch} of ${c.runEpochs}, ` +
      `batch ${c.runBatch}) does not hold together`);
  }
  return {
    epochs: c.runEpochs, epoch: c.runEpoch, batch: c.runBatch, rows: c.runRows, batchSize: c.runBatchSize,
    shuffle: c.runShuffle === 1, loss: c.runLoss, correct: c.runCorrect, shuffleRng: c.runRng,
  };
}

/** fit's earlyStopping option, checked: it needs a validation set to watch. */
function earlyStopping(fn: string, v: unknown, hasValidation: boolean): { patience: number; minDelta: number; restoreBest: boolean } {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new TypeError(`${fn}: opts.earlyStopping must be an object ({ patience, minDelta?, restoreBest? })`);
  }
  const o = options(fn, v, ["patience", "minDelta", "restoreBest"] as const);
  const r = {
    patience: atLeast(fn, "opts.earlyStopping.patience", o.patience, 1),
    minDelta: nonNegative(fn, "opts.earlyStopping.minDelta", o.minDelta, 0),
    restoreBest: boolean(fn, "opts.earlyStopping.restoreBest", o.restoreBest, true),
  };
  if (!hasValidation) throw new TypeError(`${fn}: opts.earlyStopping watches the validation loss: it needs opts.validation`);
  return r;
}

/** Lets the event loop run (a page stays responsive): setImmediate in Node, a message elsewhere, never a 1 ms timer. */
function yieldToEventLoop(): Promise<void> {
  if (typeof setImmediate === "function") return new Promise((r) => setImmediate(r));
  if (typeof MessageChannel === "function") {
    return new Promise((r) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => { ch.port1.close(); r(); };
      ch.port2.postMessage(0);
    });
  }
  return new Promise((r) => setTimeout(r, 0));
}
