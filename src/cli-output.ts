// What the CLI prints: numbers and durations as it writes them, the network's one-line description, the epoch's
// progress bar on a terminal and a download's progress on stderr.
import type { Network } from "./network.js";
import type { MnistProgress } from "./mnist-download.js";

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

export function grouped(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - 60 * m)} s`;
}

export function eta(seconds: number): string {
  if (seconds < 60) return `${Math.max(0, seconds).toFixed(1)} s`;
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function describeNetwork(net: Network): string {
  const hidden = net.sizes.length > 2 ? `${net.hidden} hidden, ` : "";
  const cost = net.cost === "crossEntropy" ? "cross-entropy" : "quadratic";
  return `network ${net.sizes.join("-")} (${hidden}${net.output} output, ${cost} cost), ${grouped(net.parameterCount)} parameters`;
}

/** fit's onBatch for a terminal: one line redrawn with \r, at most 20 times a second (and at the last batch). */
export function progressBar(io: CliIo, label: string, rows: number, batchSize: number) {
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

/**
 * loadMnist's onProgress for the CLI, on stderr: a line per file redrawn with \r (at most 10 times a second) on a
 * terminal, else a line when each download starts and ends; a retry is a line of its own either way.
 */
export function downloadProgress(io: CliIo): (p: MnistProgress) => void {
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

