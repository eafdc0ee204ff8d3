// The app for softmax-wasm/full (test/bundlers.test.ts): ready from "softmax-wasm/full", which can load the relaxed
// and threads builds, and the kernels from "softmax-wasm", which share its one engine. Writes softmax([2, 3, 4]) into
// the page, the build that ran into data-build, and into data-shared whether the memory is shared (the threads
// builds'). ?relaxed and ?threads=n pass those options to ready().
import { ready } from "softmax-wasm/full";
import { softmax, wasmBuild, wasmMemory } from "softmax-wasm";

const out = document.getElementById("out");
const q = new URLSearchParams(location.search);
ready({ relaxed: q.has("relaxed"), threads: Number(q.get("threads") ?? 1) })
  .then(() => {
    const p = softmax(new Float32Array([2, 3, 4]), 3);
    out.dataset.build = wasmBuild();
    out.dataset.shared = String(typeof SharedArrayBuffer !== "undefined" && wasmMemory().buffer instanceof SharedArrayBuffer);
    out.textContent = Array.from(p, (v) => v.toFixed(4)).join(",");
  })
  .catch((err) => {
    out.textContent = `error: ${err && err.message ? err.message : err}`;
  });
