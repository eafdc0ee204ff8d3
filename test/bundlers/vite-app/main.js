// The user's app for the bundler tests (Vite build, Vite dev server, esbuild): import the package by name, load the
// Wasm the default way (the .wasm beside the library's module) and write softmax([2, 3, 4]) into the page.
import { ready, softmax } from "softmax-wasm";

const out = document.getElementById("out");
ready()
  .then(() => {
    const p = softmax(new Float32Array([2, 3, 4]), 3);
    out.textContent = Array.from(p, (v) => v.toFixed(4)).join(",");
  })
  .catch((err) => {
    out.textContent = `error: ${err && err.message ? err.message : err}`;
  });
