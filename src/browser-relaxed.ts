// The browser entry's relaxed-SIMD build, loaded by browser.ts only for ready({ relaxed: true }) through a dynamic
// import(), so that bundlers copy softmax-relaxed.wasm into a chunk of its own that other apps never fetch.
import { beside } from "./beside.js";

export const relaxed = () =>
  fetch(beside("softmax-relaxed.wasm", () => new URL("./softmax-relaxed.wasm", import.meta.url)));
