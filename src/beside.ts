// The browser entries' .wasm and worker URLs, beside their own modules. Each caller writes its URL out in full,
// `new URL("./softmax.wasm", import.meta.url)`, the form bundlers (Vite, webpack 5, Parcel) recognise and copy.

/**
 * `file`'s URL, made by `url`; where this module has no URL to resolve against (a bundle run by Cloudflare's workerd
 * without the `workerd` condition, whose import.meta.url is not a URL), an Error saying what to configure instead of
 * the engine's "Invalid URL string".
 */
export function beside(file: string, url: () => URL): URL {
  try {
    return url();
  } catch (err) {
    const here = `the browser entry (softmax-wasm/dist/browser.js) finds ${file} beside its own module, but this ` +
      `module has no URL to resolve it against (import.meta.url is ${JSON.stringify(import.meta.url)})`;
    const workerd = (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === "Cloudflare-Workers";
    throw new Error(`softmax-wasm: ${here}. ` + (workerd
      ? "In Cloudflare Workers, bundle with the \"workerd\" export condition so that softmax-wasm resolves to " +
        "dist/workerd.js, which imports softmax.wasm as a Wasm module: wrangler does this by default; with esbuild, " +
        "set conditions: [\"workerd\", \"worker\", \"browser\"] and keep *.wasm external; with a workerd config of your " +
        "own, list softmax.wasm as a wasm module (and softmax-relaxed.wasm if you call ready({ relaxed: true })). " +
        "Or pass ready() a WebAssembly.Module you import yourself."
      : "Pass ready() the .wasm's URL, bytes or a WebAssembly.Module, or use softmax-wasm/inline, which embeds it."),
    { cause: err });
  }
}

/** The default build, softmax.wasm, fetched from beside this module (both browser entries' `simd`). */
export const defaultBuild = () => fetch(beside("softmax.wasm", () => new URL("./softmax.wasm", import.meta.url)));
