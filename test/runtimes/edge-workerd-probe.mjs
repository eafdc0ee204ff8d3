// A Worker for the workerd configuration checks (edge-workerd.mjs --probe): each request calls lib.ready() (with
// ?relaxed, ready({ relaxed: true })) and answers JSON { ok, build, softmax, warnings } or { ok: false, error }.
// Requests share the Worker's module, so a failed ready() followed by another request shows that a retry works.
import * as lib from "softmax-wasm";

export default {
  async fetch(request) {
    const relaxed = new URL(request.url).searchParams.has("relaxed");
    const warnings = [];
    const warn = console.warn;
    console.warn = (...args) => warnings.push(args.map(String).join(" "));
    try {
      await lib.ready(relaxed ? { relaxed: true } : undefined);
      const p = lib.softmax(new Float32Array([2, 3, 4]), 3);
      return Response.json({ ok: true, build: lib.wasmBuild(), softmax: Array.from(p, (v) => v.toFixed(4)).join(","), warnings });
    } catch (err) {
      return Response.json({ ok: false, error: String(err?.message ?? err), warnings });
    } finally {
      console.warn = warn;
    }
  },
};
