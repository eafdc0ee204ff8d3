export { ready, wasmMemory } from "./ready.js";
export { parseIdx, loadMnist, type MnistSplit } from "./mnist.js";
export { Network } from "./network.js";
export type {
  NetworkOptions, FitOptions, Optimizer, EpochInfo, HiddenActivation, OutputActivation, Cost,
} from "./network.js";
export {
  softmax, logSoftmax, softmaxBackward, logSoftmaxBackward, crossEntropy, binaryCrossEntropyWithLogits, sigmoid,
  quadraticCost, logitsFromProbs,
} from "./ops.js";
export type {
  TemperatureOptions, OutOptions, CrossEntropyOptions, BinaryCrossEntropyOptions, LossResult,
} from "./ops.js";
export type { Reduction, Labels } from "./checks.js";
export type { WasmSource } from "./engine.js";
