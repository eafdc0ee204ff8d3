// The activations a dense layer fuses into its store (gemm.ts) and activation_backward differentiates
// (activation.ts): one enum for every kernel, exported with the module, so the TypeScript side takes its values from
// the Wasm itself (engine.ts activationCodes) and the two cannot drift.
export enum Act {
  None = 0,
  Relu = 1,
  Sigmoid = 2,
  Tanh = 3,
}
