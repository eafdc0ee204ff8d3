// A Cloudflare Worker (workerd) that classifies a posted 28x28 image with a network trained by softmax-wasm and
// exported to ONNX (net.toOnnx()), bundled as a data module. The network is loaded once per isolate, on the first
// request, and reused; each request runs one predict into the same output array.
//   POST 784 bytes (pixels 0..255, row by row) or 784 little-endian float32s in [0, 1]
//   -> {"class": 7, "probabilities": [...10 numbers]}
import { ready, Network } from "softmax-wasm";
import model from "./model.onnx"; // a data module: an ArrayBuffer

const PIXELS = 28 * 28;
let loading; // the Network's promise, made by the first request (concurrent first requests share it)
const probabilities = new Float32Array(10); // predict's output, reused by every request

export default {
  async fetch(request) {
    if (request.method !== "POST") {
      return new Response(`POST ${PIXELS} bytes (pixels 0..255) or ${PIXELS} float32s\n`, { status: 405, headers: { allow: "POST" } });
    }
    const body = await request.arrayBuffer();
    let x;
    if (body.byteLength === PIXELS) x = new Uint8Array(body);
    else if (body.byteLength === PIXELS * 4) x = new Float32Array(body);
    else {
      return Response.json({ error: `expected ${PIXELS} bytes or ${PIXELS * 4} bytes of float32s, got ${body.byteLength} bytes` },
        { status: 400 });
    }
    const net = await (loading ??= ready().then(() => Network.fromOnnx(new Uint8Array(model))));
    net.predict(x, { out: probabilities }); // synchronous: read out before any other request runs
    let best = 0;
    for (let c = 1; c < probabilities.length; c++) if (probabilities[c] > probabilities[best]) best = c;
    return Response.json({ class: best, probabilities: Array.from(probabilities) });
  },
};
