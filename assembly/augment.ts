// Data augmentation of a training batch's images (issue 10): a random affine map about the image's centre (a shift in
// pixels, a rotation in degrees, a scale factor) and Simard et al.'s elastic distortion (2003: a field of uniform
// [-1, 1] displacements per pixel, smoothed by a Gaussian of standard deviation sigma, times alpha), sampled
// bilinearly with zeros outside the image. Every output pixel is mapped back to where it samples the input:
//   source = c + R(-angle) (p - c - shift) / factor + alpha * (G * U)(p)    (c the centre of the pixel grid)
// so a shift of exactly 2 moves every pixel exactly 2, and the identity copies the bytes. Each image draws from its own
// generator, seeded by one draw of the caller's (rng.ts), so an image's transform depends only on that draw (a pool may
// split a batch by images and give the same bits). sin, cos and exp are AssemblyScript's, compiled into the module:
// the same bits in every engine.
import { rng_fill, rng_next, rng_seed } from "./rng";

/**
 * The work buffer, in floats: the image's generator state (4), the Gaussian's weights w[0..r] and alpha w[0..r], the
 * uniform fields U (H rows of 2 W4 floats: a row of x's field, then y's), the fields after the pass down the columns D
 * (2H rows of W4, x's then y's, each after G zeros, and G zeros after the last: a pass along a row reads r beyond
 * either end), the fields after the pass along the rows F (2H rows of W4), the transform's column terms (2 W4), the
 * ink's columns (W4), nine vectors of its loop and a row's coordinates (2 W4), and the output image. W4: W rounded up to a multiple of 4 (SIMD rows); G: r rounded up.
 */
export function augment_work_floats(W: i32, H: i32, r: i32): i32 {
  const W4 = up4(W);
  return 4 + 2 * up4(r + 1) + 2 * H * W4 + dFloats(W, H, r) + 2 * H * W4 + 5 * W4 + 36 + up4(W * H);
}

// @ts-ignore: decorator
@inline function up4(n: i32): i32 {
  return (n + 3) & ~3;
}

// where each part of the work buffer starts (bytes; every part is a multiple of 4 floats, so all are 16-aligned)
// @ts-ignore: decorator
@inline function weightsAt(work: usize): usize { return work + 16; }
// @ts-ignore: decorator
@inline function uniformAt(work: usize, r: i32): usize { return work + 16 + (<usize>(2 * up4(r + 1)) << 2); }
// @ts-ignore: decorator
@inline function dFloats(W: i32, H: i32, r: i32): i32 { return up4(r) + 2 * H * (up4(r) + up4(W)); }
// @ts-ignore: decorator
@inline function downAt(work: usize, W: i32, H: i32, r: i32): usize {
  return uniformAt(work, r) + (<usize>(2 * H * up4(W)) << 2);
}
// @ts-ignore: decorator
@inline function fieldAt(work: usize, W: i32, H: i32, r: i32): usize {
  return downAt(work, W, H, r) + (<usize>dFloats(W, H, r) << 2);
}
// @ts-ignore: decorator
@inline function basesAt(work: usize, W: i32, H: i32, r: i32): usize {
  return fieldAt(work, W, H, r) + (<usize>(2 * H * up4(W)) << 2);
}
// @ts-ignore: decorator
@inline function outAt(work: usize, W: i32, H: i32, r: i32): usize {
  return basesAt(work, W, H, r) + (<usize>(5 * up4(W) + 36) << 2);
}

/** A uniform draw in [-a, a) (the top 24 bits of one draw). */
// @ts-ignore: decorator
@inline function symmetric(s: usize, a: f64): f64 {
  return a * (<f64>(rng_next(s) >>> 8) * (2.0 / 16777216.0) - 1.0);
}

/**
 * w[k] = g(k) / sum and aw[k] = alpha w[k] for k in [0, r], g(k) = exp(-k^2 / (2 sigma^2)), the sum over [-r, r]: the
 * Gaussian truncated at radius r and normalized to sum 1. f32, at weightsAt(work) and r + 1 rounded up floats later.
 * Then the zeros the passes read around the fields (U's columns from W to W4, D's padding), once for a whole batch.
 */
function prepare(work: usize, W: i32, H: i32, r: i32, sigma: f64, alpha: f64): void {
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
  memory.fill(uniformAt(work, r), 0, <usize>(2 * H * up4(W) + dFloats(W, H, r)) << 2);
}

// The passes below add only the taps that reach into the image: a tap on a zero outside it adds w * (v + 0) = w * v,
// or w * 0 = +0, to a sum that is never -0 (it starts at w0 times a nonzero draw, and an exact cancellation gives +0),
// so skipping those taps gives the bits of the whole zero-padded 2r + 1 tap sum, in the same order.

/**
 * D[y][j] = sum over k in [-r, r] of w[|k|] U[y + k][j] (zero outside rows 0 .. H - 1), j < 2 W4: the Gaussian down
 * the columns of both fields, for y < H. U: H rows of 2 W4 floats; D as augment_work_floats says (x's half of U's row
 * to D's row y, y's half to row H + y).
 */
function smoothDown(u: usize, d: usize, W4: i32, H: i32, G: i32, w: usize, r: i32): void {
  const stride = <usize>(2 * W4) << 2;
  const half = <usize>W4 << 2;
  const dRow = <usize>(G + W4) << 2;
  const d0 = d + (<usize>G << 2);
  const w0 = f32x4.splat(load<f32>(w));
  for (let y = 0; y < H; y++) {
    // taps on both sides up to kb, then on the longer side only up to ke
    const above = y, below = H - 1 - y;
    const kb = min(r, min(above, below)), ke = min(r, max(above, below));
    const upOnly = above > below;
    const centre = u + <usize>y * stride;
    const dx = d0 + <usize>y * dRow, dy = d0 + <usize>(H + y) * dRow - half;
    let j: usize = 0;
    for (; j + 64 <= stride; j += 64) { // four vectors at a time: each weight loaded once for all
      const c = centre + j;
      let a0 = f32x4.mul(w0, v128.load(c));
      let a1 = f32x4.mul(w0, v128.load(c, 16));
      let a2 = f32x4.mul(w0, v128.load(c, 32));
      let a3 = f32x4.mul(w0, v128.load(c, 48));
      let up = c, down = c;
      let k = 1;
      for (; k <= kb; k++) {
        up -= stride;
        down += stride;
        const wk = f32x4.splat(load<f32>(w + (<usize>k << 2)));
        a0 = f32x4.add(a0, f32x4.mul(wk, f32x4.add(v128.load(up), v128.load(down))));
        a1 = f32x4.add(a1, f32x4.mul(wk, f32x4.add(v128.load(up, 16), v128.load(down, 16))));
        a2 = f32x4.add(a2, f32x4.mul(wk, f32x4.add(v128.load(up, 32), v128.load(down, 32))));
        a3 = f32x4.add(a3, f32x4.mul(wk, f32x4.add(v128.load(up, 48), v128.load(down, 48))));
      }
      let p = upOnly ? up : down;
      const step: isize = upOnly ? -<isize>stride : <isize>stride;
      for (; k <= ke; k++) {
        p += step;
        const wk = f32x4.splat(load<f32>(w + (<usize>k << 2)));
        a0 = f32x4.add(a0, f32x4.mul(wk, v128.load(p)));
        a1 = f32x4.add(a1, f32x4.mul(wk, v128.load(p, 16)));
        a2 = f32x4.add(a2, f32x4.mul(wk, v128.load(p, 32)));
        a3 = f32x4.add(a3, f32x4.mul(wk, v128.load(p, 48)));
      }
      // W4 is a multiple of 4 floats: no vector straddles the halves
      v128.store(j < half ? dx + j : dy + j, a0);
      v128.store(j + 16 < half ? dx + j : dy + j, a1, 16);
      v128.store(j + 32 < half ? dx + j : dy + j, a2, 32);
      v128.store(j + 48 < half ? dx + j : dy + j, a3, 48);
    }
    for (; j < stride; j += 32) { // two vectors (2 W4 floats are an even number of vectors)
      const c = centre + j;
      let a0 = f32x4.mul(w0, v128.load(c));
      let a1 = f32x4.mul(w0, v128.load(c, 16));
      let up = c, down = c;
      let k = 1;
      for (; k <= kb; k++) {
        up -= stride;
        down += stride;
        const wk = f32x4.splat(load<f32>(w + (<usize>k << 2)));
        a0 = f32x4.add(a0, f32x4.mul(wk, f32x4.add(v128.load(up), v128.load(down))));
        a1 = f32x4.add(a1, f32x4.mul(wk, f32x4.add(v128.load(up, 16), v128.load(down, 16))));
      }
      let p = upOnly ? up : down;
      const step: isize = upOnly ? -<isize>stride : <isize>stride;
      for (; k <= ke; k++) {
        p += step;
        const wk = f32x4.splat(load<f32>(w + (<usize>k << 2)));
        a0 = f32x4.add(a0, f32x4.mul(wk, v128.load(p)));
        a1 = f32x4.add(a1, f32x4.mul(wk, v128.load(p, 16)));
      }
      v128.store(j < half ? dx + j : dy + j, a0);
      v128.store(j + 16 < half ? dx + j : dy + j, a1, 16);
    }
  }
}

/**
 * F[i][x] = sum over k in [-r, r] of w[|k|] D[i][x + k] (zero outside columns 0 .. W - 1) for the 2H rows i of D:
 * the Gaussian along the rows, four rows at a time (their taps reach as far), unaligned loads into D's padding. F: 2H
 * rows of W4.
 */
function smoothAlong(d: usize, f: usize, W: i32, W4: i32, H: i32, G: i32, w: usize, r: i32): void {
  const dRow = <usize>(G + W4) << 2;
  const fRow = <usize>W4 << 2;
  const d0 = d + (<usize>G << 2);
  const w0 = f32x4.splat(load<f32>(w));
  const rows = 2 * H;
  for (let x = 0; x < W4; x += 4) {
    // lanes x .. x + 3: a tap -k reaches a column of the image up to k = x + 3, a tap +k up to k = W - 1 - x
    const left = x + 3, right = W - 1 - x;
    const kb = min(r, min(left, right)), ke = min(r, max(left, right));
    const leftOnly = left > right;
    const step: isize = leftOnly ? -4 : 4;
    let i = 0;
    for (; i + 4 <= rows; i += 4) {
      const c0 = d0 + <usize>i * dRow + (<usize>x << 2), c1 = c0 + dRow, c2 = c1 + dRow, c3 = c2 + dRow;
      let a0 = f32x4.mul(w0, v128.load(c0));
      let a1 = f32x4.mul(w0, v128.load(c1));
      let a2 = f32x4.mul(w0, v128.load(c2));
      let a3 = f32x4.mul(w0, v128.load(c3));
      let o: usize = 4;
      let k = 1;
      for (; k <= kb; k++) {
        const wk = f32x4.splat(load<f32>(w + (<usize>k << 2)));
        a0 = f32x4.add(a0, f32x4.mul(wk, f32x4.add(v128.load(c0 - o), v128.load(c0 + o))));
        a1 = f32x4.add(a1, f32x4.mul(wk, f32x4.add(v128.load(c1 - o), v128.load(c1 + o))));
        a2 = f32x4.add(a2, f32x4.mul(wk, f32x4.add(v128.load(c2 - o), v128.load(c2 + o))));
        a3 = f32x4.add(a3, f32x4.mul(wk, f32x4.add(v128.load(c3 - o), v128.load(c3 + o))));
        o += 4;
      }
      let p0 = c0 + <usize>(<isize>(k - 1) * step), p1 = p0 + dRow, p2 = p1 + dRow, p3 = p2 + dRow;
      for (; k <= ke; k++) {
        p0 += step; p1 += step; p2 += step; p3 += step;
        const wk = f32x4.splat(load<f32>(w + (<usize>k << 2)));
        a0 = f32x4.add(a0, f32x4.mul(wk, v128.load(p0)));
        a1 = f32x4.add(a1, f32x4.mul(wk, v128.load(p1)));
        a2 = f32x4.add(a2, f32x4.mul(wk, v128.load(p2)));
        a3 = f32x4.add(a3, f32x4.mul(wk, v128.load(p3)));
      }
      const out = f + <usize>i * fRow + (<usize>x << 2);
      v128.store(out, a0);
      v128.store(out + fRow, a1);
      v128.store(out + 2 * fRow, a2);
      v128.store(out + 3 * fRow, a3);
    }
    for (; i < rows; i++) { // 2H is 2 more than a multiple of 4 for an odd H
      const c0 = d0 + <usize>i * dRow + (<usize>x << 2);
      let a0 = f32x4.mul(w0, v128.load(c0));
      let o: usize = 4;
      let k = 1;
      for (; k <= kb; k++) {
        a0 = f32x4.add(a0, f32x4.mul(f32x4.splat(load<f32>(w + (<usize>k << 2))),
          f32x4.add(v128.load(c0 - o), v128.load(c0 + o))));
        o += 4;
      }
      let p0 = c0 + <usize>(<isize>(k - 1) * step);
      for (; k <= ke; k++) {
        p0 += step;
        a0 = f32x4.add(a0, f32x4.mul(f32x4.splat(load<f32>(w + (<usize>k << 2))), v128.load(p0)));
      }
      v128.store(f + <usize>i * fRow + (<usize>x << 2), a0);
    }
  }
}

/**
 * The two displacement fields of one image, alpha (G * U) with U uniform in (-1, 1) (one draw of the generator at
 * `work` gives a pixel's two values, 16 bits each) and zeros outside the image, into fieldAt(work) (x's H rows of
 * W4, then y's). prepare() has filled the weights and the zeros.
 */
function elasticField(work: usize, W: i32, H: i32, r: i32): void {
  const W4 = up4(W), G = up4(r);
  const u = uniformAt(work, r);
  const w = weightsAt(work);
  const aw = w + (<usize>up4(r + 1) << 2);
  // each draw's bits stored in x's place, a row at a time
  const rowBytes = <usize>(2 * W4) << 2;
  for (let y = 0; y < H; y++) rng_fill(work, u + <usize>y * rowBytes, <usize>W);
  // (2h + 1 - 2^16) / 2^16 for h each 16-bit half: symmetric about 0 in (-1, 1), exact in f32; x's from the high
  // half, y's from the low, W4 floats further (U's columns from W to W4 stay 0)
  const yOff = <usize>W4 << 2;
  const odd = i32x4.splat(1), half = i32x4.splat(0xffff);
  const unit = f32x4.splat(1.0 / 65536.0), one = f32x4.splat(1);
  for (let y = 0; y < H; y++) {
    const row = u + <usize>y * rowBytes;
    let x = 0;
    for (; x + 4 <= W; x += 4) {
      const p = row + (<usize>x << 2);
      const bits = v128.load(p);
      const hx = v128.or(i32x4.shr_u(bits, 15), odd);
      const hy = v128.or(i32x4.shl(v128.and(bits, half), 1), odd);
      v128.store(p, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(hx), unit), one));
      v128.store(p + yOff, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(hy), unit), one));
    }
    for (; x < W; x++) {
      const p = row + (<usize>x << 2);
      const bits = load<u32>(p);
      store<f32>(p, <f32><i32>((bits >>> 15) | 1) * (1.0 / 65536.0) - 1.0);
      store<f32>(p + yOff, <f32><i32>(((bits & 0xffff) << 1) | 1) * (1.0 / 65536.0) - 1.0);
    }
  }
  const d = downAt(work, W, H, r);
  smoothDown(u, d, W4, H, G, w, r);
  smoothAlong(d, fieldAt(work, W, H, r), W, W4, H, G, aw, r);
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

/**
 * The n <= 4 output pixels at o (a row's) that sample x at (sx, sy) lane by lane: gathered when n is 4 and all four
 * pixels around every lane lie inside the image, else each lane on its own. `box` holds (W - 1, H - 1, W) as i32x4 at
 * 96, 112 and 128 (through memory, as the other invariants of transform's loop).
 */
// @ts-ignore: decorator
@inline function sample(x: usize, W: i32, H: i32, o: usize, sx: v128, sy: v128, n: i32, box: usize): void {
  const fx0 = f32x4.floor(sx), fy0 = f32x4.floor(sy);
  const x0 = i32x4.trunc_sat_f32x4_s(fx0), y0 = i32x4.trunc_sat_f32x4_s(fy0);
  if (n == 4 && i32x4.all_true(v128.and(i32x4.lt_u(x0, v128.load(box, 96)), i32x4.lt_u(y0, v128.load(box, 112))))) {
    const row = <usize>W << 2;
    const idx = i32x4.add(i32x4.mul(y0, v128.load(box, 128)), x0);
    const one = f32x4.splat(1);
    const ax = f32x4.sub(sx, fx0), ay = f32x4.sub(sy, fy0);
    const bx = f32x4.sub(one, ax);
    const t = f32x4.add(f32x4.mul(bx, gather(x, idx)), f32x4.mul(ax, gather(x + 4, idx)));
    const b = f32x4.add(f32x4.mul(bx, gather(x + row, idx)), f32x4.mul(ax, gather(x + row + 4, idx)));
    v128.store(o, f32x4.add(f32x4.mul(f32x4.sub(one, ay), t), f32x4.mul(ay, b)));
  } else {
    store<f32>(o, bilinear(x, W, H, f32x4.extract_lane(sx, 0), f32x4.extract_lane(sy, 0)));
    if (n > 1) store<f32>(o, bilinear(x, W, H, f32x4.extract_lane(sx, 1), f32x4.extract_lane(sy, 1)), 4);
    if (n > 2) store<f32>(o, bilinear(x, W, H, f32x4.extract_lane(sx, 2), f32x4.extract_lane(sy, 2)), 8);
    if (n > 3) store<f32>(o, bilinear(x, W, H, f32x4.extract_lane(sx, 3), f32x4.extract_lane(sy, 3)), 12);
  }
}

/**
 * y = x transformed: y(p) = x(c + R(-degrees) (p - c - (dx, dy)) / factor + field(p)), field the elastic one at
 * fieldAt(work) when `elastic`, in f32. The identity (no field, no shift, angle 0, factor 1) copies x. Four pixels of a
 * row at a time; a group whose four neighbours all lie outside the ink (x's nonzero rows and columns, found first) is
 * bilinear between zeros, +0: stored without sampling.
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
  const W4 = up4(W);
  const row = <usize>W << 2;
  // the column terms cx + c rx and cy + s rx, rx = ox - cx - dx, and the ink: x's nonzero bits OR-ed down each column
  const baseX = basesAt(work, W, H, r), baseY = baseX + (<usize>W4 << 2), ink = baseY + (<usize>W4 << 2);
  for (let ox = 0; ox < W4; ox++) {
    const rx = <f32>(<f64>ox - cx - dx);
    store<f32>(baseX + (<usize>ox << 2), <f32>cx + c * rx);
    store<f32>(baseY + (<usize>ox << 2), <f32>cy + s * rx);
  }
  memory.fill(ink, 0, <usize>W4 << 2);
  let top = H, bottom = -1;
  for (let iy = 0; iy < H; iy++) {
    const from = x + <usize>iy * row;
    let any = v128.splat<i32>(0);
    let ix = 0;
    for (; ix + 4 <= W; ix += 4) {
      const v = v128.load(from + (<usize>ix << 2));
      any = v128.or(any, v);
      v128.store(ink + (<usize>ix << 2), v128.or(v128.load(ink + (<usize>ix << 2)), v));
    }
    let bits = <u32>v128.any_true(any);
    for (; ix < W; ix++) {
      const v = load<u32>(from + (<usize>ix << 2));
      bits |= v;
      store<u32>(ink + (<usize>ix << 2), load<u32>(ink + (<usize>ix << 2)) | v);
    }
    if (bits != 0) {
      if (top == H) top = iy;
      bottom = iy;
    }
  }
  let left = W, right = -1;
  for (let ix = 0; ix < W; ix++) {
    if (load<u32>(ink + (<usize>ix << 2)) != 0) {
      if (left == W) left = ix;
      right = ix;
    }
  }
  // A group samples ink when some lane's x0 = floor(sx) is in [left - 1, right], that is sx in [left - 1, right + 1),
  // and y0 in [top - 1, bottom] (none: an empty box). The loop's invariants go through memory (`box`): V8 would
  // compute them again inside the loop, or spill them.
  const box = ink + (<usize>W4 << 2);
  v128.store(box, f32x4.splat(<f32>(left - 1)));
  v128.store(box, f32x4.splat(<f32>(right + 1)), 16);
  v128.store(box, f32x4.splat(<f32>(top - 1)), 32);
  v128.store(box, f32x4.splat(<f32>(bottom + 1)), 48);
  v128.store(box, i32x4.splat(W - 1), 96);
  v128.store(box, i32x4.splat(H - 1), 112);
  v128.store(box, i32x4.splat(W), 128);
  // each row twice: its coordinates into rowX, rowY (W4 floats each, after `box`) and the first and last of its
  // groups of 4 that sample ink, without a branch; then zeros outside those and samples between (one mispredicted
  // branch a row, not one a group)
  const rowX = box + 144, rowY = rowX + (<usize>W4 << 2);
  const full = <usize>(W & ~3) << 2;
  let fx = fieldAt(work, W, H, r);
  const fieldY = <usize>(H * W4) << 2;
  let out = y;
  for (let oy = 0; oy < H; oy++) {
    // as four rows of a column were: (oy rounded down to 4) - cy - dy, plus the lane
    const ry = <f32>(<f64>(oy & ~3) - cy - dy) + <f32>(oy & 3);
    v128.store(box, f32x4.splat(s * ry), 64);
    v128.store(box, f32x4.splat(c * ry), 80);
    let first: usize = full, last: usize = 0; // byte offsets: none
    for (let at: usize = 0; at < <usize>W4 << 2; at += 16) {
      let sx = f32x4.sub(v128.load(baseX + at), v128.load(box, 64));
      let sy = f32x4.add(v128.load(baseY + at), v128.load(box, 80));
      if (elastic) {
        sx = f32x4.add(sx, v128.load(fx + at));
        sy = f32x4.add(sy, v128.load(fx + fieldY + at));
      }
      v128.store(rowX + at, sx);
      v128.store(rowY + at, sy);
      const inked = v128.any_true(v128.and(v128.and(f32x4.ge(sx, v128.load(box)), f32x4.lt(sx, v128.load(box, 16))),
        v128.and(f32x4.ge(sy, v128.load(box, 32)), f32x4.lt(sy, v128.load(box, 48)))));
      first = select(min(first, at), first, inked);
      last = select(at + 16, last, inked);
    }
    last = min(last, full);
    let at: usize = 0;
    for (; at < first; at += 16) v128.store(out + at, v128.splat<i32>(0));
    for (; at < last; at += 16) sample(x, W, H, out + at, v128.load(rowX + at), v128.load(rowY + at), 4, box);
    for (; at < full; at += 16) v128.store(out + at, v128.splat<i32>(0));
    if (full < row) sample(x, W, H, out + full, v128.load(rowX + full), v128.load(rowY + full), W & 3, box); // the last W % 4
    fx += <usize>W4 << 2;
    out += row;
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
    prepare(work, W, H, r, sigma, alpha);
    rng_seed(work, seed);
    elasticField(work, W, H, r);
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
  prepare(work, W, H, r, sigma, alpha);
  rng_seed(work, seed);
  elasticField(work, W, H, r);
  const W4 = up4(W);
  const field = fieldAt(work, W, H, r);
  for (let i = 0; i < 2 * H; i++) {
    memory.copy(f + (<usize>(i * W) << 2), field + (<usize>(i * W4) << 2), <usize>W << 2);
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
  if (r > 0) prepare(work, W, H, r, sigma, alpha);
  for (let i = 0; i < B; i++) {
    rng_seed(work, rng_next(s));
    const dx = symmetric(work, shift), dy = symmetric(work, shift);
    const degrees = symmetric(work, rotate);
    const factor = 1.0 + symmetric(work, scale);
    if (r > 0) elasticField(work, W, H, r);
    const img = x + (<usize>(i * D) << 2);
    transform(img, out, work, W, H, dx, dy, degrees, factor, r, r > 0);
    memory.copy(img, out, <usize>D << 2);
  }
}
