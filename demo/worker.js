// The training worker: it owns the MNIST network. The page sends commands (start / pause / reset / predict /
// save / load) and receives progress, at most ~20 messages a second while training.
//
// Epochs are driven from here rather than by fit's own shuffle, so that pause / resume is exact: each epoch the
// training set is permuted into one buffer (a seeded Fisher-Yates), and fit runs with shuffle: false over the rows
// not yet seen. Pause aborts fit between batches (AbortSignal); resume is a new fit call over the remaining rows of
// the same permutation, and the network keeps its weights and its optimizer state across the calls.
import { ready, Network, parseIdx } from "/dist/browser.js";

const INPUTS = 784;
const CLASSES = 10;
const POST_MS = 50; // progress at most 20 times a second
const PROBE = 1000; // test images behind the live accuracy curve

/** @type {Network | undefined} */
let net;
let arch = { hidden: [100], activation: "relu", seed: 1 };
let data; // { trainX, trainY, testX, testY, permX, permY }
let dataPromise;
let run; // the training run: { controller, promise }
const progress = {
  epoch: 0, // completed epochs
  target: 0, // the epoch count this run trains to
  pos: 0, // rows of the current epoch already trained
  step: 0, // batches trained, over the network's life
  seen: 0, // samples trained
};

const post = (msg, transfer) => self.postMessage(msg, transfer ?? []);

function describe(n) {
  return {
    sizes: [...n.sizes], hidden: n.hidden, output: n.output, cost: n.cost, parameters: n.parameterCount,
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
  net = new Network({ sizes: [INPUTS, ...arch.hidden, CLASSES], hidden: arch.activation, seed: arch.seed });
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
    data = {
      trainX: trainImages.data, trainY: trainLabels.data, testX: testImages.data, testY: testLabels.data,
      permX: new Uint8Array(trainImages.data.length), permY: new Uint8Array(trainLabels.data.length),
    };
    post({
      type: "data", status: "ready", train: trainLabels.dims[0], test: testLabels.dims[0],
      seconds: (performance.now() - t0) / 1000,
    });
    return data;
  })();
  dataPromise.catch(() => { dataPromise = undefined; }); // a failed load can be retried by pressing start again
  return dataPromise;
}

/** mulberry32: a small seeded generator for the epoch permutations. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The training set in a fresh order for epoch e (reproducible from the seed and e). */
function permute(e) {
  const n = data.trainY.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const r = rng(arch.seed * 1_000_003 + e);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (let i = 0; i < n; i++) {
    const j = order[i];
    data.permX.set(data.trainX.subarray(j * INPUTS, (j + 1) * INPUTS), i * INPUTS);
    data.permY[i] = data.trainY[j];
  }
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
  if (progress.step === 0 && (String(opts.hidden) !== String(arch.hidden) || opts.activation !== arch.activation)) {
    arch = { ...arch, hidden: opts.hidden, activation: opts.activation }; // an untrained network takes the form's shape
    newNetwork();
  }
  const optimizer = optimizerFrom(opts);
  const batchSize = opts.batchSize;
  if (progress.epoch >= progress.target) progress.target = progress.epoch + opts.epochs; // a new run
  const n = d.trainY.length;
  const probeX = d.testX.subarray(0, PROBE * INPUTS);
  const probeY = d.testY.subarray(0, PROBE);
  let losses = [];
  let seen = []; // samples trained after each of those batches
  let lastPost = performance.now();
  let seenAtPost = progress.seen;
  const flush = (force) => {
    const now = performance.now();
    if (!force && now - lastPost < POST_MS) return;
    const probe = net.evaluate(probeX, probeY).accuracy;
    post({
      type: "progress", ...progress, batches: Math.ceil(n / batchSize), batch: Math.ceil(progress.pos / batchSize),
      rows: n, losses, seen, probe, samplesPerSecond: (progress.seen - seenAtPost) / Math.max((now - lastPost) / 1000, 1e-3),
    });
    losses = [];
    seen = [];
    lastPost = now;
    seenAtPost = progress.seen;
  };
  setState("training");
  try {
    while (progress.epoch < progress.target) {
      if (progress.pos === 0) permute(progress.epoch);
      const start = progress.pos;
      await net.fit(d.permX.subarray(start * INPUTS), d.permY.subarray(start), {
        epochs: 1, batchSize, shuffle: false, optimizer, signal,
        onBatch: ({ loss }) => {
          const rows = Math.min(batchSize, n - progress.pos);
          progress.pos += rows;
          progress.seen += rows;
          progress.step++;
          losses.push(loss);
          seen.push(progress.seen);
          flush(false);
        },
      });
      flush(true);
      // the epoch is complete: train and test accuracy of the network as it now is (full sets)
      const t0 = performance.now();
      const tr = net.evaluate(d.trainX, d.trainY);
      const te = net.evaluate(d.testX, d.testY);
      progress.epoch++;
      progress.pos = 0;
      post({
        type: "epoch", epoch: progress.epoch, trainLoss: tr.loss, trainAccuracy: tr.accuracy, testLoss: te.loss,
        testAccuracy: te.accuracy, evalSeconds: (performance.now() - t0) / 1000, step: progress.step,
      });
    }
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
    const bytes = net.save();
    const name = `mnist-${net.sizes.join("-")}-${net.hidden}-e${progress.epoch}.swnn`;
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
    arch = { hidden: loaded.sizes.slice(1, -1), activation: loaded.hidden, seed: loaded.seed };
    // a loaded network continues training from its own optimizer state; the epoch counter restarts at 0, and
    // step 1 marks it as trained (start keeps it whatever the form's hidden layers say)
    Object.assign(progress, { epoch: 0, target: 0, pos: 0, step: 1, seen: 0 });
    post({ type: "network", network: describe(net), source: "file", name: msg.name, optimizer: optimizerOf(msg.bytes) });
    setState("idle");
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
