// The user's app for the bundler tests (Vite build, Vite dev server, esbuild): import the package by name, load the
// Wasm the default way (the .wasm beside the library's module) and write softmax([2, 3, 4]) into the page, and the
// build that ran into its data-build. ?relaxed and ?threads=n pass those options to ready(), which this entry answers
// with one warning and the default build (the other builds are softmax-wasm/full's: test/bundlers/vite-app-full).
import { ready, softmax, wasmBuild } from "softmax-wasm";

const out = document.getElementById("out");
const q = new URLSearchParams(location.search);
const opts = q.has("relaxed") || q.has("threads")
  ? { relaxed: q.has("relaxed"), threads: Number(q.get("threads") ?? 1) } : undefined;
ready(opts)
  .then(() => {
    const p = softmax(new Float32Array([2, 3, 4]), 3);
    out.dataset.build = wasmBuild();
    out.textContent = Array.from(p, (v) => v.toFixed(4)).join(",");
  })
  .catch((err) => {
    out.textContent = `error: ${err && err.message ? err.message : err}`;
  });
