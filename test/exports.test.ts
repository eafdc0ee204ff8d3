// The TypeScript side's tables of the Wasm exports against the exports themselves, in every build: the kernels the
// engine calls (KERNEL_ARITY, whose type ties each count to the Kernels interface's signature), the threads build's
// extras (THREAD_KERNEL_ARITY, likewise for ThreadKernels), the pool's job table (JOB_FNS) and the activation enum the
// network passes (Act, read from the module). A kernel added, removed or given another argument on one side
// only fails here, not at a call.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { KERNEL_ARITY, activationCodes } from "../dist/engine.js";
import { JOB_FNS, THREAD_KERNEL_ARITY } from "../dist/threads.js";

type Exports = Record<string, { functions: Record<string, number>; globals: Record<string, number> }>;
const root = fileURLToPath(new URL("..", import.meta.url));
const builds: Exports = JSON.parse(execFileSync(process.execPath,
  ["--experimental-wasm-relaxed-simd", "test/runtimes/exports-run.mjs"], { cwd: root, encoding: "utf8" }));

describe("the kernel table matches every build's exports", () => {
  it("finds the four builds", () => {
    expect(Object.keys(builds)).toEqual(
      ["softmax.wasm", "softmax-relaxed.wasm", "softmax-threads.wasm", "softmax-threads-relaxed.wasm"]);
  });

  it.each(["softmax.wasm", "softmax-relaxed.wasm"])("%s exports exactly the kernels of KERNEL_ARITY, with those argument counts", (file) => {
    expect(builds[file].functions).toEqual(KERNEL_ARITY);
  });

  it.each(["softmax-threads.wasm", "softmax-threads-relaxed.wasm"])("%s exports them and exactly THREAD_KERNEL_ARITY's extras", (file) => {
    expect(builds[file].functions).toEqual({ ...KERNEL_ARITY, ...THREAD_KERNEL_ARITY });
  });

  it("every job the pool posts names a kernel of the threads build", () => {
    const exported = builds["softmax-threads.wasm"].functions;
    for (const fn of JOB_FNS) expect(exported[fn], fn).toBeTypeOf("number");
    expect(new Set(JOB_FNS).size).toBe(JOB_FNS.length);
  });

  it.each(Object.keys(builds))("%s exports the activation enum the engine reads", (file) => {
    const g = builds[file].globals;
    expect(g).toEqual({ "Act.None": 0, "Act.Relu": 1, "Act.Sigmoid": 2, "Act.Tanh": 3 });
    const asGlobals = Object.fromEntries(Object.entries(g).map(([k, v]) => [k, new WebAssembly.Global({ value: "i32" }, v)]));
    expect(activationCodes(asGlobals)).toEqual({ none: 0, relu: 1, sigmoid: 2, tanh: 3 });
  });
});
