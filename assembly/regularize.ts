// Regularizers of a network's training step: inverted dropout (Srivastava et al. 2014, as torch.nn.Dropout: an element
// is zeroed with probability p and the survivors scaled by 1 / (1 - p), so evaluation needs no rescaling) and the
// max-norm constraint on each unit's incoming weights (as torch.renorm(w, 2, dim, max_norm) over W's columns). The
// masks come from a seeded generator (rng.ts) on the calling thread, so they are the same bits in every runtime and for
// any thread count.
import { rng_fill } from "./rng";
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
  const len = <usize>n;
  rng_fill(s, mask, len); // the draws' bits in the mask's place, then each turned into its mask value
  const vt = i32x4.splat(<i32>threshold), vs = f32x4.splat(scale);
  const end = (len & ~3) << 2;
  for (let o: usize = 0; o < end; o += 16) {
    // top 24 bits below the threshold (both under 2^24: a signed compare is exact): dropped
    const m = v128.andnot(vs, i32x4.lt_s(i32x4.shr_u(v128.load(mask + o), 8), vt));
    v128.store(mask + o, m);
    v128.store(y + o, f32x4.mul(v128.load(x + o), m)); // x read before y is written: y may be x
  }
  for (let o = end; o < len << 2; o += 4) {
    const m: f32 = (load<u32>(mask + o) >>> 8) < threshold ? 0 : scale;
    store<f32>(mask + o, m);
    store<f32>(y + o, load<f32>(x + o) * m);
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
  const end = (len & ~3) << 2;
  for (let o: usize = 0; o < end; o += 16) v128.store(dx + o, f32x4.mul(v128.load(dy + o), v128.load(mask + o)));
  const k = len & 3;
  if (k != 0) storeTail(dx + end, f32x4.mul(loadTail(dy + end, k, 0), loadTail(mask + end, k, 0)), k);
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
  const end = (cols & ~3) << 2, k = cols & 3; // whole vectors, then the last 1-3 columns
  for (let i: usize = 0; i < rows; i++) {
    const r = w + ((i * cols) << 2);
    for (let o: usize = 0; o < end; o += 16) {
      const v = v128.load(r + o);
      v128.store(norms + o, f32x4.add(v128.load(norms + o), f32x4.mul(v, v)));
    }
    if (k != 0) {
      const v = loadTail(r + end, k, 0);
      storeTail(norms + end, f32x4.add(loadTail(norms + end, k, 0), f32x4.mul(v, v)), k);
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
    for (let o: usize = 0; o < end; o += 16) v128.store(r + o, f32x4.mul(v128.load(r + o), v128.load(norms + o)));
    if (k != 0) storeTail(r + end, f32x4.mul(loadTail(r + end, k, 0), loadTail(norms + end, k, 0)), k);
  }
}
