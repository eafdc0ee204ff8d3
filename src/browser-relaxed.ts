// softmax-wasm/full's relaxed-SIMD build, loaded by browser-full.ts only for ready({ relaxed: true }) through a
// dynamic import(), so that its URL sits in a chunk of its own that a page fetches only when it asks.
import { beside } from "./beside.js";

export const relaxed = () =>
  fetch(beside("softmax-relaxed.wasm", () => new URL("./softmax-relaxed.wasm", import.meta.url)));
