// Regularizers of a network's training step: inverted dropout (Srivastava et al. 2014, as torch.nn.Dropout: an element
// is zeroed with probability p and the survivors scaled by 1 / (1 - p), so evaluation needs no rescaling) and the
// max-norm constraint on each unit's incoming weights (as torch.renorm(w, 2, dim, max_norm) over W's columns). The
// masks come from a seeded generator (rng.ts) on the calling thread, so they are the same bits in every runtime and for
// any thread count.
import { rng_next } from "./rng";
import { loadTail, storeTail } from "./vec";

/**
 * y = x * mask, mask[i] = 0 with probability p, else 1 / (1 - p). One draw per element: element i is dropped when the
 * top 24 bits of its draw are below round(p 2^24), so p is honoured to 2^-24.
 */
export function dropout_forward(
  s: usize,    // (16 bytes) the generator's state, advanced by n draws
  x: usize,    // (N,) input
  y: usize,    // (N,) out, may be x
  mask: usize, // (N,) out: 0 or 1 / (1 - p), for dropout_backward
  n: i32,
  p: f32,      // in [0, 1)
): void {
  const threshold = <u32>Math.round(<f64>p * 16777216.0);
  const scale: f32 = <f32>(1.0 / (1.0 - <f64>p));
  for (let i: usize = 0; i < <usize>n; i++) {
    const m: f32 = (rng_next(s) >>> 8) < threshold ? 0 : scale;
    store<f32>(mask + (i << 2), m);
    store<f32>(y + (i << 2), load<f32>(x + (i << 2)) * m);
  }
}

/** dx = dy * mask (dropout_forward's mask). dx may be dy. */
export function dropout_backward(
  mask: usize, // (N,)
  dy: usize,   // (N,)
  dx: usize,   // (N,) out
  n: i32,
): void {
  const len = <usize>n;
  for (let i: usize = 0; i < len; i += 4) {
    const k = min(len - i, 4);
    const o = i << 2;
    const d = f32x4.mul(k == 4 ? v128.load(dy + o) : loadTail(dy + o, k, 0),
      k == 4 ? v128.load(mask + o) : loadTail(mask + o, k, 0));
    if (k == 4) v128.store(dx + o, d);
    else storeTail(dx + o, d, k);
  }
}

/**
 * Each column j of W (unit j's incoming weights) whose L2 norm exceeds c is scaled to c: w *= c / (norm + 1e-7), as
 * torch.renorm. The norms are summed in f32 row by row, in a fixed order, in `norms`.
 */
export function max_norm(
  w: usize,     // (I, O) row-major, updated
  norms: usize, // (O,) scratch
  I: i32, O: i32,
  c: f32,       // > 0
): void {
  const cols = <usize>O;
  const rows = <usize>I;
  memory.fill(norms, 0, cols << 2);
  for (let i: usize = 0; i < rows; i++) {
    const r = w + ((i * cols) << 2);
    for (let j: usize = 0; j < cols; j += 4) {
      const k = min(cols - j, 4);
      const o = j << 2;
      const v = k == 4 ? v128.load(r + o) : loadTail(r + o, k, 0);
      const sq = f32x4.add(k == 4 ? v128.load(norms + o) : loadTail(norms + o, k, 0), f32x4.mul(v, v));
      if (k == 4) v128.store(norms + o, sq);
      else storeTail(norms + o, sq, k);
    }
  }
  let any = false;
  for (let j: usize = 0; j < cols; j++) {
    const norm = Mathf.sqrt(load<f32>(norms + (j << 2)));
    const f: f32 = norm > c ? c / (norm + 1e-7) : 1;
    if (f != 1) any = true;
    store<f32>(norms + (j << 2), f);
  }
  if (!any) return;
  for (let i: usize = 0; i < rows; i++) {
    const r = w + ((i * cols) << 2);
    for (let j: usize = 0; j < cols; j += 4) {
      const k = min(cols - j, 4);
      const o = j << 2;
      const v = f32x4.mul(k == 4 ? v128.load(r + o) : loadTail(r + o, k, 0), k == 4 ? v128.load(norms + o) : loadTail(norms + o, k, 0));
      if (k == 4) v128.store(r + o, v);
      else storeTail(r + o, v, k);
    }
  }
}
