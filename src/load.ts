// Where the default .wasm comes from: the file next to this module. Node, Deno and Bun read it from disk (Node's
// fetch cannot read file: URLs); everything else fetches it. Runtime-specific entry points can bypass this.
import type { WasmSource } from "./engine.js";

export async function defaultSource(): Promise<WasmSource> {
  const url = new URL("./softmax.wasm", import.meta.url);
  if (url.protocol === "file:") {
    const fs = "node:fs/promises"; // a variable, so browser bundlers do not try to resolve it
    const { readFile } = (await import(/* @vite-ignore */ fs)) as typeof import("node:fs/promises");
    return readFile(url);
  }
  return fetch(url);
}
