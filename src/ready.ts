// ready(): instantiate the Wasm once. Each runtime's entry point (index.ts for Node / Deno / Bun, browser.ts,
// workerd.ts, inline.ts) makes its own ready() from this factory with the way its runtime finds the .wasm.
import { Engine, setEngine, type WasmSource } from "./engine.js";

let loading: Promise<void> | undefined;

/** What ready() accepts beyond the instantiable sources: a URL (or URL string) to fetch. */
export type ReadySource = WasmSource | URL | string;

/**
 * A ready() for one runtime: `fallback` gives the .wasm when no source is passed, `fetchUrl` turns a URL into a
 * source (fetch, or reading a file: URL in Node). The instance is made once per loaded copy of the library; later
 * calls return the same promise; a failed load can be retried.
 */
export function makeReady(fallback: () => WasmSource | Promise<WasmSource>,
  fetchUrl: (url: URL) => WasmSource | Promise<WasmSource> = (url) => fetch(url)) {
  return function ready(source?: ReadySource): Promise<void> {
    loading ??= (async () => {
      let s: WasmSource;
      if (source === undefined) s = await fallback();
      else if (typeof source === "string" || source instanceof URL) s = await fetchUrl(new URL(source, baseUrl()));
      else s = source;
      setEngine(await Engine.create(s));
    })().catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
    return loading;
  };
}

/** Relative URL strings resolve against the page (or this module where there is no page). */
function baseUrl(): string {
  const loc = (globalThis as { location?: { href?: string } }).location;
  return loc?.href ?? import.meta.url;
}
