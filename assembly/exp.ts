// The one exp and the one log of the project: f32x4, shared by every kernel (scalar callers use lane 0).
// Constants live in a table in linear memory: V8 rebuilds a v128.const at every use inside a loop, a load it folds.
// The exp's multiply-adds go through madd (vec.ts): fused in the relaxed-SIMD build, mul + add in the default one.
import { madd } from "./vec";

// e^x for x <= 0, XNNPACK's rr2_p5: x = n ln2 + t (Cody-Waite, two-part ln2), e^t by a degree-5 polynomial,
// 2^n built in the exponent bits by a magic bias that already holds the exponent bias 127.
const EXP_K: usize = memory.data<f32>([
  1.44269502, 1.44269502, 1.44269502, 1.44269502, // 0: log2(e)
  12583039.0, 12583039.0, 12583039.0, 12583039.0, // 16: magic bias 0x1.8000FEp23 (1.5 * 2^23 + 127)
  -0.693145752, -0.693145752, -0.693145752, -0.693145752, // 32: -ln2 high part (-0x1.62E400p-1)
  -1.42860677e-6, -1.42860677e-6, -1.42860677e-6, -1.42860677e-6, // 48: -ln2 low part (-0x1.7F7D1Cp-20)
  0.00830392633, 0.00830392633, 0.00830392633, 0.00830392633, // 64: c5 0x1.0F9F9Cp-7
  0.0418978221, 0.0418978221, 0.0418978221, 0.0418978221, // 80: c4 0x1.573A1Ap-5
  0.166676521, 0.166676521, 0.166676521, 0.166676521, // 96: c3 0x1.555A80p-3
  0.499991506, 0.499991506, 0.499991506, 0.499991506, // 112: c2 0x1.FFFDC6p-2
  0.999999702, 0.999999702, 0.999999702, 0.999999702, // 128: c1 0x1.FFFFF6p-1
  -87.3365402, -87.3365402, -87.3365402, -87.3365402, // 144: below this e^x is under the smallest normal: flush to 0
], 16);

/** e^x lane-wise for x <= 0 (and -Infinity, giving 0); NaN propagates. Within 3e-7 relative over [-87.3, 0] (2.8e-7 measured). */
// @ts-ignore: decorator
@inline export function expv(x: v128): v128 {
  return expvk(x, expk(0), expk(1), expk(2), expk(3), expk(4), expk(5), expk(6), expk(7), expk(8), expk(9));
}

/** The exp's constant k (0..9, in EXP_K's order) as a vector: a loop of exps loads them once, into locals. */
// @ts-ignore: decorator
@inline export function expk(k: usize): v128 {
  return v128.load(EXP_K + (k << 4));
}

/**
 * expv with its constants given (k0..k9 = expk(0..9)), the same operations in the same order: V8 reloads a table
 * vector at every use, and a narrow kernel's exp pass ran 1.3x faster with them held in locals across its loop.
 */
// @ts-ignore: decorator
@inline export function expvk(x: v128, k0: v128, k1: v128, k2: v128, k3: v128, k4: v128, k5: v128, k6: v128, k7: v128,
  k8: v128, k9: v128): v128 {
  let n = madd(x, k0, k1);
  const s = i32x4.shl(n, 23);
  n = f32x4.sub(n, k1);
  let t = madd(n, k2, x);
  t = madd(n, k3, t);
  let p = madd(k4, t, k5);
  p = madd(p, t, k6);
  p = madd(p, t, k7);
  p = madd(p, t, k8);
  t = f32x4.mul(t, s);
  const f = madd(t, p, s);
  return v128.andnot(f, f32x4.lt(x, k9));
}

// ln x, cephes' logf: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln(m) = m - m^2/2 + m^3 P(m) with P of degree 8 in m - 1
// evaluated by Estrin's scheme (half the dependency chain of Horner's: the log sits on each row's critical path).
const LOG_K: usize = memory.data<f32>([
  0.707106781, 0.707106781, 0.707106781, 0.707106781, // 0: sqrt(1/2)
  7.0376836292e-2, 7.0376836292e-2, 7.0376836292e-2, 7.0376836292e-2, // 16: p0 (of m^8)
  -1.1514610310e-1, -1.1514610310e-1, -1.1514610310e-1, -1.1514610310e-1, // 32: p1
  1.1676998740e-1, 1.1676998740e-1, 1.1676998740e-1, 1.1676998740e-1, // 48: p2
  -1.2420140846e-1, -1.2420140846e-1, -1.2420140846e-1, -1.2420140846e-1, // 64: p3
  1.4249322787e-1, 1.4249322787e-1, 1.4249322787e-1, 1.4249322787e-1, // 80: p4
  -1.6668057665e-1, -1.6668057665e-1, -1.6668057665e-1, -1.6668057665e-1, // 96: p5
  2.0000714765e-1, 2.0000714765e-1, 2.0000714765e-1, 2.0000714765e-1, // 112: p6
  -2.4999993993e-1, -2.4999993993e-1, -2.4999993993e-1, -2.4999993993e-1, // 128: p7
  3.3333331174e-1, 3.3333331174e-1, 3.3333331174e-1, 3.3333331174e-1, // 144: p8 (of m^0)
  -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, // 160: ln2 low part
  0.693359375, 0.693359375, 0.693359375, 0.693359375, // 176: ln2 high part
  1.17549435e-38, 1.17549435e-38, 1.17549435e-38, 1.17549435e-38, // 192: smallest normal
  8388608.0, 8388608.0, 8388608.0, 8388608.0, // 208: 2^23, lifts a subnormal into the normal range
  23.0, 23.0, 23.0, 23.0, // 224: the exponent that lift adds
  1.0, 1.0, 1.0, 1.0, // 240
  0.5, 0.5, 0.5, 0.5, // 256
  -Infinity, -Infinity, -Infinity, -Infinity, // 272
  Infinity, Infinity, Infinity, Infinity, // 288
], 16);
// integer constants of the log: mantissa mask, the exponent of 0.5, the exponent bias less one
const LOG_I: usize = memory.data<i32>([
  0x007fffff, 0x007fffff, 0x007fffff, 0x007fffff, // 0
  0x3f000000, 0x3f000000, 0x3f000000, 0x3f000000, // 16
  126, 126, 126, 126, // 32
], 16);

/** ln x lane-wise: ln 0 = -Infinity, ln Infinity = Infinity, negative or NaN gives NaN; subnormals exact. */
// @ts-ignore: decorator
@inline export function logv(x: v128): v128 {
  const one = v128.load(LOG_K, 240);
  const sub = f32x4.lt(x, v128.load(LOG_K, 192));
  const xs = v128.bitselect(f32x4.mul(x, v128.load(LOG_K, 208)), x, sub);
  // exponent e such that xs = m 2^e with m in [0.5, 1); subnormals were scaled by 2^23
  let e = f32x4.convert_i32x4_s(i32x4.sub(i32x4.shr_u(xs, 23), v128.load(LOG_I, 32)));
  e = f32x4.sub(e, v128.and(sub, v128.load(LOG_K, 224)));
  let m = v128.or(v128.and(xs, v128.load(LOG_I, 0)), v128.load(LOG_I, 16));
  // m < sqrt(1/2): use 2m - 1 and e - 1, so the polynomial argument stays in [-0.293, 0.414)
  const lo = f32x4.lt(m, v128.load(LOG_K, 0));
  e = f32x4.sub(e, v128.and(lo, one));
  m = f32x4.add(f32x4.sub(m, one), v128.and(m, lo));
  const z = f32x4.mul(m, m);
  const m4 = f32x4.mul(z, z);
  // P(m) = p8 + p7 m + ... + p0 m^8 as ((a + b m^2) + (c + d m^2) m^4) + p0 m^8
  const a = f32x4.add(f32x4.mul(v128.load(LOG_K, 128), m), v128.load(LOG_K, 144));
  const b = f32x4.add(f32x4.mul(v128.load(LOG_K, 96), m), v128.load(LOG_K, 112));
  const c = f32x4.add(f32x4.mul(v128.load(LOG_K, 64), m), v128.load(LOG_K, 80));
  const d = f32x4.add(f32x4.mul(v128.load(LOG_K, 32), m), v128.load(LOG_K, 48));
  const ab = f32x4.add(f32x4.mul(b, z), a);
  const cd = f32x4.add(f32x4.mul(d, z), c);
  let y = f32x4.add(f32x4.add(f32x4.mul(cd, m4), ab), f32x4.mul(v128.load(LOG_K, 16), f32x4.mul(m4, m4)));
  y = f32x4.mul(f32x4.mul(y, m), z);
  y = f32x4.add(y, f32x4.mul(e, v128.load(LOG_K, 160)));
  y = f32x4.sub(y, f32x4.mul(z, v128.load(LOG_K, 256)));
  let r = f32x4.add(f32x4.add(m, y), f32x4.mul(e, v128.load(LOG_K, 176)));
  // special values: 0 -> -Infinity, Infinity -> Infinity, negative or NaN -> NaN (all-ones is a NaN)
  const zero = v128.xor(one, one);
  r = v128.bitselect(v128.load(LOG_K, 272), r, f32x4.eq(x, zero));
  r = v128.bitselect(x, r, f32x4.eq(x, v128.load(LOG_K, 288)));
  return v128.or(r, v128.or(f32x4.lt(x, zero), f32x4.ne(x, x)));
}

/** ln(1 + t) lane-wise for t >= 0, accurate for tiny t: ln(u) - ((u - 1) - t) / u with u = 1 + t. */
// @ts-ignore: decorator
@inline export function log1pv(t: v128): v128 {
  const one = v128.load(LOG_K, 240);
  const u = f32x4.add(t, one);
  const c = f32x4.div(f32x4.sub(f32x4.sub(u, one), t), u);
  // where u rounds to exactly 1, ln(u) = 0 and the correction gives t itself
  return f32x4.sub(logv(u), c);
}

/** Scalar e^x (x <= 0) through the same SIMD code, so scalar and vector results agree bit for bit. */
// @ts-ignore: decorator
@inline export function expf(x: f32): f32 {
  return f32x4.extract_lane(expv(f32x4.splat(x)), 0);
}

/** Scalar ln x through the same SIMD code. */
// @ts-ignore: decorator
@inline export function logf(x: f32): f32 {
  return f32x4.extract_lane(logv(f32x4.splat(x)), 0);
}
