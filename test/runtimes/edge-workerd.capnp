# workerd config for the edge test. Paths starting with "/" are found through `workerd serve -I <dir>`, the temporary
# folder where edge-workerd.mjs writes the bundled Worker and the MNIST rows; the .wasm is dist's own file.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "/worker.js"),
    (name = "softmax.wasm", wasm = embed "../../dist/softmax.wasm"),
    (name = "softmax-relaxed.wasm", wasm = embed "../../dist/softmax-relaxed.wasm"),
    (name = "mnist-images.bin", data = embed "/mnist-images.bin"),
    (name = "mnist-labels.bin", data = embed "/mnist-labels.bin"),
  ],
  compatibilityDate = "2025-10-01",
);
