// The shared exp and log against float64 NativeMath, swept densely, and their special values.
import { expv, logv, log1pv } from "../exp";

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
