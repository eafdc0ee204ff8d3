// Every microkernel at every width from 1 to past two SIMD unrolls (8 floats each), against a float64 scalar
// reference, with guard values after the output to catch a tail that writes too far.
import {
  rmax, raddstoreexpminusmax, raddexpminusmax, vscale, vsubmulsub, rdot, rsum, vsoftmaxbackward,
  vlogsoftmaxbackward, vlog, rsumfinite, rcountfinite,
} from "../softmax";
import { vscalesubw, rwsubsum, rsofttarget, vsoftgrad } from "../cross-entropy";
import { rbcewithlogits, rquadratic } from "../loss";
import { sigmoid_forward } from "../activation";
import { transposeLoad4, transposeStore4 } from "../vec";

const MAX_N = 33;
const GUARD: f32 = 12345.5;

let seed: u32 = 12345;
function rand(): f64 {
  seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
  return <f64>seed / 4294967296.0;
}
function alloc(n: i32): usize {
  return heap.alloc(<usize>(n + 8) << 2);
}
function fill(p: usize, n: i32, lo: f64, hi: f64): void {
  for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), <f32>(lo + (hi - lo) * rand()));
  for (let i = n; i < n + 8; i++) store<f32>(p + (<usize>i << 2), GUARD);
}
function at(p: usize, i: i32): f64 {
  return <f64>load<f32>(p + (<usize>i << 2));
}
function guarded(p: usize, n: i32): bool {
  for (let i = n; i < n + 8; i++) if (load<f32>(p + (<usize>i << 2)) != GUARD) return false;
  return true;
}
function close(got: f64, want: f64, rel: f64, abs: f64): bool {
  return Math.abs(got - want) <= abs + rel * Math.abs(want);
}
/** Checks out[0..n) against want[0..n) and the guard after out. */
function expectVec(what: string, n: i32, out: usize, want: usize, rel: f64, abs: f64): void {
  for (let i = 0; i < n; i++) {
    if (close(at(out, i), at(want, i), rel, abs)) continue;
    log<string>(what + " n=" + n.toString() + " i=" + i.toString() + " got " + at(out, i).toString() + " want " + at(want, i).toString());
    expect<bool>(false).toBe(true);
  }
  expect<bool>(guarded(out, n)).toBe(true, what + ": wrote past the end");
}
function expectNum(what: string, n: i32, got: f64, want: f64, rel: f64, abs: f64): void {
  const ok = close(got, want, rel, abs);
  if (!ok) log<string>(what + " n=" + n.toString() + " got " + got.toString() + " want " + want.toString());
  expect<bool>(ok).toBe(true);
}

const x = alloc(MAX_N);
const y = alloc(MAX_N);
const z = alloc(MAX_N);
const w = alloc(MAX_N);
const out = alloc(MAX_N);
const want = alloc(MAX_N);

describe("reductions", () => {
  it("rmax, rsum, rdot at every width", () => {
    for (let n = 1; n <= MAX_N; n++) {
      fill(x, n, -50, 50); fill(y, n, -2, 2);
      let m: f64 = -Infinity; let s: f64 = 0; let d: f64 = 0;
      for (let i = 0; i < n; i++) { m = max(m, at(x, i)); s += at(x, i); d += at(x, i) * at(y, i); }
      expect<f64>(<f64>rmax(x, n)).toBe(m);
      expectNum("rsum", n, <f64>rsum(x, n), s, 1e-5, 1e-4);
      expectNum("rdot", n, <f64>rdot(x, y, n), d, 1e-5, 1e-4);
    }
  });

  it("rmax ignores a NaN in any lane (the exp pass poisons the row), sees +Infinity, and -Infinity is neutral", () => {
    for (let n = 1; n <= MAX_N; n++) {
      for (let k = 0; k < n; k++) {
        fill(x, n, -5, 5);
        store<f32>(x + (<usize>k << 2), -Infinity);
        let m: f32 = -Infinity;
        for (let i = 0; i < n; i++) m = max(m, load<f32>(x + (<usize>i << 2)));
        store<f32>(x + (<usize>k << 2), NaN);
        expect<f32>(rmax(x, n)).toBe(m, "NaN at " + k.toString() + " of " + n.toString());
        expect<bool>(isNaN(raddstoreexpminusmax(x, out, n, m))).toBe(true);
        store<f32>(x + (<usize>k << 2), Infinity);
        expect<f32>(rmax(x, n)).toBe(Infinity);
      }
      for (let i = 0; i < n; i++) store<f32>(x + (<usize>i << 2), -Infinity);
      expect<f32>(rmax(x, n)).toBe(-Infinity);
    }
  });

  it("rsumfinite and rcountfinite leave out infinities and NaN", () => {
    for (let n = 1; n <= MAX_N; n++) {
      fill(x, n, -3, 3);
      let s: f64 = 0; let c = 0;
      for (let i = 0; i < n; i++) {
        if (i % 3 == 1) store<f32>(x + (<usize>i << 2), i % 2 ? -Infinity : NaN);
        else { s += at(x, i); c++; }
      }
      expectNum("rsumfinite", n, <f64>rsumfinite(x, n), s, 1e-5, 1e-5);
      expect<i32>(rcountfinite(x, n)).toBe(c);
    }
  });
});

describe("exp passes", () => {
  it("raddstoreexpminusmax stores e^(x - max) and returns their sum, in place too", () => {
    for (let n = 1; n <= MAX_N; n++) {
      fill(x, n, -30, 10); fill(out, n, 0, 0);
      const m = rmax(x, n);
      let sum: f64 = 0;
      for (let i = 0; i < n; i++) {
        const e = Math.exp(<f64>(<f32>(<f32>at(x, i) - m)));
        store<f32>(want + (<usize>i << 2), <f32>e); sum += e;
      }
      expectNum("raddstoreexpminusmax sum", n, <f64>raddstoreexpminusmax(x, out, n, m), sum, 2e-6, 0);
      expectVec("raddstoreexpminusmax", n, out, want, 1e-6, 1e-30);
      expectNum("raddexpminusmax", n, <f64>raddexpminusmax(x, n, m), sum, 2e-6, 0);
      raddstoreexpminusmax(x, x, n, m);
      expectVec("raddstoreexpminusmax in place", n, x, want, 1e-6, 1e-30);
    }
  });

  it("masks -Infinity inputs to 0 in every lane", () => {
    for (let n = 1; n <= MAX_N; n++) {
      fill(x, n, -1, 1); fill(out, n, 0, 0);
      for (let i = 0; i < n; i += 2) store<f32>(x + (<usize>i << 2), -Infinity);
      raddstoreexpminusmax(x, out, n, 1);
      for (let i = 0; i < n; i += 2) expect<f32>(load<f32>(out + (<usize>i << 2))).toBe(0);
      expect<bool>(guarded(out, n)).toBe(true);
    }
  });
});

describe("element-wise passes", () => {
  it("vscale, vsubmulsub, vsoftmaxbackward, vlogsoftmaxbackward, vlog at every width", () => {
    for (let n = 1; n <= MAX_N; n++) {
      fill(x, n, -4, 4); fill(y, n, 0.001, 1); fill(z, n, -2, 2); fill(out, n, 0, 0);
      for (let i = 0; i < n; i++) store<f32>(want + (<usize>i << 2), <f32>(at(x, i) * 0.75));
      vscale(x, out, n, 0.75);
      expectVec("vscale", n, out, want, 1e-7, 0);
      for (let i = 0; i < n; i++) store<f32>(want + (<usize>i << 2), <f32>((at(x, i) - 1.5) * 2.0 - 0.25));
      vsubmulsub(x, out, n, 1.5, 2, 0.25);
      expectVec("vsubmulsub", n, out, want, 1e-6, 1e-6);
      for (let i = 0; i < n; i++) store<f32>(want + (<usize>i << 2), <f32>(at(y, i) * (at(z, i) - 0.3)));
      vsoftmaxbackward(y, z, out, n, 0.3);
      expectVec("vsoftmaxbackward", n, out, want, 1e-6, 1e-7);
      for (let i = 0; i < n; i++) store<f32>(want + (<usize>i << 2), <f32>(at(z, i) - Math.exp(at(x, i) - 4.0) * 0.7));
      for (let i = 0; i < n; i++) store<f32>(w + (<usize>i << 2), <f32>(at(x, i) - 4.0));
      vlogsoftmaxbackward(w, z, out, n, 0.7);
      expectVec("vlogsoftmaxbackward", n, out, want, 1e-5, 1e-6);
      for (let i = 0; i < n; i++) store<f32>(want + (<usize>i << 2), <f32>Math.log(at(y, i)));
      vlog(y, out, n);
      expectVec("vlog", n, out, want, 3e-7, 1e-7);
    }
  });

  it("sigmoid_forward against 1 / (1 + e^-x), both signs, at every width", () => {
    for (let n = 1; n <= MAX_N; n++) {
      fill(x, n, -40, 40); fill(out, n, 0, 0);
      for (let i = 0; i < n; i++) store<f32>(want + (<usize>i << 2), <f32>(1.0 / (1.0 + Math.exp(-at(x, i)))));
      sigmoid_forward(x, out, n);
      expectVec("sigmoid", n, out, want, 1e-6, 1e-30);
    }
  });
});

describe("loss passes", () => {
  it("vscalesubw without and with weights", () => {
    for (let n = 1; n <= MAX_N; n++) {
      fill(x, n, 0, 1); fill(w, n, 0.1, 2);
      memory.copy(out, x, (<usize>n + 8) << 2);
      for (let i = 0; i < n; i++) store<f32>(want + (<usize>i << 2), <f32>(at(x, i) * 0.5 - 0.125));
      vscalesubw(out, 0, n, 0.5, 0.125);
      expectVec("vscalesubw", n, out, want, 1e-6, 1e-7);
      memory.copy(out, x, (<usize>n + 8) << 2);
      for (let i = 0; i < n; i++) store<f32>(want + (<usize>i << 2), <f32>(at(x, i) * 0.5 - 0.125 * at(w, i)));
      vscalesubw(out, w, n, 0.5, 0.125);
      expectVec("vscalesubw weighted", n, out, want, 1e-6, 1e-7);
    }
  });

  it("rwsubsum without and with weights", () => {
    for (let n = 1; n <= MAX_N; n++) {
      fill(x, n, -3, 3); fill(w, n, 0.1, 2);
      const m = rmax(x, n);
      let a: f64 = 0; let b: f64 = 0;
      for (let i = 0; i < n; i++) { a += <f64>m - at(x, i); b += at(w, i) * (<f64>m - at(x, i)); }
      expectNum("rwsubsum", n, <f64>rwsubsum(x, 0, n, m), a, 1e-5, 1e-5);
      expectNum("rwsubsum weighted", n, <f64>rwsubsum(x, w, n, m), b, 1e-5, 1e-5);
    }
  });

  it("rsofttarget and vsoftgrad, with smoothing, without and with weights", () => {
    const TS = heap.alloc(16);
    for (let n = 1; n <= MAX_N; n++) {
      for (let k = 0; k < 4; k++) {
        const wp: usize = k & 1 ? w : 0;
        // k < 2: smoothing, all logits finite; k >= 2: no smoothing and a zero target on a masked class
        const a1: f32 = k < 2 ? 0.8 : 1;
        const a0: f32 = k < 2 ? 0.05 : 0;
        fill(x, n, -3, 3); fill(y, n, 0, 1); fill(w, n, 0.1, 2); fill(z, n, 0, 1);
        if (k >= 2 && n > 1) {
          store<f32>(y, 0); // counts 0, not 0 * Infinity = NaN
          store<f32>(x, -Infinity);
        }
        const m = rmax(x, n);
        let ts: f64 = 0; let d: f64 = 0;
        for (let i = 0; i < n; i++) {
          const t = (wp == 0 ? 1.0 : at(w, i)) * (<f64>a1 * at(y, i) + <f64>a0);
          ts += t;
          if (t != 0) d += t * (<f64>m - at(x, i));
          store<f32>(want + (<usize>i << 2), <f32>(at(z, i) * 0.5 - 0.25 * t));
        }
        expectNum("rsofttarget", n, <f64>rsofttarget(x, y, wp, n, m, a1, a0, TS), d, 1e-5, 1e-5);
        expectNum("rsofttarget tsum", n, <f64>load<f32>(TS), ts, 1e-5, 1e-6);
        memory.copy(out, z, (<usize>n + 8) << 2);
        vsoftgrad(out, y, wp, n, 0.5, 0.25, a1, a0);
        expectVec("vsoftgrad", n, out, want, 1e-5, 1e-6);
      }
      if (n > 1) {
        // a smoothed (so positive) target on a masked class is +Infinity, as in PyTorch
        fill(x, n, -3, 3); fill(y, n, 0, 1);
        store<f32>(x, -Infinity);
        expect<f32>(rsofttarget(x, y, 0, n, rmax(x, n), 0.8, 0.05, TS)).toBe(Infinity);
      }
    }
  });

  it("rbcewithlogits without and with pos weights, with and without per-element losses", () => {
    const losses = alloc(MAX_N);
    for (let n = 1; n <= MAX_N; n++) {
      for (let k = 0; k < 2; k++) {
        const pw: usize = k == 0 ? 0 : w;
        fill(x, n, -20, 20); fill(y, n, 0, 1); fill(w, n, 0.5, 3); fill(out, n, 0, 0); fill(losses, n, 0, 0);
        let total: f64 = 0;
        for (let i = 0; i < n; i++) {
          const zi = at(x, i); const yi = at(y, i); const p = pw == 0 ? 1.0 : at(w, i);
          const L = 1.0 + (p - 1.0) * yi;
          const sp = Math.log1p(Math.exp(-Math.abs(zi)));
          const l = (1.0 - yi) * zi + L * (sp + max(-zi, 0.0));
          total += l;
          store<f32>(want + (<usize>i << 2), <f32>(0.5 * (L / (1.0 + Math.exp(-zi)) - p * yi)));
          store<f32>(z + (<usize>i << 2), <f32>l);
        }
        const got = <f64>rbcewithlogits(x, y, pw, out, losses, n, 0.5);
        expectNum("rbcewithlogits", n, got, total, 1e-5, 1e-5);
        expectVec("rbcewithlogits grad", n, out, want, 1e-5, 1e-6);
        expectVec("rbcewithlogits losses", n, losses, z, 1e-5, 1e-6);
        expectNum("rbcewithlogits without losses", n, <f64>rbcewithlogits(x, y, pw, out, 0, n, 0.5), total, 1e-5, 1e-5);
      }
    }
  });

  it("rquadratic", () => {
    for (let n = 1; n <= MAX_N; n++) {
      fill(x, n, 0, 1); fill(y, n, 0, 1); fill(out, n, 0, 0);
      let s: f64 = 0;
      for (let i = 0; i < n; i++) {
        const d = at(x, i) - at(y, i); s += d * d;
        store<f32>(want + (<usize>i << 2), <f32>(d / 3.0));
      }
      expectNum("rquadratic", n, <f64>rquadratic(x, y, out, n, <f32>(1.0 / 3.0)), s, 1e-5, 1e-6);
      expectVec("rquadratic grad", n, out, want, 1e-6, 1e-7);
    }
  });
});

describe("transposes of four rows", () => {
  it("transposeLoad4 gives columns, transposeStore4 puts them back, in place too, without touching neighbours", () => {
    const rows = heap.alloc(<usize>(4 * MAX_N + 8) << 2);
    const copy = heap.alloc(<usize>(4 * MAX_N + 8) << 2);
    const cols = heap.alloc(<usize>(MAX_N + 4) << 4);
    for (let n = 1; n <= MAX_N; n++) {
      fill(rows, 4 * n, -9, 9);
      memory.copy(copy, rows, (<usize>(4 * n) + 8) << 2);
      const m = transposeLoad4(rows, n, cols);
      for (let l = 0; l < 4; l++) {
        let want: f32 = -Infinity;
        for (let j = 0; j < n; j++) want = max(want, load<f32>(rows + (<usize>(l * n + j) << 2)));
        expect<f32>(f32x4.extract_lane(m, 0) * <f32>(l == 0) + f32x4.extract_lane(m, 1) * <f32>(l == 1) +
          f32x4.extract_lane(m, 2) * <f32>(l == 2) + f32x4.extract_lane(m, 3) * <f32>(l == 3)).toBe(want);
      }
      for (let j = 0; j < n; j++) for (let l = 0; l < 4; l++) {
        const ok = load<f32>(cols + (<usize>j << 4) + (<usize>l << 2)) == load<f32>(rows + (<usize>(l * n + j) << 2));
        if (!ok) { log<string>("transposeLoad4 n=" + n.toString() + " col " + j.toString()); expect<bool>(ok).toBe(true); }
      }
      // store them back in place as -2 t + 1: every element must land, the guard must stay
      transposeStore4(cols, rows, n, f32x4.splat(-2), f32x4.splat(1));
      for (let i = 0; i < 4 * n; i++) {
        const ok = load<f32>(rows + (<usize>i << 2)) == -2 * load<f32>(copy + (<usize>i << 2)) + 1;
        if (!ok) { log<string>("transposeStore4 n=" + n.toString() + " i " + i.toString()); expect<bool>(ok).toBe(true); }
      }
      expect<bool>(guarded(rows, 4 * n)).toBe(true, "transposeStore4 wrote past the fourth row");
    }
  });
});
