// Benchmark: ready({ threads: n }) against the default single thread, each configuration in its own child Node (a
// library loads once per process). GEMM [256,1024] x [1024,1024] in GFLOP/s, softmax [32,32000] in GB/s (8 bytes
// per element: read and write) both on WasmArrays (no copies) and on Float32Arrays (copied in and out), and one
// epoch of MNIST 784-128-10 (ReLU, batch 64, Adam) in seconds (median of 3 after a warm-up). The goals are printed beside the ratios, never
// asserted.
//
//   npm run bench:threads            (node bench/threads.js [--threads N] [--json FILE], default 2)
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { fileURLToPath } from "node:url";

const GOALS = { gemmGflops: 55, softmaxRatio: 1.7, epochS: 0.5 };
const args = process.argv.slice(2);

if (args[0] === "--child") {
  const n = Number(args[1]);
  const lib = await import("../dist/index.js");
  const { engine } = await import("../dist/engine.js");
  await lib.ready(n > 1 ? { threads: n } : undefined);
  const e = engine("bench");
  const pool = e.pool;
  const time = (f, minMs = 600) => { // median ms of repeated calls after a warm-up
    for (let t0 = performance.now(); performance.now() - t0 < 300;) f();
    const s = [];
    for (let t0 = performance.now(); performance.now() - t0 < minMs || s.length < 5;) {
      const t = performance.now(); f(); s.push(performance.now() - t);
    }
    s.sort((a, b) => a - b);
    return s[s.length >> 1];
  };
  const fill = (n, seed) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.618 + seed));
  const out = { threads: pool ? pool.size : 1 };
  {
    const [B, I, O] = [256, 1024, 1024];
    const x = e.put(fill(B * I, 1)), w = e.put(fill(I * O, 2)), y = e.alloc(B * O * 4);
    const ms = time(() => e.d.gemm_forward(x, w, 0, y, B, I, O, 0));
    out.gemmGflops = (2 * B * I * O) / ms / 1e6;
  }
  {
    const [R, C] = [32, 32000];
    const src = fill(R * C, 3).map((v) => v * 5);
    const xW = lib.wasmArray(src), yW = lib.wasmArray(R * C);
    const ms = time(() => lib.softmax(xW, C, { out: yW }));
    out.softmaxWasmArrayGBs = (R * C * 8) / ms / 1e6;
    const dst = new Float32Array(R * C);
    const msApi = time(() => lib.softmax(src, C, { out: dst }));
    out.softmaxApiGBs = (R * C * 8) / msApi / 1e6;
  }
  {
    const { train } = await lib.loadMnist();
    const net = new lib.Network({ sizes: [784, 128, 10], seed: 1 });
    const { epochs } = await net.fit(train.images, train.labels, {
      epochs: 4, batchSize: 64, shuffle: true, seed: 1, optimizer: { name: "adam", lr: 1e-3 },
    });
    const timed = epochs.slice(1).map((ep) => ep.seconds).sort((a, b) => a - b);
    out.epochS = timed[timed.length >> 1]; // the median of 3 timed epochs after a warm-up
    out.epochsS = epochs.map((ep) => +ep.seconds.toFixed(3));
    out.accuracy = epochs.at(-1).accuracy;
    net.dispose();
  }
  console.log(JSON.stringify(out));
} else {
  const n = args.includes("--threads") ? Number(args[args.indexOf("--threads") + 1]) : 2;
  const jsonFile = args.includes("--json") ? args[args.indexOf("--json") + 1] : undefined;
  const child = (t) => JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--child", String(t)],
    { encoding: "utf8" }).trim().split("\n").pop());
  console.error("bench: 1 thread ...");
  const one = child(1);
  console.error(`bench: ${n} threads ...`);
  const many = child(n);
  const r = (a, b) => `${(a / b).toFixed(2)}x`;
  const rows = [
    ["what", "1 thread", `${many.threads} threads`, "ratio", "goal"],
    ["GEMM [256,1024]x[1024,1024], GFLOP/s", one.gemmGflops.toFixed(1), many.gemmGflops.toFixed(1), r(many.gemmGflops, one.gemmGflops), `>= ${GOALS.gemmGflops} GFLOP/s`],
    ["softmax [32,32000] on WasmArrays, GB/s", one.softmaxWasmArrayGBs.toFixed(2), many.softmaxWasmArrayGBs.toFixed(2), r(many.softmaxWasmArrayGBs, one.softmaxWasmArrayGBs), `>= ${GOALS.softmaxRatio}x`],
    ["softmax [32,32000] on Float32Arrays, GB/s", one.softmaxApiGBs.toFixed(2), many.softmaxApiGBs.toFixed(2), r(many.softmaxApiGBs, one.softmaxApiGBs), `(copies in/out stay on the caller)`],
    ["MNIST 784-128-10 epoch, batch 64, Adam, s", one.epochS.toFixed(3), many.epochS.toFixed(3), r(one.epochS, many.epochS), `<= ${GOALS.epochS} s`],
  ];
  const w = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(w[c])).join("  "));
  if (jsonFile) {
    fs.writeFileSync(jsonFile, JSON.stringify({ goals: GOALS, one, many }, null, 2) + "\n");
    console.log(`Wrote ${jsonFile}.`);
  }
}
