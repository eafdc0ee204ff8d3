// softmax-wasm/node: the part of the API that only Node, Deno and Bun have (it reads files), under a name of its own
// so that TypeScript finds it under every moduleResolution: with "bundler", "softmax-wasm" resolves to the browser
// entry's types, which have no loadMnist. The implementations stay where they are; "softmax-wasm" in Node still
// exports them too.
export { loadMnist } from "./mnist-files.js";
export type { LoadMnistOptions, MnistProgress } from "./mnist-files.js";
