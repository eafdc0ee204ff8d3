// Starting the pool: whether threads can run here, the kernels' warm-up, the workers' control blocks and scratch.
import type { Engine } from "./engine.js";
import { Pool } from "./pool.js";
import { CTRL_BYTES, type SpawnWorker, type ThreadKernels, type WorkerHandle } from "./threads.js";
import type { WasmModule } from "./wasm-types.js";

/** Why threads cannot run here, or undefined when they can (shared memory, and cross-origin isolation in a page). */
export function threadsUnavailable(): string | undefined {
  if (typeof SharedArrayBuffer === "undefined") {
    return "SharedArrayBuffer is unavailable (a browser page needs cross-origin isolation: the COOP and COEP headers)";
  }
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) {
    return "the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and " +
      "Cross-Origin-Embedder-Policy: require-corp)";
  }
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    return "this engine cannot make a shared WebAssembly.Memory";
  }
  return undefined;
}

/**
 * Runs a training step's kernels a few times on small data (in scratch, released), so that V8's dynamic tiering
 * compiles them with TurboFan now: the code is the module's, shared by every thread. Without it the compiles (20-80
 * ms of a core, measured with --trace-wasm-compilation-times: the GEMMs' inner functions take 11-33 ms each) land in
 * the first batches of the first epoch, where on a 2-core machine they take a core from the caller or a worker that
 * the other then waits for, while the kernels run as Liftoff code meanwhile. 32 calls each tier up nearly all
 * (about 15 ms here).
 */
function warmKernels(e: Engine): void {
  const k = e.k as ThreadKernels;
  const [B, I, O] = [16, 128, 64];
  const mark = e.mark();
  try {
    const f = (n: number) => e.alloc(n * 4);
    const x = f(B * I), w = f(I * O), b = f(O), y = f(B * O), dy = f(B * O), dw = f(I * O), dx = f(B * I);
    const m = f(I * O), v = f(I * O), packed = f(I * O * 2), labels = f(B), idx = f(B), src = f(B * I);
    new Int32Array(e.memory.buffer, idx, B).forEach((_, i, a) => (a[i] = B - 1 - i)); // not in order, as a shuffled batch
    new Int32Array(e.memory.buffer, labels, B).forEach((_, i, a) => (a[i] = i % 10));
    new Float32Array(e.memory.buffer, x, B * I).fill(0.5);
    for (let i = 0; i < 32; i++) {
      k.gather_rows_u8(src, idx, w, B, 4 * I, 1 / 255); // rows of 512 pixels (over 128 its loop did not tier up)
      k.gather_rows_f32(src, idx, x, B, I);
      k.gemm_forward(x, w, b, y, B, I, O, e.act.relu);
      k.gemm_forward_sparse(x, w, b, y, B, I, O, e.act.relu);
      k.gemm_pack_b(w, packed, I, O, 0, O / 16);
      k.gemm_forward_packed(x, packed, b, y, B, I, O, e.act.relu);
      k.cross_entropy_index(y, labels, 0, dy, 0, B, O, -100, 0, O, 1 / B);
      k.cross_entropy_index(y, labels, 0, dy, 0, B * 4, 10, -100, 0, 10, 1 / B); // narrow rows (MNIST's 10 classes)
      k.count_correct(y, labels, B, O);
      k.activation_backward(w, dw, dw, I * O, e.act.relu); // over 8192: its small loop tiers up within 32 calls
      k.bias_grad(dy, b, B, O, 0);
      k.gemm_dw_rows(x, dy, dw, B, I, O, 0, 0, I);
      k.gemm_dw_sparse_rows(x, dy, dw, B, I, O, 0, 0, I);
      k.gemm_dx(dy, w, dx, B, I, O);
      k.gemm_forward_cols(x, w, b, y, B, I, O, e.act.relu, 0, O);
      k.gemm_dx_cols(dy, w, dx, B, I, O, 0, I);
      k.sgd_update(w, dw, m, I * O, 0, 0.9, 0, 0);
      k.adam_update(w, dw, m, v, I * O, 0, 0.9, 0.999, 1e-8, 0, 0, 0.1, 0.001);
    }
  } finally {
    e.release(mark);
  }
}

/**
 * Starts the pool on an engine made by Engine.createShared: n - 1 workers, each with a control block and a scratch
 * area taken from the arena as long-lived blocks.
 */
export async function startPool(e: Engine, module: WasmModule, n: number, spawn: SpawnWorker): Promise<Pool> {
  const k = e.k as ThreadKernels;
  warmKernels(e); // V8 compiles them with TurboFan in the background while the workers start
  const workers = n - 1;
  const ctrl = e.allocBlock(workers * CTRL_BYTES);
  new Uint8Array(e.memory.buffer, ctrl, workers * CTRL_BYTES).fill(0);
  const sb = k.scratch_bytes();
  const handles: WorkerHandle[] = [];
  try {
    for (let t = 0; t < workers; t++) {
      const scratch = e.allocBlock(sb);
      handles.push(await spawn({ module, memory: e.memory, ctrl: ctrl + t * CTRL_BYTES, scratch }));
    }
  } catch (err) {
    for (const h of handles) h.terminate();
    throw err;
  }
  return new Pool(e, handles, ctrl);
}
