// The zero-skipping forward pass blocked over groups of images (gemm-sparse.ts: GROUP = 32 images' lists per chunk of
// CHUNK = 256 inputs, each 32-column block of W, the rows the group's nonzeros name, packed and run for the whole
// group; fewer than PACK_MIN = 4 images read W in place) against a plain loop with the summation order of the
// row-by-row kernel it replaced: each element starts from the bias (or 0) and adds x w for the nonzero x (NaN
// included: a NaN x is not skipped), k ascending, with the kernels' own madd, then takes the activation. Bit for bit,
// at shapes on each side of the group and of the packing (B = 1, 3, 4, 31, 32, 33, 67 = 2 groups + 3), of the chunk
// (I = 1, 255, 256, 257, 784, 1000 = 3 chunks) and of the column blocks (O = 1..40, 100, 800); and, where X holds no
// NaN, against the dense kernel (which multiplies the zeros too: x 0 adds +-0, which leaves a sum that is not 0
// unchanged). Inputs carry NaN in the bytes after their end; outputs carry guard values there, which must survive.
import { gemm_forward } from "../gemm";
import { gemm_forward_sparse } from "../gemm-sparse";
import { step, activate } from "./gemm-reference";

const SLACK = 8; // floats after every buffer
const GUARD: f32 = 12345.5;

let seed: u32 = 4242;
function rand(): f32 {
  seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
  return <f32>(<f64>seed / 4294967296.0);
}
function buf(n: i32): usize { return heap.alloc(<usize>(n + SLACK) << 2); }
function at(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
function put(p: usize, i: i32, v: f32): void { store<f32>(p + (<usize>i << 2), v); }
function tail(p: usize, n: i32, v: f32): void {
  for (let i = n; i < n + SLACK; i++) put(p, i, v);
}
/** n floats in [-1, 1), NaN after the end. */
function input(p: usize, n: i32): void {
  for (let i = 0; i < n; i++) put(p, i, 2 * rand() - 1);
  tail(p, n, NaN);
}
/**
 * X(B, I) as MNIST's pixels: about a fifth nonzero, every fifth row (the 2nd, 7th, ...) all zeros; a NaN at one
 * element of row 3 when `nan`. NaN after the end.
 */
function pixels(B: i32, I: i32, nan: bool): void {
  for (let r = 0; r < B; r++) for (let k = 0; k < I; k++) {
    put(x, r * I + k, r % 5 == 1 || rand() < 0.8 ? 0 : rand());
  }
  if (nan && B > 3) put(x, 3 * I + (I >> 1), NaN);
  tail(x, B * I, NaN);
}
/** Stale values in n floats at p (a kernel must overwrite them), then the guard after them. */
function fresh(p: usize, n: i32): void {
  for (let i = 0; i < n; i++) put(p, i, 1000 + rand());
  tail(p, n, GUARD);
}

const MAXX = 67 * 1000, MAXW = 1000 * 800, MAXY = 67 * 800;
const x = buf(MAXX);
const w = buf(MAXW);
const bias = buf(800);
const out = buf(MAXY);
const want = buf(MAXY);
const dense = buf(MAXY);
const nz = heap.alloc(1000 << 2); // one row's nonzero inputs (their k)

/** want(B, O) = act(bias + sum over the nonzero x(r, k), k ascending, of x w) (b = 0: from 0), guard after it. */
function reference(B: i32, I: i32, O: i32, b: usize, act: i32): void {
  for (let r = 0; r < B; r++) {
    let m = 0;
    for (let k = 0; k < I; k++) if (at(x, r * I + k) != 0) { store<i32>(nz + (<usize>m << 2), k); m++; };
    for (let o = 0; o < O; o++) {
      let z: f32 = b ? at(b, o) : 0;
      for (let e = 0; e < m; e++) {
        const k = load<i32>(nz + (<usize>e << 2));
        z = step(z, at(x, r * I + k), at(w, k * O + o));
      }
      put(want, r * O + o, activate(z, act));
    }
  }
  tail(want, B * O, GUARD);
}
/** Compares n floats (and the guards after them) at got with want bit for bit; reports the first miss. */
function same(what: string, got: usize, n: i32): void {
  for (let i = 0; i < n + SLACK; i++) {
    if (load<u32>(got + (<usize>i << 2)) == load<u32>(want + (<usize>i << 2))) continue;
    log<string>(what + (i < n ? " [" : ": wrote past the end, at [") + i.toString() + "] got " + at(got, i).toString() +
      " want " + at(want, i).toString());
    expect<bool>(false).toBe(true);
    return;
  }
}

const BS: i32[] = [1, 3, 4, 31, 32, 33, 67];
const IS: i32[] = [1, 255, 256, 257, 784, 1000];

/** One shape, act, bias or none, NaN or none: against the reference, and against the dense kernel where X has no NaN. */
function run(B: i32, I: i32, O: i32, act: i32, withBias: bool, nan: bool): void {
  const what = "B=" + B.toString() + " I=" + I.toString() + " O=" + O.toString() + " act=" + act.toString() +
    (withBias ? " bias" : " no bias") + (nan ? " NaN" : "");
  input(w, I * O); input(bias, O);
  pixels(B, I, nan);
  const b: usize = withBias ? bias : 0;
  reference(B, I, O, b, act);
  fresh(out, B * O);
  gemm_forward_sparse(x, w, b, out, B, I, O, act);
  same("sparse " + what, out, B * O);
  if (nan) return;
  fresh(dense, B * O);
  gemm_forward(x, w, b, dense, B, I, O, act);
  same("dense " + what, dense, B * O);
}

describe("gemm_forward_sparse blocked over groups of images", () => {
  it("every column remainder (O = 1..40) at each group edge, I across the chunks, each act, bias or none", () => {
    let t = 0;
    for (let a = 0; a < BS.length; a++) for (let O = 1; O <= 40; O++, t++) {
      // I (two of them), act and bias cycle with the shape, so that each value meets every B and many O
      run(BS[a], IS[t % IS.length], O, t % 4, (t >> 2) % 2 == 0, false);
      run(BS[a], IS[(t + 3) % IS.length], O, (t + 1) % 4, (t >> 2) % 2 == 1, false);
    }
  });

  it("wide rows (O = 100, 800): each group edge against each chunk edge", () => {
    let t = 0;
    for (let a = 0; a < BS.length; a++) for (let c = 0; c < IS.length; c++, t++) {
      const O = t % 3 == 0 ? 800 : 100;
      if (O == 800 && BS[a] * IS[c] > 33 * 800) continue; // the plain loop's time: B 67 at 800 columns below
      run(BS[a], IS[c], O, t % 4, t % 2 == 0, false);
    }
    run(67, 784, 800, 1, true, false);
    run(67, 257, 800, 0, false, false);
  });

  it("a NaN input is summed, not skipped (its row NaN, the rows around it exact), and rows of zeros give act(bias)", () => {
    for (let a = 0; a < BS.length; a++) {
      const B = BS[a];
      run(B, 257, 37, 1, true, true);
      run(B, 1000, 33, 0, false, true);
      if (B > 3) {
        for (let o = 0; o < 33; o++) expect<bool>(isNaN(at(out, 3 * 33 + o))).toBe(true);
      }
    }
    // a row of zeros (row 1) and I = 0: the bias through the activation
    input(bias, 50);
    for (let act = 0; act < 4; act++) {
      pixels(40, 300, false);
      fresh(out, 40 * 50);
      gemm_forward_sparse(x, w, bias, out, 40, 300, 50, act);
      for (let o = 0; o < 50; o++) {
        expect<u32>(load<u32>(out + (<usize>(50 + o) << 2))).toBe(reinterpret<u32>(activate(at(bias, o), act)));
      }
      fresh(out, 40 * 50);
      gemm_forward_sparse(x, w, bias, out, 40, 0, 50, act);
      reference(40, 0, 50, bias, act);
      same("I=0 act=" + act.toString(), out, 40 * 50);
    }
  });
});
