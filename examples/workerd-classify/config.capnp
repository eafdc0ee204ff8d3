# workerd config for the classifier. Paths starting with "/" are found through `workerd serve -I <dir>`: the folder
# holding the bundled worker.js (esbuild --bundle --conditions=workerd,worker,browser --external:*.wasm
# --external:*.onnx), softmax-wasm's dist/softmax.wasm and dist/softmax-relaxed.wasm, and model.onnx.
#   workerd serve config.capnp -I <dir>     (listens on port 8080; --socket-addr http=<addr> to change it)
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .classifier)],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);

const classifier :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "/worker.js"),
    (name = "softmax.wasm", wasm = embed "/softmax.wasm"),
    (name = "softmax-relaxed.wasm", wasm = embed "/softmax-relaxed.wasm"),
    (name = "model.onnx", data = embed "/model.onnx"),
  ],
  compatibilityDate = "2025-10-01",
);
