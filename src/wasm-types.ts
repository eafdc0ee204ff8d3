// The WebAssembly types in the package's public signatures. TypeScript declares the WebAssembly namespace only in its
// DOM and WebWorker libs (not in ES2022, nor in @types/node 20), so a Node project without them would fail on our
// .d.ts files ("Cannot find namespace 'WebAssembly'"). These are WebAssembly.Memory and WebAssembly.Module where the
// namespace exists (the same types, so nothing changes there) and their shapes where it does not.
type Globals = typeof globalThis;

/** WebAssembly.Memory, or where TypeScript has no such type, what the library offers of it. */
export type WasmMemory = Globals extends { WebAssembly: { Memory: { prototype: infer M } } } ? M
  : { readonly buffer: ArrayBuffer; grow(delta: number): number };

/** WebAssembly.Module (which declares no members), or where TypeScript has no such type, any object. */
export type WasmModule = Globals extends { WebAssembly: { Module: { prototype: infer M } } } ? M : object;
