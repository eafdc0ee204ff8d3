// The Worker that edge-workerd.mjs bundles the way wrangler does (esbuild, conditions workerd/worker/browser, .wasm
// left as an import that workerd compiles into a WebAssembly.Module). GET / runs the shared workload and answers JSON.
import * as lib from "softmax-wasm";
import wasm from "./softmax.wasm";
import images from "./mnist-images.bin";
import labels from "./mnist-labels.bin";
import { kernelDigests, trainingDigest, TRAIN_ROWS } from "./workload.js";

export default {
  async fetch() {
    try {
      await lib.ready();
      const kernels = await kernelDigests(lib);
      const x = new Uint8Array(images), y = new Uint8Array(labels);
      if (x.length !== TRAIN_ROWS * 784 || y.length !== TRAIN_ROWS) throw new Error(`data modules: ${x.length} pixels, ${y.length} labels`);
      const training = await trainingDigest(lib, x, y);
      return Response.json({
        runtime: "workerd",
        wasmIsModule: wasm instanceof WebAssembly.Module,
        hasLoadMnist: "loadMnist" in lib,
        kernels, training,
      });
    } catch (err) {
      return new Response(String(err?.stack ?? err), { status: 500 });
    }
  },
};
