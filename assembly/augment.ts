// Data augmentation of a training batch's images (issue 10): a random affine map about the image's centre (a shift in
// pixels, a rotation in degrees, a scale factor) and Simard et al.'s elastic distortion (2003: a field of uniform
// [-1, 1] displacements per pixel, smoothed by a Gaussian of standard deviation sigma, times alpha), sampled
// bilinearly with zeros outside the image. Every output pixel is mapped back to where it samples the input:
//   source = c + R(-angle) (p - c - shift) / factor + alpha * (G * U)(p)    (c the centre of the pixel grid)
// so a shift of exactly 2 moves every pixel exactly 2, and the identity copies the bytes. Each image draws from its own
// generator, seeded by one draw of the caller's (rng.ts), so an image's transform depends only on that draw (a pool may
// split a batch by images and give the same bits). sin, cos and exp are AssemblyScript's, compiled into the module:
// the same bits in every engine.
import { rng_next, rng_seed } from "./rng";

/**
 * The work buffer, in floats: the image's generator state (4), the Gaussian's weights w[0..r] and alpha w[0..r], the
 * zero-padded fields (max(W, H) + 2r rows of 2 max(W4, H4) floats: a row of x's field, then y's), the fields after the
 * pass down the columns (H rows of 2 W4) and after the pass along the rows, stored transposed (W rows of 2 H4: the
 * value at pixel (x, y) at [x 2 H4 + y], y's field H4 further), and the output image. W4, H4: W, H rounded up to a
 * multiple of 4 (SIMD rows).
 */
export function augment_work_floats(W: i32, H: i32, r: i32): i32 {
  return 4 + 2 * up4(r + 1) + padFloats(W, H, r) + 2 * H * up4(W) + 2 * W * up4(H) + up4(W * H);
}

// @ts-ignore: decorator
@inline function up4(n: i32): i32 {
  return (n + 3) & ~3;
}

// where each part of the work buffer starts (bytes; every part is a multiple of 4 floats, so all are 16-aligned)
// @ts-ignore: decorator
@inline function weightsAt(work: usize): usize { return work + 16; }
// @ts-ignore: decorator
@inline function padAt(work: usize, r: i32): usize { return work + 16 + (<usize>(2 * up4(r + 1)) << 2); }
// @ts-ignore: decorator
@inline function padFloats(W: i32, H: i32, r: i32): i32 { return (max(W, H) + 2 * r) * 2 * max(up4(W), up4(H)); }
// @ts-ignore: decorator
@inline function downAt(work: usize, W: i32, H: i32, r: i32): usize {
  return padAt(work, r) + (<usize>padFloats(W, H, r) << 2);
}
// @ts-ignore: decorator
@inline function fieldAt(work: usize, W: i32, H: i32, r: i32): usize {
  return downAt(work, W, H, r) + (<usize>(2 * H * up4(W)) << 2);
}
// @ts-ignore: decorator
@inline function outAt(work: usize, W: i32, H: i32, r: i32): usize {
  return fieldAt(work, W, H, r) + (<usize>(2 * W * up4(H)) << 2);
}

/** A uniform draw in [-a, a) (the top 24 bits of one draw). */
// @ts-ignore: decorator
@inline function symmetric(s: usize, a: f64): f64 {
  return a * (<f64>(rng_next(s) >>> 8) * (2.0 / 16777216.0) - 1.0);
}

/**
 * w[k] = g(k) / sum and aw[k] = alpha w[k] for k in [0, r], g(k) = exp(-k^2 / (2 sigma^2)), the sum over [-r, r]: the
 * Gaussian truncated at radius r and normalized to sum 1. f32, at weightsAt(work) and r + 1 rounded up floats later.
 */
function gaussian(work: usize, r: i32, sigma: f64, alpha: f64): void {
  const inv = 1.0 / (2.0 * sigma * sigma);
  let sum = 1.0;
  for (let k = 1; k <= r; k++) sum += 2.0 * Math.exp(-<f64>(k * k) * inv);
  const w = weightsAt(work);
  const aw = w + (<usize>up4(r + 1) << 2);
  for (let k = 0; k <= r; k++) {
    const g = (k == 0 ? 1.0 : Math.exp(-<f64>(k * k) * inv)) / sum;
    store<f32>(w + (<usize>k << 2), <f32>g);
    store<f32>(aw + (<usize>k << 2), <f32>(alpha * g));
  }
}

/**
 * dst[y][j] = sum over k in [-r, r] of w[|k|] src[y + r + k][j] for y < rows, j < cols (a multiple of 8): the
 * Gaussian down the columns of fields stored from row r of src, with r zero rows above and below. Strides: cols.
 */
function smoothDown(src: usize, dst: usize, rows: i32, cols: i32, w: usize, r: i32): void {
  const stride = <usize>cols << 2;
  const w0 = f32x4.splat(load<f32>(w));
  for (let y = 0; y < rows; y++) {
    const centre = src + <usize>(y + r) * stride;
    const out = dst + <usize>y * stride;
    let j: usize = 0;
    for (; j + 64 <= stride; j += 64) { // four vectors at a time: each weight loaded once for all
      const c = centre + j;
      let a0 = f32x4.mul(w0, v128.load(c));
      let a1 = f32x4.mul(w0, v128.load(c, 16));
      let a2 = f32x4.mul(w0, v128.load(c, 32));
      let a3 = f32x4.mul(w0, v128.load(c, 48));
      let up = c, down = c;
      for (let k = 1; k <= r; k++) {
        up -= stride;
        down += stride;
        const wk = f32x4.splat(load<f32>(w + (<usize>k << 2)));
        a0 = f32x4.add(a0, f32x4.mul(wk, f32x4.add(v128.load(up), v128.load(down))));
        a1 = f32x4.add(a1, f32x4.mul(wk, f32x4.add(v128.load(up, 16), v128.load(down, 16))));
        a2 = f32x4.add(a2, f32x4.mul(wk, f32x4.add(v128.load(up, 32), v128.load(down, 32))));
        a3 = f32x4.add(a3, f32x4.mul(wk, f32x4.add(v128.load(up, 48), v128.load(down, 48))));
      }
      v128.store(out + j, a0);
      v128.store(out + j, a1, 16);
      v128.store(out + j, a2, 32);
      v128.store(out + j, a3, 48);
    }
    for (; j < stride; j += 32) { // the last two vectors
      const c = centre + j;
      let a0 = f32x4.mul(w0, v128.load(c));
      let a1 = f32x4.mul(w0, v128.load(c, 16));
      let up = c, down = c;
      for (let k = 1; k <= r; k++) {
        up -= stride;
        down += stride;
        const wk = f32x4.splat(load<f32>(w + (<usize>k << 2)));
        a0 = f32x4.add(a0, f32x4.mul(wk, f32x4.add(v128.load(up), v128.load(down))));
        a1 = f32x4.add(a1, f32x4.mul(wk, f32x4.add(v128.load(up, 16), v128.load(down, 16))));
      }
      v128.store(out + j, a0);
      v128.store(out + j, a1, 16);
    }
  }
}

/**
 * The two displacement fields of one image, alpha (G * U) with U uniform in (-1, 1) (one draw of `s` gives a pixel's
 * two values, 16 bits each) and zeros outside the image, into fieldAt(work), transposed (see augment_work_floats).
 * gaussian() has filled the weights.
 */
function elasticField(s: usize, work: usize, W: i32, H: i32, r: i32): void {
  const W4 = up4(W), H4 = up4(H);
  const pad = padAt(work, r);
  const n = padFloats(W, H, r);
  const down = downAt(work, W, H, r);
  const w = weightsAt(work);
  const aw = w + (<usize>up4(r + 1) << 2);
  // the uniform fields, rows r .. r + H of the padded buffer (x's W4 floats, y's W4 floats a row); the rest zero
  memory.fill(pad, 0, <usize>n << 2);
  const yOff = <usize>W4 << 2;
  for (let y = 0; y < H; y++) {
    const row = pad + (<usize>((y + r) * 2 * W4) << 2);
    for (let x = 0; x < W; x++) {
      const bits = rng_next(s);
      const p = row + (<usize>x << 2);
      // (2h + 1 - 2^16) / 2^16 for h a 16-bit integer: symmetric about 0 in (-1, 1)
      store<f32>(p, <f32>(<f64>((bits >>> 15) | 1) * (1.0 / 65536.0) - 1.0));
      store<f32>(p + yOff, <f32>(<f64>(((bits & 0xffff) << 1) | 1) * (1.0 / 65536.0) - 1.0));
    }
  }
  smoothDown(pad, down, H, 2 * W4, w, r);
  // transposed (rows r .. r + W of 2 H4 floats), so the pass along the rows is again a pass down columns
  memory.fill(pad, 0, <usize>n << 2);
  const yTo = <usize>H4 << 2;
  for (let y = 0; y < H; y++) {
    const from = down + (<usize>(y * 2 * W4) << 2);
    for (let x = 0; x < W; x++) {
      const to = pad + (<usize>((x + r) * 2 * H4 + y) << 2);
      store<f32>(to, load<f32>(from + (<usize>x << 2)));
      store<f32>(to + yTo, load<f32>(from + yOff + (<usize>x << 2)));
    }
  }
  smoothDown(pad, fieldAt(work, W, H, r), W, 2 * H4, aw, r);
}

/** x's value at (sx, sy), bilinear between the four pixels around it, zero outside the image (one pixel's way). */
function bilinear(x: usize, W: i32, H: i32, sx: f32, sy: f32): f32 {
  if (!(sx > -1 && sx < <f32>W && sy > -1 && sy < <f32>H)) return 0; // NaN too
  const fx = Mathf.floor(sx), fy = Mathf.floor(sy);
  const ax = sx - fx, ay = sy - fy;
  const x0 = <i32>fx, y0 = <i32>fy;
  const p = x + (<usize>(y0 * W + x0) << 2);
  const inX0 = x0 >= 0, inX1 = x0 + 1 < W, inY0 = y0 >= 0, inY1 = y0 + 1 < H;
  const v00: f32 = inX0 && inY0 ? load<f32>(p) : 0;
  const v10: f32 = inX1 && inY0 ? load<f32>(p, 4) : 0;
  const v01: f32 = inX0 && inY1 ? load<f32>(p + (<usize>W << 2)) : 0;
  const v11: f32 = inX1 && inY1 ? load<f32>(p + (<usize>W << 2), 4) : 0;
  return (1 - ay) * ((1 - ax) * v00 + ax * v10) + ay * ((1 - ax) * v01 + ax * v11);
}

/** The four pixels at x + 4 idx[i] (i32x4 offsets in floats), as one vector. */
// @ts-ignore: decorator
@inline function gather(x: usize, idx: v128): v128 {
  let v = f32x4.splat(load<f32>(x + (<usize>i32x4.extract_lane(idx, 0) << 2)));
  v = f32x4.replace_lane(v, 1, load<f32>(x + (<usize>i32x4.extract_lane(idx, 1) << 2)));
  v = f32x4.replace_lane(v, 2, load<f32>(x + (<usize>i32x4.extract_lane(idx, 2) << 2)));
  return f32x4.replace_lane(v, 3, load<f32>(x + (<usize>i32x4.extract_lane(idx, 3) << 2)));
}

const LANES: usize = memory.data<f32>([0, 1, 2, 3], 16);

/**
 * y = x transformed: y(p) = x(c + R(-degrees) (p - c - (dx, dy)) / factor + field(p)), field the elastic one at
 * fieldAt(work) when `elastic`, in f32. The identity (no field, no shift, angle 0, factor 1) copies x. Four pixels of a
 * column at a time (the field is stored by columns).
 */
function transform(x: usize, y: usize, work: usize, W: i32, H: i32, dx: f64, dy: f64, degrees: f64, factor: f64,
  r: i32, elastic: bool): void {
  if (!elastic && dx == 0 && dy == 0 && degrees == 0 && factor == 1) {
    memory.copy(y, x, <usize>(W * H) << 2);
    return;
  }
  const angle = degrees * (Math.PI / 180.0);
  // R(-angle) / factor = [[c, -s], [s, c]] in (column, row) coordinates: a positive angle turns the image
  // counterclockwise as displayed (rows going down)
  const c = <f32>(Math.cos(angle) / factor), s = <f32>(Math.sin(angle) / factor);
  const cx = <f64>(W - 1) * 0.5, cy = <f64>(H - 1) * 0.5;
  const H4 = up4(H);
  const field = fieldAt(work, W, H, r);
  const lanes = v128.load(LANES);
  const cv = f32x4.splat(c), sv = f32x4.splat(s);
  const one = f32x4.splat(1);
  const lastX = i32x4.splat(W - 1), lastY = i32x4.splat(H - 1), width = i32x4.splat(W);
  const row = <usize>W << 2;
  for (let ox = 0; ox < W; ox++) {
    const rx = <f32>(<f64>ox - cx - dx);
    const baseX = f32x4.splat(<f32>cx + c * rx), baseY = f32x4.splat(<f32>cy + s * rx);
    const fx = field + (<usize>(ox * 2 * H4) << 2), fy = fx + (<usize>H4 << 2);
    for (let oy = 0; oy < H; oy += 4) {
      const ry = f32x4.add(f32x4.splat(<f32>(<f64>oy - cy - dy)), lanes);
      let sx = f32x4.sub(baseX, f32x4.mul(sv, ry));
      let sy = f32x4.add(baseY, f32x4.mul(cv, ry));
      if (elastic) {
        sx = f32x4.add(sx, v128.load(fx + (<usize>oy << 2)));
        sy = f32x4.add(sy, v128.load(fy + (<usize>oy << 2)));
      }
      const n = min(H - oy, 4);
      const fx0 = f32x4.floor(sx), fy0 = f32x4.floor(sy);
      const x0 = i32x4.trunc_sat_f32x4_s(fx0), y0 = i32x4.trunc_sat_f32x4_s(fy0);
      const out = y + (<usize>(oy * W + ox) << 2);
      // all four pixels around every lane inside the image: gathered; else each lane on its own
      if (i32x4.all_true(v128.and(i32x4.lt_u(x0, lastX), i32x4.lt_u(y0, lastY)))) {
        const idx = i32x4.add(i32x4.mul(y0, width), x0);
        const ax = f32x4.sub(sx, fx0), ay = f32x4.sub(sy, fy0);
        const bx = f32x4.sub(one, ax);
        const top = f32x4.add(f32x4.mul(bx, gather(x, idx)), f32x4.mul(ax, gather(x + 4, idx)));
        const bottom = f32x4.add(f32x4.mul(bx, gather(x + row, idx)), f32x4.mul(ax, gather(x + row + 4, idx)));
        const v = f32x4.add(f32x4.mul(f32x4.sub(one, ay), top), f32x4.mul(ay, bottom));
        store<f32>(out, f32x4.extract_lane(v, 0));
        if (n > 1) store<f32>(out + row, f32x4.extract_lane(v, 1));
        if (n > 2) store<f32>(out + 2 * row, f32x4.extract_lane(v, 2));
        if (n > 3) store<f32>(out + 3 * row, f32x4.extract_lane(v, 3));
      } else {
        store<f32>(out, bilinear(x, W, H, f32x4.extract_lane(sx, 0), f32x4.extract_lane(sy, 0)));
        if (n > 1) store<f32>(out + row, bilinear(x, W, H, f32x4.extract_lane(sx, 1), f32x4.extract_lane(sy, 1)));
        if (n > 2) store<f32>(out + 2 * row, bilinear(x, W, H, f32x4.extract_lane(sx, 2), f32x4.extract_lane(sy, 2)));
        if (n > 3) store<f32>(out + 3 * row, bilinear(x, W, H, f32x4.extract_lane(sx, 3), f32x4.extract_lane(sy, 3)));
      }
    }
  }
}

/**
 * One image with the given transform (the kernel under augment_batch, exported for tests): y = x shifted by (dx, dy)
 * pixels, turned by `degrees` counterclockwise and scaled by `factor` about the centre, and, when r > 0, displaced by
 * an elastic field drawn from a generator seeded with `seed`.
 */
export function augment_image(
  x: usize,     // (H, W) row-major
  y: usize,     // (H, W) out, not x
  work: usize,  // (augment_work_floats(W, H, r),) scratch, 16-aligned
  W: i32, H: i32,
  dx: f64, dy: f64, degrees: f64, factor: f64, // factor > 0
  seed: u32, alpha: f64, sigma: f64,
  r: i32,       // the Gaussian's radius; 0: no elastic field
): void {
  if (r > 0) {
    gaussian(work, r, sigma, alpha);
    rng_seed(work, seed);
    elasticField(work, work, W, H, r);
  }
  transform(x, y, work, W, H, dx, dy, degrees, factor, r, r > 0);
}

/**
 * The elastic displacement fields alpha (G * U) that augment_image draws for `seed` (exported for tests): x's then
 * y's, each (H, W) row-major.
 */
export function elastic_field(
  seed: u32,
  f: usize,    // (2, H, W) out
  work: usize, // (augment_work_floats(W, H, r),)
  W: i32, H: i32, alpha: f64, sigma: f64,
  r: i32,      // >= 1
): void {
  gaussian(work, r, sigma, alpha);
  rng_seed(work, seed);
  elasticField(work, work, W, H, r);
  const H4 = up4(H);
  const field = fieldAt(work, W, H, r);
  const D = W * H;
  for (let i = 0; i < 2; i++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        store<f32>(f + (<usize>(i * D + y * W + x) << 2), load<f32>(field + (<usize>((2 * x + i) * H4 + y) << 2)));
      }
    }
  }
}

/**
 * Each of B images in place, with a transform of its own: one draw of `s` seeds the image's generator, which draws
 * dx, dy uniform in [-shift, shift), the angle in [-rotate, rotate) degrees, the factor in [1 - scale, 1 + scale), then
 * (r > 0) the elastic field. All ranges 0 and r = 0: every image is copied unchanged.
 */
export function augment_batch(
  s: usize,    // (16 bytes) the augmentation generator, advanced by B draws
  x: usize,    // (B, H W) images, transformed in place
  work: usize, // (augment_work_floats(W, H, r),) scratch, 16-aligned
  B: i32, W: i32, H: i32,
  shift: f64, rotate: f64, scale: f64, // >= 0, scale < 1
  alpha: f64, sigma: f64,
  r: i32,      // the Gaussian's radius; 0: no elastic distortion
): void {
  const D = W * H;
  const out = outAt(work, W, H, r);
  if (r > 0) gaussian(work, r, sigma, alpha);
  for (let i = 0; i < B; i++) {
    rng_seed(work, rng_next(s));
    const dx = symmetric(work, shift), dy = symmetric(work, shift);
    const degrees = symmetric(work, rotate);
    const factor = 1.0 + symmetric(work, scale);
    if (r > 0) elasticField(work, work, W, H, r);
    const img = x + (<usize>(i * D) << 2);
    transform(img, out, work, W, H, dx, dy, degrees, factor, r, r > 0);
    memory.copy(img, out, <usize>D << 2);
  }
}
