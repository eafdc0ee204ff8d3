// The shared exp and log against float64 NativeMath, swept densely, and their special values; the multiply-add they
// and the GEMM share. These specs run twice (npm run test:kernels): in the default build and in the relaxed-SIMD one.
import { expv, logv, log1pv } from "../exp";
import { madd } from "../vec";

function expOf(x: f32): f32 {
  return f32x4.extract_lane(expv(f32x4.splat(x)), 0);
}
function logOf(x: f32): f32 {
  return f32x4.extract_lane(logv(f32x4.splat(x)), 0);
}
function log1pOf(x: f32): f32 {
  return f32x4.extract_lane(log1pv(f32x4.splat(x)), 0);
}

describe("expv", () => {
  it("stays within 1e-6 relative of float64 over [-87.3, 0] (2,000,001 points, all four lanes)", () => {
    const N = 2000000;
    let worst: f64 = 0;
    let worstAt: f32 = 0;
    for (let i = 0; i <= N; i += 4) {
      // four neighbouring points per vector, so every lane is exercised
      const x0 = <f32>(-87.3 * <f64>i / <f64>N);
      const x1 = <f32>(-87.3 * <f64>(i + 1) / <f64>N);
      const x2 = <f32>(-87.3 * <f64>(i + 2) / <f64>N);
      const x3 = <f32>(-87.3 * <f64>(i + 3) / <f64>N);
      const v = expv(f32x4(x0, x1, x2, min(x3, <f32>0)));
      for (let l = 0; l < 4; l++) {
        const x = l == 0 ? x0 : l == 1 ? x1 : l == 2 ? x2 : min(x3, <f32>0);
        const got = <f64>(l == 0 ? f32x4.extract_lane(v, 0) : l == 1 ? f32x4.extract_lane(v, 1)
          : l == 2 ? f32x4.extract_lane(v, 2) : f32x4.extract_lane(v, 3));
        const want = Math.exp(<f64>x);
        const err = Math.abs(got - want) / want;
        if (err > worst) { worst = err; worstAt = x; }
      }
    }
    log<string>("exp max relative error " + worst.toString() + " at x = " + worstAt.toString());
    expect<f64>(worst).toBeLessThan(1e-6);
  });

  it("is exactly 1 at 0 and exactly 0 below the cutoff and at -Infinity", () => {
    expect<f32>(expOf(0)).toBe(1);
    expect<f32>(expOf(-0.0)).toBe(1);
    expect<f32>(expOf(-87.34)).toBe(0);
    expect<f32>(expOf(-100)).toBe(0);
    expect<f32>(expOf(-1e30)).toBe(0);
    expect<f32>(expOf(-3.4e38)).toBe(0);
    expect<f32>(expOf(-Infinity)).toBe(0);
  });

  it("propagates NaN", () => {
    expect<bool>(isNaN(expOf(NaN))).toBe(true);
  });
});

describe("logv", () => {
  it("stays within 2 ulp-ish (3e-7 relative, 1e-7 absolute near 1) of float64 over 1e-30 .. 1e30", () => {
    let worst: f64 = 0;
    let x: f64 = 1e-30;
    let count = 0;
    while (x < 1e30) {
      const xf = <f32>x;
      const want = Math.log(<f64>xf);
      const err = Math.abs(<f64>logOf(xf) - want) / max(Math.abs(want), 0.3333);
      if (err > worst) worst = err;
      x *= 1.00003;
      count++;
    }
    log<string>("log max error " + worst.toString() + " over " + count.toString() + " points");
    expect<f64>(worst).toBeLessThan(3e-7);
  });

  it("is exact on subnormals, and gives -Infinity at 0, Infinity at Infinity, NaN below 0 and for NaN", () => {
    const sub: f32 = 1.0e-40;
    expect<f64>(Math.abs(<f64>logOf(sub) - Math.log(<f64>sub)) / 92.1).toBeLessThan(3e-7);
    expect<f32>(logOf(1)).toBe(0);
    expect<f32>(logOf(0)).toBe(-Infinity);
    expect<f32>(logOf(-0.0)).toBe(-Infinity);
    expect<f32>(logOf(Infinity)).toBe(Infinity);
    expect<bool>(isNaN(logOf(-1))).toBe(true);
    expect<bool>(isNaN(logOf(-Infinity))).toBe(true);
    expect<bool>(isNaN(logOf(NaN))).toBe(true);
  });
});

describe("log1pv", () => {
  it("is accurate for tiny t, where 1 + t rounds to 1", () => {
    let t: f64 = 1e-30;
    let worst: f64 = 0;
    while (t <= 1) {
      const tf = <f32>t;
      const want = Math.log1p(<f64>tf);
      const err = Math.abs(<f64>log1pOf(tf) - want) / want;
      if (err > worst) worst = err;
      t *= 1.001;
    }
    log<string>("log1p max relative error " + worst.toString());
    expect<f64>(worst).toBeLessThan(5e-7);
    expect<f32>(log1pOf(0)).toBe(0);
  });
});

describe("madd", () => {
  it("is a * b + c: mul then add in the default build, fused or not in the relaxed-SIMD build", () => {
    // a * b = 1 + 2^-11 + 2^-24 is not a float: mul then add gives 2^-11, a fused multiply-add 2^-11 + 2^-24
    const a: f32 = 1.000244140625; // 1 + 2^-12
    const c: f32 = -1;
    const got = f32x4.extract_lane(madd(f32x4.splat(a), f32x4.splat(a), f32x4.splat(c)), 0);
    const unfused: f32 = a * a + c;
    const fused = <f32>(<f64>a * <f64>a + <f64>c); // exact in f64, so rounded once
    expect<f32>(unfused).toBe(0.00048828125);
    expect<f32>(fused).toBe(0.00048828125 + 5.9604644775390625e-8);
    if (ASC_FEATURE_RELAXED_SIMD) {
      log<string>("relaxed-SIMD build: f32x4.relaxed_madd ran " + (got == fused ? "fused (FMA)" : "as mul + add"));
      expect<bool>(got == fused || got == unfused).toBe(true);
    } else {
      log<string>("default build: f32x4.mul then f32x4.add");
      expect<f32>(got).toBe(unfused);
    }
    // and lane-wise on ordinary values, to within the one rounding a fused multiply-add saves
    const v = madd(f32x4(1.5, -2.25, 3.0e10, 0), f32x4(4, 0.5, -2.0e-10, 7), f32x4(0.25, 1, 6, -0.0));
    expect<f32>(f32x4.extract_lane(v, 0)).toBe(6.25);
    expect<f32>(f32x4.extract_lane(v, 1)).toBe(-0.125);
    expect<f32>(f32x4.extract_lane(v, 3)).toBe(0);
    const want = <f64>(<f32>3.0e10) * <f64>(<f32>-2.0e-10) + 6.0;
    expect<f64>(Math.abs(<f64>f32x4.extract_lane(v, 2) - want)).toBeLessThan(1e-6);
  });
});
