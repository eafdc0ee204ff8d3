// Everything the library exports in every runtime, except ready(), which each entry point makes for its runtime.
export { wasmMemory, wasmBuild } from "./engine.js";
export { wasmArray, WasmArray } from "./wasm-array.js";
export type { Floats } from "./wasm-array.js";
export { parseIdx } from "./mnist.js";
export { Network } from "./network.js";
export type {
  NetworkOptions, FitOptions, FitResult, Optimizer, EpochInfo, BatchInfo, HiddenActivation, OutputActivation, Cost, AugmentOptions,
} from "./network.js";
export type { Schedule } from "./schedule.js";
export {
  softmax, logSoftmax, softmaxBackward, logSoftmaxBackward, crossEntropy, binaryCrossEntropyWithLogits, sigmoid,
  quadraticCost, logitsFromProbs,
} from "./ops.js";
export type {
  TemperatureOptions, OutOptions, CrossEntropyOptions, BinaryCrossEntropyOptions, LossResult,
} from "./ops.js";
export type { Reduction, Labels } from "./checks.js";
export type { OnnxOptions } from "./onnx.js";
export type { ArchitectureOptions as SafetensorsOptions } from "./safetensors.js";
export type { WasmSource, WasmBuild } from "./engine.js";
export type { ReadySource, ReadyOptions } from "./ready.js";
export type { MnistSplit } from "./mnist.js";
export { sample, sampleProbs, sampler, Sampler, topK, argmax } from "./sample.js";
export type { SampleOptions, SamplerOptions, RepetitionPenalty, TopKResult } from "./sample.js";
