// softmax-wasm/inline: the .wasm embedded as base64, for places that can neither fetch nor read files (a single-file
// bundle, a sandboxed worker). It costs a third more bytes than the .wasm file; prefer the default entry elsewhere.
// Only the default build is embedded: ready({ relaxed: true }) and ready({ threads: n }) warn and load it.
import { WASM_BASE64 } from "./wasm-base64.js";
import { makeReady } from "./ready.js";

function decode(b64: string): Uint8Array {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** Instantiates the Wasm once (default: the embedded bytes); or from a Module, bytes, Response, URL. */
export const ready = makeReady({
  simd: () => decode(WASM_BASE64),
  defaultOnly: (asked) => `softmax-wasm/inline embeds only the default build (import softmax-wasm/full for ${asked})`,
});
export * from "./api.js";
