// The trainer's building blocks: the seeded generator, batch gathering, optimizers and activations, each at every
// width from 1 to past two SIMD blocks against a float64 scalar reference, with guards after every output.
import { rng_seed, rng_next, rng_below, rng_normal, rng_permutation } from "../rng";
import { gather_rows_u8, gather_rows_f32, onehot, count_correct } from "../data";
import { sgd_update, adam_update } from "../optim";
import { relu_forward, tanh_forward, activation_backward, tanhv } from "../activation";

const MAX_N = 33;
const GUARD: f32 = 12345.5;
let seed: u32 = 99;
function rand(): f64 {
  seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
  return <f64>seed / 4294967296.0;
}
function alloc(n: i32): usize { return heap.alloc(<usize>(n + 8) << 2); }
function fill(p: usize, n: i32, lo: f64, hi: f64): void {
  for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), <f32>(lo + (hi - lo) * rand()));
  for (let i = n; i < n + 8; i++) store<f32>(p + (<usize>i << 2), GUARD);
}
function at(p: usize, i: i32): f64 { return <f64>load<f32>(p + (<usize>i << 2)); }
function fat(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
function guarded(p: usize, n: i32): bool {
  for (let i = n; i < n + 8; i++) if (load<f32>(p + (<usize>i << 2)) != GUARD) return false;
  return true;
}
function check(what: string, n: i32, i: i32, got: f64, want: f64, rel: f64, abs: f64): void {
  if (got == want || Math.abs(got - want) <= abs + rel * Math.abs(want)) return;
  log<string>(what + " n=" + n.toString() + " [" + i.toString() + "] got " + got.toString() + " want " + want.toString());
  expect<bool>(false).toBe(true);
}

const s = heap.alloc(16); // a generator state

describe("rng", () => {
  it("is xoshiro128** seeded by splitmix32: the same seed gives the same stream, another seed another", () => {
    rng_seed(s, 1);
    // the first outputs for seed 1, from an independent JS implementation of splitmix32 + xoshiro128**
    const a = rng_next(s);
    expect<u32>(a).toBe(2442144158);
    expect<u32>(rng_next(s)).toBe(3238099751);
    expect<u32>(rng_next(s)).toBe(3819917871);
    rng_seed(s, 1);
    expect<u32>(rng_next(s)).toBe(a);
    rng_seed(s, 2);
    expect<bool>(rng_next(s) != a).toBe(true);
  });

  it("rng_below is in range and about uniform", () => {
    rng_seed(s, 7);
    const counts = new StaticArray<i32>(10);
    for (let i = 0; i < 100000; i++) {
      const v = rng_below(s, 10);
      if (v >= 10) expect<u32>(v).toBeLessThan(10);
      else counts[v]++;
    }
    for (let k = 0; k < 10; k++) expect<bool>(counts[k] > 9500 && counts[k] < 10500).toBe(true, "bucket " + k.toString());
  });

  it("rng_normal has mean 0 and the given standard deviation, odd counts filled exactly", () => {
    rng_seed(s, 3);
    const n = 100001;
    const y = alloc(n);
    fill(y, n, 0, 0);
    rng_normal(s, y, n, 2);
    let m: f64 = 0; let v: f64 = 0;
    for (let i = 0; i < n; i++) m += at(y, i);
    m /= n;
    for (let i = 0; i < n; i++) v += (at(y, i) - m) * (at(y, i) - m);
    v /= n;
    expect<bool>(Math.abs(m) < 0.03).toBe(true, "mean " + m.toString());
    expect<bool>(Math.abs(Math.sqrt(v) - 2) < 0.03).toBe(true, "sd " + Math.sqrt(v).toString());
    expect<bool>(guarded(y, n)).toBe(true);
  });

  it("a state it cannot leave (all zero) traps in the rejection loops instead of spinning forever", () => {
    memory.fill(s, 0, 16);
    expect<u32>(rng_next(s)).toBe(0); // xoshiro's fixed point
    expect(() => { rng_below(s, 3); }).toThrow("rng_below: more than MAX_DRAWS rejections");
    expect(() => { rng_normal(s, heap.alloc(16), 2, 1); }).toThrow("rng_normal: more than MAX_DRAWS rejections");
    expect(() => { rng_permutation(s, heap.alloc(64), 16); }).toThrow("rng_permutation: more than MAX_DRAWS rejections");
    rng_seed(s, 7); // a seeded state never reaches the bound: 10^6 draws of the worst range (2^31 + 1) still work
    let sum: u64 = 0;
    for (let i = 0; i < 1000000; i++) sum += rng_below(s, 0x80000001);
    expect<bool>(sum > 0).toBe(true);
  });

  it("rng_permutation gives a permutation whatever the buffer held, different per seed", () => {
    const n = 1000;
    const p = heap.alloc(n << 2);
    const q = heap.alloc(n << 2);
    memory.fill(p, 0xab, n << 2);
    rng_seed(s, 11); rng_permutation(s, p, n);
    rng_seed(s, 12); rng_permutation(s, q, n);
    const seen = new StaticArray<bool>(n);
    let same = 0; let fixed = 0;
    for (let i = 0; i < n; i++) {
      const v = load<i32>(p + (<usize>i << 2));
      if (seen[v]) expect<bool>(seen[v]).toBe(false, "index " + v.toString() + " twice");
      seen[v] = true;
      if (v == load<i32>(q + (<usize>i << 2))) same++;
      if (v == i) fixed++;
    }
    expect<bool>(same < 20 && fixed < 20).toBe(true);
  });
});

describe("gather", () => {
  it("gather_rows_u8 scales bytes to floats at every row width (and MNIST's 784)", () => {
    const N = 5;
    const idx = heap.alloc(16);
    store<i32>(idx, 3); store<i32>(idx, 0, 4); store<i32>(idx, 4, 8); store<i32>(idx, 3, 12);
    for (let D = 1; D <= 800; D = D < 40 ? D + 1 : D + 744) {
      const src = heap.alloc(<usize>(N * D + 16));
      for (let i = 0; i < N * D; i++) store<u8>(src + <usize>i, <u8>((i * 37 + 11) & 255));
      const y = alloc(4 * D);
      fill(y, 4 * D, 0, 0);
      gather_rows_u8(src, idx, y, 4, D, <f32>(1.0 / 255.0));
      for (let b = 0; b < 4; b++) for (let k = 0; k < D; k++) {
        const r = load<i32>(idx + (<usize>b << 2));
        check("gather_rows_u8", D, b * D + k, at(y, b * D + k), <f64>load<u8>(src + <usize>(r * D + k)) / 255.0, 1e-6, 0);
      }
      expect<bool>(guarded(y, 4 * D)).toBe(true);
      const f = alloc(N * D); fill(f, N * D, -1, 1);
      const z = alloc(4 * D); fill(z, 4 * D, 0, 0);
      gather_rows_f32(f, idx, z, 4, D);
      for (let b = 0; b < 4; b++) for (let k = 0; k < D; k++) {
        check("gather_rows_f32", D, k, at(z, b * D + k), at(f, load<i32>(idx + (<usize>b << 2)) * D + k), 0, 0);
      }
      expect<bool>(guarded(z, 4 * D)).toBe(true);
    }
  });

  it("gather_rows_u8 and gather_rows_f32 at every batch size 1..9 (groups of four rows and the rest), bit for bit", () => {
    const N = 11;
    const scale = <f32>(1.0 / 255.0);
    const idx = heap.alloc(9 * 4);
    // scattered rows (some twice), rows in order (groups of four consecutive ones: one stream), and both in a batch
    for (let order = 0; order < 3; order++) {
      for (let b = 0; b < 9; b++) {
        const r = order == 0 ? (b * 5 + 3) % N : order == 1 ? b + 1 : b < 4 ? b + 6 : (b * 3) % N;
        store<i32>(idx + (<usize>b << 2), r);
      }
      for (let D = 1; D <= 800; D = D < 35 ? D + 1 : D + 749) { // 1..35: every tail of 16 and 4; 784: MNIST's
        const src = heap.alloc(<usize>(N * D + 16));
        for (let i = 0; i < N * D; i++) store<u8>(src + <usize>i, <u8>((i * 37 + 11) & 255));
        const f = alloc(N * D); fill(f, N * D, -1, 1);
        for (let B = 1; B <= 9; B++) {
          const y = alloc(B * D); fill(y, B * D, 0, 0);
          const z = alloc(B * D); fill(z, B * D, 0, 0);
          gather_rows_u8(src, idx, y, B, D, scale);
          gather_rows_f32(f, idx, z, B, D); // D = 1: a batch's labels
          for (let b = 0; b < B; b++) {
            const r = load<i32>(idx + (<usize>b << 2));
            for (let k = 0; k < D; k++) {
              const want = <f32>load<u8>(src + <usize>(r * D + k)) * scale;
              if (load<u32>(y + (<usize>(b * D + k) << 2)) != reinterpret<u32>(want)) {
                check("gather_rows_u8 B=" + B.toString(), D, b * D + k, at(y, b * D + k), <f64>want, 0, 0);
              }
              const wantF = load<u32>(f + (<usize>(r * D + k) << 2));
              if (load<u32>(z + (<usize>(b * D + k) << 2)) != wantF) {
                check("gather_rows_f32 B=" + B.toString(), D, b * D + k, at(z, b * D + k), <f64>reinterpret<f32>(wantF), 0, 0);
              }
            }
          }
          expect<bool>(guarded(y, B * D)).toBe(true);
          expect<bool>(guarded(z, B * D)).toBe(true);
        }
      }
    }
  });

  it("onehot and count_correct", () => {
    const labels = heap.alloc(16);
    store<i32>(labels, 2); store<i32>(labels, 0, 4); store<i32>(labels, 1, 8);
    const y = alloc(9);
    fill(y, 9, 5, 5);
    onehot(labels, y, 3, 3);
    for (let i = 0; i < 9; i++) check("onehot", 3, i, at(y, i), i == 2 || i == 3 || i == 7 ? 1 : 0, 0, 0);
    expect<bool>(guarded(y, 9)).toBe(true);
    // rows: argmax 1 (label 2: wrong), argmax 0 with a tie at 0 and 2 (first wins: right), argmax 1 (right)
    store<f32>(y, 0.1); store<f32>(y, 0.7, 4); store<f32>(y, 0.2, 8);
    store<f32>(y, 0.5, 12); store<f32>(y, 0.0, 16); store<f32>(y, 0.5, 20);
    store<f32>(y, -3, 24); store<f32>(y, -1, 28); store<f32>(y, -2, 32);
    expect<i32>(count_correct(y, labels, 3, 3)).toBe(2);
    // a NaN anywhere in a row: no largest value, not counted (first place: argmax 0 by the compares; the label is 0)
    store<f32>(y, NaN, 12);
    expect<i32>(count_correct(y, labels, 3, 3)).toBe(1);
    store<f32>(y, 0.5, 12); store<f32>(y, NaN, 20);
    expect<i32>(count_correct(y, labels, 3, 3)).toBe(1);
  });
});

describe("optimizers", () => {
  it("sgd_update: plain, momentum, Nesterov, weight decay, two steps, every width", () => {
    for (let n = 1; n <= MAX_N; n++) for (let mode = 0; mode < 4; mode++) {
      const p = alloc(n); const g = alloc(n); const b = alloc(n);
      fill(p, n, -1, 1); fill(g, n, -1, 1); fill(b, n, 0, 0);
      const lr: f32 = 0.1; const mu: f32 = mode == 0 ? 0 : 0.9; const nest = mode == 2; const wd: f32 = mode == 3 ? 0.01 : 0;
      const rp = new StaticArray<f64>(n); const rb = new StaticArray<f64>(n);
      for (let i = 0; i < n; i++) { rp[i] = at(p, i); rb[i] = 0; }
      for (let step = 0; step < 2; step++) {
        sgd_update(p, g, b, n, lr, mu, nest, wd);
        for (let i = 0; i < n; i++) {
          let gi = at(g, i) + <f64>wd * rp[i];
          if (mu != 0) { rb[i] = <f64>mu * rb[i] + gi; gi = nest ? gi + <f64>mu * rb[i] : rb[i]; }
          rp[i] -= <f64>lr * gi;
          check("sgd p", n, i, at(p, i), rp[i], 1e-5, 1e-6);
        }
      }
      expect<bool>(guarded(p, n) && guarded(b, n)).toBe(true);
    }
  });

  it("adam_update and AdamW (decoupled) against the PyTorch formulas, three steps, every width", () => {
    for (let n = 1; n <= MAX_N; n++) for (let mode = 0; mode < 2; mode++) {
      const p = alloc(n); const g = alloc(n); const m = alloc(n); const v = alloc(n);
      fill(p, n, -1, 1); fill(g, n, -1, 1); fill(m, n, 0, 0); fill(v, n, 0, 0);
      const lr: f32 = 0.01; const b1: f32 = 0.9; const b2: f32 = 0.999; const eps: f32 = 1e-8; const wd: f32 = 0.05;
      const dec = mode == 1;
      const rp = new StaticArray<f64>(n); const rm = new StaticArray<f64>(n); const rv = new StaticArray<f64>(n);
      for (let i = 0; i < n; i++) rp[i] = at(p, i);
      for (let t = 1; t <= 3; t++) {
        const bc1 = 1.0 - Math.pow(<f64>b1, t); const bc2 = 1.0 - Math.pow(<f64>b2, t);
        adam_update(p, g, m, v, n, lr, b1, b2, eps, wd, dec, <f32>bc1, <f32>bc2);
        for (let i = 0; i < n; i++) {
          if (dec) rp[i] *= 1.0 - <f64>lr * <f64>wd;
          const gi = at(g, i) + (dec ? 0 : <f64>wd * rp[i]);
          rm[i] = <f64>b1 * rm[i] + (1.0 - <f64>b1) * gi;
          rv[i] = <f64>b2 * rv[i] + (1.0 - <f64>b2) * gi * gi;
          rp[i] -= <f64>lr / bc1 * rm[i] / (Math.sqrt(rv[i]) / Math.sqrt(bc2) + <f64>eps);
          check(dec ? "adamw p" : "adam p", n, i, at(p, i), rp[i], 1e-5, 1e-6);
        }
      }
      expect<bool>(guarded(p, n) && guarded(m, n) && guarded(v, n)).toBe(true);
    }
  });
});

describe("activations", () => {
  it("tanhv within 3e-7 relative of float64 over [-20, 20], exact +-1 far out, odd", () => {
    let worst: f64 = 0;
    for (let i = -200000; i <= 200000; i++) {
      const x = <f32>(<f64>i * 1e-4);
      const got = <f64>f32x4.extract_lane(tanhv(f32x4.splat(x)), 0);
      const want = Math.tanh(<f64>x);
      if (want != 0) worst = max(worst, Math.abs(got - want) / Math.abs(want));
      else expect<f64>(got).toBe(0);
    }
    log<string>("tanh max relative error " + worst.toString());
    expect<f64>(worst).toBeLessThan(3e-7);
    expect<f32>(f32x4.extract_lane(tanhv(f32x4.splat(30)), 0)).toBe(1);
    expect<f32>(f32x4.extract_lane(tanhv(f32x4.splat(-30)), 0)).toBe(-1);
    expect<f32>(f32x4.extract_lane(tanhv(f32x4.splat(1e-30)), 0)).toBe(1e-30);
    expect<bool>(isNaN(f32x4.extract_lane(tanhv(f32x4.splat(NaN)), 0))).toBe(true);
  });

  it("relu_forward, tanh_forward and activation_backward at every width (the derivatives exactly as f32 formulas)", () => {
    for (let n = 1; n <= MAX_N; n++) {
      const x = alloc(n); const y = alloc(n); const d = alloc(n); const z = alloc(n);
      fill(x, n, -3, 3); fill(y, n, 0, 0); fill(d, n, -1, 1);
      relu_forward(x, y, n);
      for (let i = 0; i < n; i++) check("relu", n, i, at(y, i), max(at(x, i), 0), 0, 0);
      expect<bool>(guarded(y, n)).toBe(true);
      fill(z, n, 0, 0);
      activation_backward(y, d, z, n, 1);
      for (let i = 0; i < n; i++) check("relu'", n, i, at(z, i), at(y, i) > 0 ? at(d, i) : 0, 0, 0);
      expect<bool>(guarded(z, n)).toBe(true);
      tanh_forward(x, y, n);
      for (let i = 0; i < n; i++) check("tanh", n, i, at(y, i), Math.tanh(at(x, i)), 3e-7, 1e-30);
      fill(z, n, 0, 0);
      activation_backward(y, d, z, n, 3);
      for (let i = 0; i < n; i++) check("tanh'", n, i, at(z, i), <f64>(fat(d, i) * (1 - fat(y, i) * fat(y, i))), 0, 0);
      for (let i = 0; i < n; i++) store<f32>(y + (<usize>i << 2), <f32>(1.0 / (1.0 + Math.exp(-at(x, i)))));
      fill(z, n, 0, 0);
      activation_backward(y, d, z, n, 2);
      for (let i = 0; i < n; i++) check("sigmoid'", n, i, at(z, i), <f64>(fat(d, i) * (fat(y, i) * (1 - fat(y, i)))), 0, 0);
      expect<bool>(guarded(z, n)).toBe(true);
    }
  });
});
