// Benchmark: ready({ threads: n }) against the default single thread, each configuration in its own child Node (a
// library loads once per process). GEMM [256,1024] x [1024,1024] in GFLOP/s, softmax [32,32000] in GB/s (8 bytes
// per element: read and write) both on WasmArrays (no copies) and on Float32Arrays (copied in and out), and epochs
// of MNIST 784-128-10 and 784-800-10 (ReLU, batch 64, SGD) in seconds: the first of a fresh process (the code still
// tiering up) apart from the median of the rest, with the pool's jobs a batch. The load average before and after says
// how busy the machine was. The goals are printed beside the ratios, never asserted.
//
//   npm run bench:threads   (node bench/threads.js [--threads N] [--rounds R] [--dist DIR] [--against DIR] [--json FILE],
//   default 2 threads, 1 round; --against DIR: another build (e.g. a checkout before a change) measured in the same
//   rounds, each round running 1 and N threads of both builds in turn, so both see the same load)
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";

// issue 12's goals: 2 threads' epoch time over 1 thread's, for 784-128-10 (first epoch of a fresh process and median
// epoch) and 784-800-10; GEMM and softmax as before
const GOALS = { gemmGflops: 55, softmaxRatio: 1.7, smallRatio: 0.65, wideRatio: 0.6 };
const OPT = { name: "sgd", lr: 0.05, momentum: 0.9 };
const args = process.argv.slice(2);

if (args[0] === "--child") {
  const n = Number(args[1]);
  const dist = new URL(`${args[2] ?? "../dist"}/`, import.meta.url);
  const lib = await import(new URL("index.js", dist).href);
  const { engine } = await import(new URL("engine.js", dist).href);
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
    // fit's augmentation of one batch (64 MNIST-sized images, train:best's recipe), split by images on a pool
    const [W, H, B, r] = [28, 28, 64, 12];
    const x = e.put(fill(B * W * H, 4).map((v) => Math.abs(v))), s = e.alloc(16), work = e.alloc(e.k.augment_work_floats(W, H, r) * 4);
    e.k.rng_seed(s, 1);
    const d = e.d.augment_batch ? e.d : e.k; // a build from before the split (--dist): the calling thread's kernel
    const ms = time(() => d.augment_batch(s, x, work, B, W, H, 2, 10, 0.1, 34, 4, r));
    out.augmentUs = ms * 1000 / B;
  }
  {
    // epochs of a fresh process: the first (the code still tiering up) and the median of the next ones, and the pool's
    // jobs per batch (Pool.run calls)
    const { train } = await lib.loadMnist();
    let jobs = 0;
    if (pool) {
      const run = pool.run.bind(pool);
      pool.run = (...a) => (jobs++, run(...a));
    }
    for (const [key, sizes, epochs] of [["small", [784, 128, 10], 4], ["wide", [784, 800, 10], 3]]) {
      const net = new lib.Network({ sizes, seed: 1 });
      jobs = 0;
      const counts = pool?.counts && { ...pool.counts }; // (a build from before the counts: none)
      const fit = await net.fit(train.images, train.labels, { epochs, batchSize: 64, shuffle: true, seed: 1, optimizer: OPT });
      const s = fit.epochs.map((ep) => ep.seconds);
      const rest = s.slice(1).sort((a, b) => a - b);
      out[key] = { first: s[0], median: rest[rest.length >> 1], epochs: s.map((v) => +v.toFixed(3)),
        jobsPerBatch: jobs / (epochs * Math.ceil(train.labels.length / 64)), accuracy: fit.epochs.at(-1).accuracy };
      if (counts) { // the shares posted to workers that woke one asleep, and that the caller ran itself (not claimed in time)
        const posted = pool.counts.posted - counts.posted;
        out[key].woken = (pool.counts.woken - counts.woken) / posted;
        out[key].stolen = (pool.counts.stolen - counts.stolen) / posted;
        // calls the caller ran whole while backing off from late workers (a build from before the back-off: none)
        if (counts.serial !== undefined) out[key].serial = (pool.counts.serial - counts.serial) / jobs;
      }
      net.dispose();
    }
  }
  console.log(JSON.stringify(out));
} else {
  const n = args.includes("--threads") ? Number(args[args.indexOf("--threads") + 1]) : 2;
  const jsonFile = args.includes("--json") ? args[args.indexOf("--json") + 1] : undefined;
  // --dist DIR: another build of the library (e.g. a checkout before a change), relative to this file or absolute
  const dist = args.includes("--dist") ? args[args.indexOf("--dist") + 1] : "../dist";
  const rounds = args.includes("--rounds") ? Number(args[args.indexOf("--rounds") + 1]) : 1;
  const against = args.includes("--against") ? args[args.indexOf("--against") + 1] : undefined;
  const child = (t, d) => JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--child", String(t), d],
    { encoding: "utf8" }).trim().split("\n").pop());
  const load = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const loadBefore = load();
  // 1 thread and n threads alternate (and the two builds, with --against), each a fresh process
  const builds = against === undefined ? [dist] : [dist, against];
  const runs = builds.map(() => ({ ones: [], manys: [] }));
  for (let r = 0; r < rounds; r++) {
    builds.forEach((d, b) => {
      console.error(`bench: round ${r + 1}/${rounds}: ${d}: 1 thread ...`);
      runs[b].ones.push(child(1, d));
      console.error(`bench: round ${r + 1}/${rounds}: ${d}: ${n} threads ...`);
      runs[b].manys.push(child(n, d));
    });
  }
  const loadAfter = load();
  const { ones, manys } = runs[0];
  const mid = (runs, f) => { const v = runs.map(f).sort((a, b) => a - b); return v[v.length >> 1]; };
  const pick = (runs) => ({
    threads: runs[0].threads, gemmGflops: mid(runs, (o) => o.gemmGflops), softmaxWasmArrayGBs: mid(runs, (o) => o.softmaxWasmArrayGBs),
    softmaxApiGBs: mid(runs, (o) => o.softmaxApiGBs), augmentUs: mid(runs, (o) => o.augmentUs),
    small: { first: mid(runs, (o) => o.small.first), median: mid(runs, (o) => o.small.median), jobsPerBatch: runs[0].small.jobsPerBatch,
      woken: mid(runs, (o) => o.small.woken), stolen: mid(runs, (o) => o.small.stolen), serial: mid(runs, (o) => o.small.serial) },
    wide: { first: mid(runs, (o) => o.wide.first), median: mid(runs, (o) => o.wide.median), jobsPerBatch: runs[0].wide.jobsPerBatch,
      woken: mid(runs, (o) => o.wide.woken), stolen: mid(runs, (o) => o.wide.stolen), serial: mid(runs, (o) => o.wide.serial) },
  });
  const table = (ones, manys, lib) => {
    const one = pick(ones), many = pick(manys);
    const r = (a, b) => `${(a / b).toFixed(2)}x`;
    const pct = (v) => `${(100 * v).toFixed(0)}%`;
    const t = (a, b, goal) => `${(b / a).toFixed(2)}x (goal <= ${goal}x: ${b / a <= goal ? "met" : "missed"})`;
    const rows = [
      ["what", "1 thread", `${many.threads} threads`, "ratio", "goal"],
      ["GEMM [256,1024]x[1024,1024], GFLOP/s", one.gemmGflops.toFixed(1), many.gemmGflops.toFixed(1), r(many.gemmGflops, one.gemmGflops), `>= ${GOALS.gemmGflops} GFLOP/s`],
      ["softmax [32,32000] on WasmArrays, GB/s", one.softmaxWasmArrayGBs.toFixed(2), many.softmaxWasmArrayGBs.toFixed(2), r(many.softmaxWasmArrayGBs, one.softmaxWasmArrayGBs), `>= ${GOALS.softmaxRatio}x`],
      ["softmax [32,32000] on Float32Arrays, GB/s", one.softmaxApiGBs.toFixed(2), many.softmaxApiGBs.toFixed(2), r(many.softmaxApiGBs, one.softmaxApiGBs), `(copies in/out stay on the caller)`],
      ["augment_batch 64 x 28x28 (elastic), us an image", one.augmentUs.toFixed(1), many.augmentUs.toFixed(1), r(one.augmentUs, many.augmentUs), "(speedup)"],
      ["MNIST 784-128-10 first epoch (fresh process), s", one.small.first.toFixed(3), many.small.first.toFixed(3), "", t(one.small.first, many.small.first, GOALS.smallRatio)],
      ["MNIST 784-128-10 median of epochs 2-4, s", one.small.median.toFixed(3), many.small.median.toFixed(3), "", t(one.small.median, many.small.median, GOALS.smallRatio)],
      ["MNIST 784-800-10 first epoch, s", one.wide.first.toFixed(3), many.wide.first.toFixed(3), "", t(one.wide.first, many.wide.first, GOALS.wideRatio)],
      ["MNIST 784-800-10 median of epochs 2-3, s", one.wide.median.toFixed(3), many.wide.median.toFixed(3), "", t(one.wide.median, many.wide.median, GOALS.wideRatio)],
      ["pool jobs a batch, 784-128-10 / 784-800-10", "-", `${many.small.jobsPerBatch.toFixed(2)} / ${many.wide.jobsPerBatch.toFixed(2)}`, "", ""],
      ...(many.small.stolen === undefined ? [] : [["shares that woke a sleeping worker / that the caller ran itself, 784-128-10", "-",
        `${pct(many.small.woken)} / ${pct(many.small.stolen)}`, "", "(a busy machine: the worker asleep or descheduled)"],
      ["the same, 784-800-10", "-", `${pct(many.wide.woken)} / ${pct(many.wide.stolen)}`, "", ""]]),
      ...(many.small.serial === undefined ? [] : [["calls run whole on the caller, backing off from late workers, 784-128-10 / 784-800-10",
        "-", `${pct(many.small.serial)} / ${pct(many.wide.serial)}`, "", "(workers descheduled after claiming, or costly to wake)"]]),
    ];
    const w = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
    console.log(`SGD (lr 0.05, momentum 0.9), batch 64; ${rounds} round(s) of fresh processes, 1 and ${many.threads} threads alternating (medians over rounds); library ${lib}`);
    for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(w[c])).join("  "));
    return { one, many };
  };
  const { one, many } = table(ones, manys, dist);
  const other = against === undefined ? undefined : table(runs[1].ones, runs[1].manys, against);
  // each round's n-thread epoch over its 1-thread epoch (adjacent in time, so under about the same load), per build
  const perRound = (b, net, which) => runs[b].ones.map((o, r) => (runs[b].manys[r][net][which] / o[net][which]).toFixed(2)).join(" ");
  builds.forEach((d, b) => console.log(`${n} threads over 1 by round, ${d}: 784-128-10 first ${perRound(b, "small", "first")}, ` +
    `median ${perRound(b, "small", "median")}; 784-800-10 first ${perRound(b, "wide", "first")}, median ${perRound(b, "wide", "median")}`));
  console.log(`load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadAfter} (${os.cpus().length} cores: above that, threads compete for cores)`);
  if (jsonFile) {
    fs.writeFileSync(jsonFile, JSON.stringify({ goals: GOALS, loadBefore, loadAfter, dist, ones, manys, one, many, against,
      other: other && { ...runs[1], ...other } }, null, 2) + "\n");
    console.log(`Wrote ${jsonFile}.`);
  }
}
