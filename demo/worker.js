// The training worker: it owns the MNIST network. The page sends commands (start / pause / reset / predict /
// save / load) and receives progress, at most ~20 messages a second while training.
//
// Training goes through the library's fit alone, as the command line's does: a run of N epochs is one fit call, whose
// network shuffles with its own seeded generator; pause aborts fit between batches (AbortSignal) and start goes on
// with fit({ resume: true }), which trains the bytes of the uninterrupted run. So the page and `npx softmax-wasm
// train` with the same settings train the same network, byte for byte (the page shows that command).
import { ready, Network, parseIdx } from "/dist/browser.js";

const INPUTS = 784;
const CLASSES = 10;
const POST_MS = 50; // progress at most 20 times a second
const PROBE = 1000; // test images behind the live accuracy curve
const STRIP_ROWS = 12; // training images shown on the page, from fit's onBatch info.input()
const STRIP_MS = 250; // at most 4 strips a second: each reads 12 x 784 floats out of Wasm

/** @type {Network | undefined} */
let net;
let arch = { hidden: [100], activation: "relu", dropout: 0, inputDropout: 0, seed: 1 };
let data; // { trainX, trainY, testX, testY }
let dataPromise;
let run; // the training run: { controller, promise }
const progress = {
  epoch: 0, // completed epochs
  target: 0, // the epoch count this run trains to
  pos: 0, // rows of the current epoch already trained
  step: 0, // batches trained, over the network's life
  seen: 0, // samples trained
  runEpochs: 0, runBatch: 0, runRows: 0, // the current run's fit: its epochs, batch size and training rows
  runAugment: undefined, // and its augment option as JSON (undefined: not known, a run loaded from a file)
};

const post = (msg, transfer) => self.postMessage(msg, transfer ?? []);

function describe(n) {
  return {
    sizes: [...n.sizes], hidden: n.hidden, output: n.output, cost: n.cost, parameters: n.parameterCount,
    dropout: [...n.dropout], inputDropout: n.inputDropout,
  };
}

function fail(err, context) {
  const e = err instanceof Error ? err : new Error(String(err));
  post({ type: "error", context, message: `${e.name}: ${e.message}`, stack: e.stack });
}

function setState(state, extra = {}) {
  post({ type: "state", state, ...extra, ...progress });
}

function newNetwork() {
  net?.dispose();
  net = new Network({
    sizes: [INPUTS, ...arch.hidden, CLASSES], hidden: arch.activation, seed: arch.seed, dropout: arch.dropout,
    inputDropout: arch.inputDropout,
  });
  Object.assign(progress, { epoch: 0, target: 0, pos: 0, step: 0, seen: 0 });
  post({ type: "network", network: describe(net), source: "new" });
}

async function fetchIdx(name) {
  const res = await fetch(`/data/mnist/${name}`);
  if (!res.ok) throw new Error(`fetching /data/mnist/${name} failed with HTTP ${res.status}`);
  return parseIdx(new Uint8Array(await res.arrayBuffer()));
}

function loadData() {
  dataPromise ??= (async () => {
    const t0 = performance.now();
    post({ type: "data", status: "loading" });
    const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
      fetchIdx("train-images-idx3-ubyte"), fetchIdx("train-labels-idx1-ubyte"),
      fetchIdx("t10k-images-idx3-ubyte"), fetchIdx("t10k-labels-idx1-ubyte"),
    ]);
    for (const [img, lab, what] of [[trainImages, trainLabels, "train"], [testImages, testLabels, "test"]]) {
      if (img.dims.length !== 3 || img.dims[1] !== 28 || img.dims[2] !== 28 || lab.dims[0] !== img.dims[0]) {
        throw new Error(`MNIST ${what} files have dims [${img.dims}] and [${lab.dims}], expected [n, 28, 28] and [n]`);
      }
    }
    data = { trainX: trainImages.data, trainY: trainLabels.data, testX: testImages.data, testY: testLabels.data };
    post({
      type: "data", status: "ready", train: trainLabels.dims[0], test: testLabels.dims[0],
      seconds: (performance.now() - t0) / 1000,
    });
    return data;
  })();
  dataPromise.catch(() => { dataPromise = undefined; }); // a failed load can be retried by pressing start again
  return dataPromise;
}

function optimizerFrom(o) {
  const lr = Number(o.lr);
  if (!(lr > 0 && Number.isFinite(lr))) throw new RangeError(`the learning rate must be a positive number, got ${o.lr}`);
  return o.optimizer === "sgd" ? { name: "sgd", lr, momentum: 0.9 } : { name: o.optimizer, lr };
}

/** Starts a training run (or resumes one): returns at once; the run ends at its target epoch or when aborted. */
function train(opts) {
  const controller = new AbortController();
  const promise = trainRun(opts, controller.signal).finally(() => {
    if (run?.promise === promise) run = undefined;
  });
  run = { controller, promise };
  return promise;
}

async function trainRun(opts, signal) {
  setState("starting");
  let d;
  try {
    d = await loadData();
  } catch (err) {
    setState("paused");
    throw err;
  }
  if (signal.aborted) {
    setState("paused");
    return;
  }
  if (progress.step === 0 && (String(opts.hidden) !== String(arch.hidden) || opts.activation !== arch.activation ||
    opts.dropout !== arch.dropout || opts.inputDropout !== arch.inputDropout)) {
    // an untrained network takes the form's shape
    arch = { ...arch, hidden: opts.hidden, activation: opts.activation, dropout: opts.dropout, inputDropout: opts.inputDropout };
    newNetwork();
  }
  const optimizer = optimizerFrom(opts);
  const batchSize = opts.batchSize;
  // the training set: all of it, or the first `limit` images (the page's ?limit=N, as the command line's --limit N)
  const n = Math.min(opts.limit ?? d.trainY.length, d.trainY.length);
  const trainX = d.trainX.subarray(0, n * INPUTS);
  const trainY = d.trainY.subarray(0, n);
  // go on with the paused run when it is the same run (its epochs, batch size and data), else start a new one
  const open = net.interruptedFit;
  const augment = JSON.stringify(opts.augment ?? null);
  // and its optimizer (the form's may have changed while paused: fit refuses to resume with another), as the network
  // keeps it with every default filled in (the page sets name, lr and SGD's momentum; a loaded file's may differ)
  const kept = net.optimizer;
  const sameOptimizer = kept !== undefined && kept.name === optimizer.name && kept.lr === optimizer.lr &&
    kept.weightDecay === (optimizer.name === "adamw" ? 0.01 : 0) &&
    (optimizer.name === "sgd" ? kept.momentum === optimizer.momentum && !kept.nesterov
      : kept.beta1 === 0.9 && kept.beta2 === 0.999 && kept.eps === 1e-8);
  const resume = open !== undefined && progress.epoch < progress.target && open.epochs === progress.runEpochs &&
    batchSize === progress.runBatch && n === progress.runRows && sameOptimizer &&
    (progress.runAugment === undefined || augment === progress.runAugment); // undefined: a loaded file's run
  progress.runAugment = augment;
  if (!resume) {
    progress.target = progress.epoch + opts.epochs;
    Object.assign(progress, { runEpochs: opts.epochs, runBatch: batchSize, runRows: n, pos: 0 });
  }
  const probeX = d.testX.subarray(0, PROBE * INPUTS);
  const probeY = d.testY.subarray(0, PROBE);
  let losses = [];
  let seen = []; // samples trained after each of those batches
  let lastPost = performance.now();
  let seenAtPost = progress.seen;
  let strip; // the latest batch's first images, for the page, sent with the next progress message
  let lastStrip = -Infinity;
  const flush = (force) => {
    const now = performance.now();
    if (!force && now - lastPost < POST_MS) return;
    const probe = net.evaluate(probeX, probeY).accuracy;
    post({
      type: "progress", ...progress, batches: Math.ceil(n / batchSize), batch: Math.ceil(progress.pos / batchSize),
      rows: n, losses, seen, probe, samplesPerSecond: (progress.seen - seenAtPost) / Math.max((now - lastPost) / 1000, 1e-3),
      strip,
    }, strip ? [strip.pixels.buffer] : []);
    strip = undefined;
    losses = [];
    seen = [];
    lastPost = now;
    seenAtPost = progress.seen;
  };
  setState("training");
  try {
    await net.fit(trainX, trainY, {
      epochs: progress.runEpochs, batchSize, optimizer, signal, ...(resume ? { resume: true } : {}),
      ...(opts.augment ? { augment: opts.augment } : {}),
      onBatch: ({ batch, loss, input }) => {
        const rows = Math.min(batchSize, n - batch * batchSize);
        progress.pos = batch * batchSize + rows;
        progress.seen += rows;
        progress.step++;
        losses.push(loss);
        seen.push(progress.seen);
        const now = performance.now();
        if (now - lastStrip >= STRIP_MS) { // input() reads Wasm memory only when asked: not on the other batches
          lastStrip = now;
          const k = Math.min(STRIP_ROWS, rows);
          const x = input(k); // (k, 784) floats in [0, 1], as the network saw them
          const pixels = new Uint8ClampedArray(x.length);
          for (let i = 0; i < x.length; i++) pixels[i] = Math.round(x[i] * 255);
          strip = { pixels, rows: k, epoch: progress.epoch, batch };
        }
        flush(false);
      },
      onEpoch: () => {
        flush(true);
        // the epoch is complete: train and test accuracy of the network as it now is (full sets)
        const t0 = performance.now();
        const tr = net.evaluate(trainX, trainY);
        const te = net.evaluate(d.testX, d.testY);
        progress.epoch++;
        progress.pos = 0;
        post({
          type: "epoch", epoch: progress.epoch, trainLoss: tr.loss, trainAccuracy: tr.accuracy, testLoss: te.loss,
          testAccuracy: te.accuracy, evalSeconds: (performance.now() - t0) / 1000, step: progress.step,
        });
      },
    });
    setState("done");
  } catch (err) {
    if (signal.aborted) {
      if (losses.length) flush(true);
      setState("paused");
    } else {
      setState("paused");
      throw err;
    }
  }
}

async function stop() {
  if (!run) return;
  run.controller.abort(new DOMException("paused", "AbortError"));
  await run.promise.catch(() => {});
}

/** Reads the optimizer kind from save()'s header (the Network does not expose it): 0 none, 1 sgd, 2 adam, 3 adamw. */
function optimizerOf(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const layers = dv.getUint32(12, true);
  return ["none", "sgd", "adam", "adamw"][bytes[16 + 4 * (layers + 1) + 3]] ?? "none";
}

const handlers = {
  async init(msg) {
    await ready();
    arch = { ...arch, ...msg.arch };
    newNetwork();
    resolveInitialized();
    setState("idle");
    loadData().catch((err) => fail(err, "loading MNIST"));
  },
  start(msg) {
    if (run) return; // already training (or starting)
    // not awaited: the queue moves on (a later reset or load aborts the run), and the run reports its own failure
    train(msg.options).catch((err) => fail(err, "training"));
  },
  async pause() {
    await stop();
  },
  async reset(msg) {
    await stop();
    arch = { ...arch, ...msg.arch };
    newNetwork();
    setState("idle");
  },
  async predict(msg) {
    await initialized;
    const probs = net.predict(msg.pixels);
    post({ type: "prediction", id: msg.id, probs, step: progress.step }, [probs.buffer]);
  },
  async save(msg) {
    await initialized;
    // .swnn: everything (optimizer state, the run); .onnx and .safetensors: the inference network only
    const format = msg.format ?? "swnn";
    const bytes = format === "onnx" ? net.toOnnx() : format === "safetensors" ? net.toSafetensors() : net.save();
    const name = `mnist-${net.sizes.join("-")}-${net.hidden}-e${progress.epoch}.${format}`;
    post({ type: "saved", id: msg.id, bytes, name }, [bytes.buffer]);
  },
  async load(msg) {
    await stop();
    const loaded = Network.load(msg.bytes);
    if (loaded.sizes[0] !== INPUTS || loaded.sizes.at(-1) !== CLASSES || loaded.output !== "softmax") {
      const sizes = loaded.sizes.join("-");
      loaded.dispose();
      throw new RangeError(`${msg.name} holds a network ${sizes}; this page needs ${INPUTS} inputs and ${CLASSES} softmax outputs`);
    }
    net?.dispose();
    net = loaded;
    arch = {
      hidden: loaded.sizes.slice(1, -1), activation: loaded.hidden, dropout: loaded.dropout[0] ?? 0,
      inputDropout: loaded.inputDropout, seed: loaded.seed,
    };
    // a loaded network continues training from its own optimizer state; step 1 marks it as trained (start keeps it
    // whatever the form's hidden layers say). A file saved mid-run holds the run: Resume goes on with it exactly.
    const run = loaded.interruptedFit;
    Object.assign(progress, run
      ? { epoch: run.epoch, target: run.epochs, pos: run.batch * run.batchSize, step: 1, seen: 0, runEpochs: run.epochs,
        runBatch: run.batchSize, runRows: run.rows, runAugment: undefined }
      : { epoch: 0, target: 0, pos: 0, step: 1, seen: 0, runEpochs: 0, runBatch: 0, runRows: 0, runAugment: undefined });
    post({
      type: "network", network: describe(net), source: "file", name: msg.name, optimizer: optimizerOf(msg.bytes), run,
    });
    setState(run ? "paused" : "idle");
    const d = await loadData();
    const te = net.evaluate(d.testX, d.testY);
    post({ type: "evaluated", name: msg.name, testAccuracy: te.accuracy, testLoss: te.loss });
  },
};

// Commands run one at a time, in order, except predict, save and pause, which must get through while a fit is
// running (fit yields between batches, so they run there). start only launches the run, so it does not hold the
// queue: a reset or load behind it aborts the run and waits for its end before touching the network.
let queue = Promise.resolve();
let resolveInitialized;
const initialized = new Promise((r) => { resolveInitialized = r; });
self.onmessage = ({ data: msg }) => {
  const handler = handlers[msg.type];
  if (!handler) {
    fail(new Error(`unknown command ${JSON.stringify(msg.type)}`), "worker");
    return;
  }
  const runIt = async () => {
    try {
      await handler(msg);
    } catch (err) {
      fail(err, msg.type);
      if (msg.id !== undefined) post({ type: "failed", id: msg.id });
    }
  };
  if (msg.type === "predict" || msg.type === "pause" || msg.type === "save") {
    void runIt();
  } else {
    queue = queue.then(runIt);
  }
};

self.onerror = (e) => {
  fail(e.error ?? new Error(e.message), "worker");
  return true; // reported once, through the page's banner
};
self.onunhandledrejection = (e) => fail(e.reason, "worker");
