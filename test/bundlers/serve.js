// Shared by test/browser.test.ts and test/bundlers.test.ts: a read-only static HTTP server for one folder, and
// Chromium through playwright-core (Debian's /usr/bin/chromium), with the rule for when Chromium is missing.
import { createServer } from "node:http";
import { createReadStream, existsSync, realpathSync, statSync } from "node:fs";
import { extname, join, resolve, sep } from "node:path";

export const CHROMIUM = "/usr/bin/chromium";

/**
 * Why the Chromium tests are skipped, or undefined when they run. With CI=true a missing Chromium is not a reason
 * to skip: the tests run and fail in launchChromium(), so CI cannot go green without the browser.
 */
export function chromiumSkipReason() {
  if (existsSync(CHROMIUM) || process.env.CI === "true") return undefined;
  return `${CHROMIUM} not found (install Debian's chromium package; with CI=true this is a failure, not a skip)`;
}

export async function launchChromium() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: the browser tests need Debian's Chromium (apt-get install chromium)`);
  }
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--no-first-run", "--disable-sync"],
  });
}

/**
 * Collects what a page reports as going wrong: console errors, uncaught errors, failed requests and HTTP errors.
 * The array fills as the page runs; tests assert it is empty and print it when something else fails.
 */
export function watchPage(page) {
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console.error: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  return problems;
}

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * Serves `root` read-only on 127.0.0.1 at a free port: GET and HEAD only, a folder gives its index.html, and no
 * path (after decoding, `..`, or a symlink) leaves `root`. Returns { url, close }; url ends with a slash. `headers`
 * go on every file served (the threads test adds COOP / COEP for a cross-origin isolated page).
 */
export async function serveStatic(root, headers = {}) {
  const base = realpathSync(resolve(root));
  const server = createServer((req, res) => {
    const send = (status, text) => {
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : text);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return send(405, "method not allowed");
    }
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname);
    } catch {
      return send(400, "bad request");
    }
    if (pathname.includes("\0")) return send(400, "bad request");
    let file = resolve(base, `.${pathname}`);
    try {
      file = realpathSync(file);
      if (file !== base && !file.startsWith(base + sep)) return send(403, "forbidden");
      if (statSync(file).isDirectory()) file = realpathSync(join(file, "index.html"));
      if (!file.startsWith(base + sep)) return send(403, "forbidden");
      const stat = statSync(file);
      if (!stat.isFile()) return send(404, "not found");
      res.writeHead(200, {
        "content-type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
        "content-length": stat.size,
        "cache-control": "no-store",
        ...headers,
      });
      if (req.method === "HEAD") return res.end();
      createReadStream(file).on("error", () => res.destroy()).pipe(res);
    } catch {
      send(404, "not found");
    }
  });
  await new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok(undefined));
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((ok) => {
      server.closeAllConnections();
      server.close(() => ok(undefined));
    }),
  };
}
