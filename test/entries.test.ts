// The per-runtime entry points: which file each condition resolves to, that the browser entry reaches no Node
// built-in (bundled by esbuild for the browser), and that the inline entry runs from its embedded bytes.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));

function resolveWith(condition: string | undefined, specifier: string): string {
  const args = condition ? [`--conditions=${condition}`] : [];
  return execFileSync(process.execPath, [...args, "--input-type=module", "-e",
    `console.log(import.meta.resolve(${JSON.stringify(specifier)}))`], { cwd: root, encoding: "utf8" }).trim();
}

describe("conditional exports", () => {
  it.each([
    [undefined, "softmax-wasm", "dist/index.js"],
    ["browser", "softmax-wasm", "dist/browser.js"],
    ["workerd", "softmax-wasm", "dist/workerd.js"],
    ["deno", "softmax-wasm", "dist/index.js"],
    [undefined, "softmax-wasm/inline", "dist/inline.js"],
    [undefined, "softmax-wasm/node", "dist/node.js"],
    [undefined, "softmax-wasm/softmax.wasm", "dist/softmax.wasm"],
  ])("condition %s: %s resolves to %s", (condition, specifier, file) => {
    expect(resolveWith(condition, specifier)).toMatch(new RegExp(`/${file.replace(".", "\\.")}$`));
  });
});

describe("the browser entry", () => {
  it("bundles for the browser with esbuild, reaching no Node built-in, and keeps the .wasm URL", async () => {
    const out = await build({
      entryPoints: ["softmax-wasm"], absWorkingDir: root, bundle: true, write: false, format: "esm",
      platform: "browser", metafile: true, minify: true, logLevel: "silent",
    });
    const code = out.outputFiles[0].text;
    expect(code).not.toMatch(/node:/);
    expect(Object.keys(out.metafile.inputs).some((f) => f.endsWith("dist/browser.js"))).toBe(true);
    expect(Object.keys(out.metafile.inputs).some((f) => /mnist-files|dist\/index\.js/.test(f))).toBe(false);
    expect(code).toContain("softmax.wasm");
  });
});

describe("the inline entry", () => {
  it("instantiates from its embedded bytes and gives the same bits as the default entry", async () => {
    vi.resetModules();
    const inline = await import("../dist/inline.js");
    await inline.ready();
    vi.resetModules();
    const node = await import("../dist/index.js");
    await node.ready();
    const x = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i) * 4);
    expect(Array.from(inline.softmax(x, 10))).toEqual(Array.from(node.softmax(x, 10)));
    expect("loadMnist" in inline).toBe(false);
  });
});
