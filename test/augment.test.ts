// Data augmentation (issue 10, "Past 99% with a plain MLP"): fit's `augment` option transforms each training batch's
// images inside Wasm after they are gathered: a shift in pixels, a rotation in degrees, a scale factor (about the
// centre of the pixel grid, bilinear, zero outside) and Simard's elastic distortion (uniform [-1, 1] displacements
// smoothed by a Gaussian of sigma, times alpha), drawn from the network's seeded augmentation generator. The kernel is
// checked with explicit transforms (assembly/augment.ts augment_image), the draws and the field by their statistics,
// and fit by what it must keep: the caller's x, determinism, exact resumption, refusals that change nothing.
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ready, Network } from "../dist/index.js";
import { engine, type Engine } from "../dist/engine.js";
import { crc32 } from "../dist/crc32.js";
import { rng } from "./runtimes/workload.js";
import { xoshiro } from "./helpers.js";

beforeAll(async () => {
  await ready();
});

/** One image through augment_image with an explicit transform (no elastic field unless sigma > 0). */
function transformed(e: Engine, img: Float32Array, W: number, H: number,
  t: { dx?: number; dy?: number; degrees?: number; factor?: number; seed?: number; alpha?: number; sigma?: number }): Float32Array {
  const r = t.sigma ? Math.ceil(3 * t.sigma) : 0;
  const mark = e.mark();
  try {
    const x = e.put(img);
    const y = e.alloc(W * H * 4);
    const work = e.alloc(e.k.augment_work_floats(W, H, r) * 4);
    e.k.augment_image(x, y, work, W, H, t.dx ?? 0, t.dy ?? 0, t.degrees ?? 0, t.factor ?? 1, t.seed ?? 0, t.alpha ?? 0,
      t.sigma ?? 0, r);
    return e.f32(y, W * H).slice();
  } finally {
    e.release(mark);
  }
}

/** W x H floats in [0, 1) from a seeded generator. */
function noise(W: number, H: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: W * H }, () => r());
}

/** The centroid (x, y) of an image's values. */
function centroid(v: Float32Array, W: number): [number, number] {
  let s = 0, sx = 0, sy = 0;
  v.forEach((a, i) => { s += a; sx += a * (i % W); sy += a * Math.floor(i / W); });
  return [sx / s, sy / s];
}

/** The normalized Gaussian the kernel smooths with: weights for offsets -r .. r, r = ceil(3 sigma). */
function gaussian(sigma: number): number[] {
  const r = Math.ceil(3 * sigma);
  const g = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const sum = g.reduce((a, b) => a + b, 0);
  return g.map((v) => v / sum);
}

describe("the augmentation kernel, with explicit transforms", () => {
  it("a shift of 2 pixels moves every pixel exactly 2 (bytes equal), and what leaves the image is gone", () => {
    const e = engine("test");
    const [W, H] = [28, 28];
    const img = noise(W, H, 1);
    const right = transformed(e, img, W, H, { dx: 2 });
    const up = transformed(e, img, W, H, { dy: -2 });
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        expect(right[y * W + x]).toBe(x >= 2 ? img[y * W + x - 2] : 0);
        expect(up[y * W + x]).toBe(y < H - 2 ? img[(y + 2) * W + x] : 0);
      }
    }
    // one known pixel: (12, 10) is found at (14, 10), and nowhere else is anything
    const dot = new Float32Array(W * H);
    dot[10 * W + 12] = 0.75;
    const moved = transformed(e, dot, W, H, { dx: 2 });
    expect(moved[10 * W + 14]).toBe(0.75);
    expect(moved.filter((v) => v !== 0).length).toBe(1);
  });

  it("identity parameters give the input's exact bytes (signed zeros and odd values included)", () => {
    const e = engine("test");
    for (const [W, H] of [[28, 28], [5, 3], [1, 7]]) {
      const img = noise(W, H, W + H).map((v, i) => (i % 5 === 0 ? -0 : i % 7 === 0 ? -3e38 : v * 1e-40));
      const out = transformed(e, img, W, H, {});
      expect(Buffer.compare(Buffer.from(out.buffer), Buffer.from(img.buffer))).toBe(0);
    }
  });

  it("a rotation by 90 degrees turns a square image counterclockwise: (x, y) goes to (y, W - 1 - x)", () => {
    const e = engine("test");
    for (const W of [28, 9]) {
      const img = noise(W, W, W);
      const out = transformed(e, img, W, W, { degrees: 90 });
      for (let y = 0; y < W; y++) {
        for (let x = 0; x < W; x++) {
          expect(Math.abs(out[(W - 1 - x) * W + y] - img[y * W + x])).toBeLessThan(1e-6);
        }
      }
      // and -90 is the other way: (x, y) goes to (W - 1 - y, x)
      const back = transformed(e, img, W, W, { degrees: -90 });
      for (let y = 0; y < W; y++) {
        for (let x = 0; x < W; x++) expect(Math.abs(back[x * W + (W - 1 - y)] - img[y * W + x])).toBeLessThan(1e-6);
      }
    }
  });

  it("a scale factor multiplies the distance from the centre, sampling bilinearly between pixels", () => {
    const e = engine("test");
    const [W, H] = [29, 29]; // the centre is pixel (14, 14)
    const img = noise(W, H, 3);
    const out = transformed(e, img, W, H, { factor: 2 });
    // output (14 + 2k, 14) samples the input at (14 + k, 14); odd offsets halfway between two pixels
    for (let k = -7; k <= 7; k++) {
      expect(out[14 * W + 14 + 2 * k]).toBe(img[14 * W + 14 + k]);
      if (k < 7) expect(out[14 * W + 15 + 2 * k]).toBeCloseTo((img[14 * W + 14 + k] + img[14 * W + 15 + k]) / 2, 6);
    }
    // a factor of 1/2 shrinks: output (14 + k, 14) is the input at (14 + 2k, 14), and the edges go dark
    const half = transformed(e, img, W, H, { factor: 0.5 });
    for (let k = -7; k <= 7; k++) expect(half[14 * W + 14 + k]).toBe(img[14 * W + 14 + 2 * k]);
    expect(half[0]).toBe(0);
  });
});

describe("the elastic field", () => {
  it("has mean 0, the standard deviation of a smoothed uniform field, its correlation, and x independent of y", () => {
    // each component is alpha sum_ij w_i w_j u_ij with u uniform in (-1, 1): variance alpha^2 / 3 (sum_k w_k^2)^2, the
    // correlation between neighbours sum_k w_k w_k+1 / sum_k w_k^2 per dimension; far enough from the border
    // (the field is zero outside the image) that the whole kernel lies inside
    const e = engine("test");
    const [W, H, alpha, sigma] = [120, 100, 7, 3];
    const r = Math.ceil(3 * sigma);
    const w = gaussian(sigma);
    const s2 = w.reduce((a, v) => a + v * v, 0);
    const lag1 = w.slice(1).reduce((a, v, i) => a + v * w[i], 0) / s2;
    const wantStd = alpha * Math.sqrt(1 / 3) * s2;
    const mark = e.mark();
    const f = e.alloc(2 * W * H * 4);
    const work = e.alloc(e.k.augment_work_floats(W, H, r) * 4);
    let n = 0, sum = [0, 0], sq = [0, 0], xy = 0, nextX = [0, 0], nextY = [0, 0];
    for (let seed = 1; seed <= 12; seed++) {
      e.k.elastic_field(seed, f, work, W, H, alpha, sigma, r);
      const v = e.f32(f, 2 * W * H).slice();
      for (let y = r; y < H - r - 1; y++) {
        for (let x = r; x < W - r - 1; x++) {
          n++;
          for (const c of [0, 1]) {
            const a = v[c * W * H + y * W + x];
            sum[c] += a;
            sq[c] += a * a;
            nextX[c] += a * v[c * W * H + y * W + x + 1];
            nextY[c] += a * v[c * W * H + (y + 1) * W + x];
          }
          xy += v[y * W + x] * v[W * H + y * W + x];
        }
      }
    }
    e.release(mark);
    for (const c of [0, 1]) {
      const std = Math.sqrt(sq[c] / n);
      expect(Math.abs(sum[c] / n)).toBeLessThan(0.05 * wantStd);
      expect(Math.abs(std / wantStd - 1)).toBeLessThan(0.05);
      expect(Math.abs(nextX[c] / sq[c] - lag1)).toBeLessThan(0.02);
      expect(Math.abs(nextY[c] / sq[c] - lag1)).toBeLessThan(0.02);
    }
    expect(Math.abs(xy / Math.sqrt(sq[0] * sq[1]))).toBeLessThan(0.05);
  });

  it("moves a pixel by the field at its place: the same draw as augment_image's for that seed", () => {
    const e = engine("test");
    const [W, H, alpha, sigma, seed] = [28, 28, 3, 4, 9];
    const r = Math.ceil(3 * sigma);
    const mark = e.mark();
    const f = e.alloc(2 * W * H * 4);
    e.k.elastic_field(seed, f, e.alloc(e.k.augment_work_floats(W, H, r) * 4), W, H, alpha, sigma, r);
    const field = e.f32(f, 2 * W * H).slice();
    e.release(mark);
    // a horizontal ramp img(x, y) = x / 64: the output is the ramp at x + dx(x, y), wherever that stays inside
    const ramp = Float32Array.from({ length: W * H }, (_, i) => (i % W) / 64);
    const out = transformed(e, ramp, W, H, { seed, alpha, sigma });
    let checked = 0;
    for (let i = 0; i < W * H; i++) {
      const sx = (i % W) + field[i], sy = Math.floor(i / W) + field[W * H + i];
      if (sx < 0 || sx > W - 1 || sy < 0 || sy > H - 1) continue;
      expect(Math.abs(out[i] - sx / 64)).toBeLessThan(1e-5);
      checked++;
    }
    expect(checked).toBeGreaterThan(500);
  });
});

// The kernel takes shortcuts that must not change a bit: the Gaussian's passes skip the taps on the zeros outside the
// image, and the transform stores zeros for a group of pixels whose neighbours all lie outside the source's ink box.
// These references take none (f32 arithmetic in the kernel's order, every tap, every pixel sampled).
const f32 = Math.fround;


/**
 * The elastic fields (2, H, W) of `seed`: uniform draws (one 32-bit draw a pixel, x's value from its high half, y's
 * from its low), zero outside the image, the Gaussian of radius r down the columns and then along the rows, each
 * output w0 v + sum over k = 1..r of w_k (v_-k + v_+k) with every tap, the second pass's weights times alpha.
 */
function fieldReference(seed: number, W: number, H: number, alpha: number, sigma: number, r: number): Float32Array {
  const inv = 1 / (2 * sigma * sigma);
  let sum = 1;
  for (let k = 1; k <= r; k++) sum += 2 * Math.exp(-(k * k) * inv);
  const g = Array.from({ length: r + 1 }, (_, k) => (k === 0 ? 1 : Math.exp(-(k * k) * inv)) / sum);
  const w = g.map(f32), aw = g.map((v) => f32(alpha * v));
  const next = xoshiro(seed);
  const u = [new Float32Array(W * H), new Float32Array(W * H)];
  for (let i = 0; i < W * H; i++) {
    const bits = next();
    u[0][i] = ((bits >>> 15) | 1) / 65536 - 1;
    u[1][i] = ((((bits & 0xffff) << 1) | 1)) / 65536 - 1;
  }
  const out = new Float32Array(2 * W * H);
  for (const c of [0, 1]) {
    const at = (v: Float32Array, x: number, y: number) => (x >= 0 && x < W && y >= 0 && y < H ? v[y * W + x] : 0);
    const down = new Float32Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let a = f32(w[0] * u[c][y * W + x]);
        for (let k = 1; k <= r; k++) a = f32(a + f32(w[k] * f32(at(u[c], x, y - k) + at(u[c], x, y + k))));
        down[y * W + x] = a;
      }
    }
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let a = f32(aw[0] * down[y * W + x]);
        for (let k = 1; k <= r; k++) a = f32(a + f32(aw[k] * f32(at(down, x - k, y) + at(down, x + k, y))));
        out[c * W * H + y * W + x] = a;
      }
    }
  }
  return out;
}

/**
 * x transformed with no rotation, pixel by pixel: output (ox, oy) samples x bilinearly (zero outside) at
 * c + (p - c - (dx, dy)) / factor + field(p), in f32 in the kernel's order (its rows computed as in groups of 4).
 */
function transformReference(x: Float32Array, W: number, H: number, dx: number, dy: number, factor: number,
  field?: Float32Array): Float32Array {
  const c = f32(1 / factor);
  const cx = (W - 1) * 0.5, cy = (H - 1) * 0.5;
  const at = (px: number, py: number) => (px >= 0 && px < W && py >= 0 && py < H ? x[py * W + px] : 0);
  const out = new Float32Array(W * H);
  for (let oy = 0; oy < H; oy++) {
    const ry = f32(f32((oy & ~3) - cy - dy) + (oy & 3));
    for (let ox = 0; ox < W; ox++) {
      const rx = f32(ox - cx - dx);
      let sx = f32(f32(cx) + f32(c * rx)), sy = f32(f32(cy) + f32(c * ry)); // the rotation's sine terms are 0
      if (field) {
        sx = f32(sx + field[oy * W + ox]);
        sy = f32(sy + field[W * H + oy * W + ox]);
      }
      if (!(sx > -1 && sx < W && sy > -1 && sy < H)) continue; // +0
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const ax = f32(sx - x0), ay = f32(sy - y0), bx = f32(1 - ax);
      const top = f32(f32(bx * at(x0, y0)) + f32(ax * at(x0 + 1, y0)));
      const bottom = f32(f32(bx * at(x0, y0 + 1)) + f32(ax * at(x0 + 1, y0 + 1)));
      out[oy * W + ox] = f32(f32(f32(1 - ay) * top) + f32(ay * bottom));
    }
  }
  return out;
}

/** The elastic fields elastic_field draws for `seed` (2, H, W). */
function fieldOf(e: Engine, seed: number, W: number, H: number, alpha: number, sigma: number, r: number): Float32Array {
  const mark = e.mark();
  try {
    const f = e.alloc(2 * W * H * 4);
    e.k.elastic_field(seed, f, e.alloc(e.k.augment_work_floats(W, H, r) * 4), W, H, alpha, sigma, r);
    return e.f32(f, 2 * W * H).slice();
  } finally {
    e.release(mark);
  }
}

const bytesOf = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

describe("the kernel's shortcuts give the bytes of the plain computation", () => {
  it("the elastic field equals every-tap Gaussian passes over the drawn field (radius beyond the image too)", () => {
    const e = engine("test");
    for (const [W, H, alpha, sigma] of [[28, 28, 34, 4], [11, 7, 5, 2], [16, 4, 3, 1], [5, 3, 2, 3], [1, 1, 1, 1], [30, 9, 8, 1.7]]) {
      const r = Math.min(Math.ceil(3 * sigma), W + H);
      for (const seed of [1, 0xdeadbeef]) {
        expect(bytesOf(fieldOf(e, seed, W, H, alpha, sigma, r)).equals(bytesOf(fieldReference(seed, W, H, alpha, sigma, r))),
          `${W} x ${H}, sigma ${sigma}, seed ${seed}`).toBe(true);
      }
    }
  });

  it("ink at an edge or a corner, shifted, scaled and distorted: every pixel as the reference samples it", () => {
    const e = engine("test");
    // each image's ink: a corner block, the last column, the last pixel, a block of -0 (ink: it samples to -0) with
    // one pixel beside, nothing at all, noise everywhere
    const inks: [string, (x: number, y: number, W: number, H: number) => number][] = [
      ["top-left corner", (x, y) => (x < 3 && y < 3 ? 0.25 + 0.125 * x + 0.0625 * y : 0)],
      ["last column", (x, y, W) => (x === W - 1 ? 0.5 + 0.01 * y : 0)],
      ["last pixel", (x, y, W, H) => (x === W - 1 && y === H - 1 ? 1 : 0)],
      ["-0 block", (x, y, W) => (x === W >> 1 && y === 1 ? 0.75 : x < 2 && y >= 1 && y < 3 ? -0 : 0)],
      ["none", () => 0],
      ["noise", (x, y) => ((x * 7 + y * 13) % 11) / 11],
    ];
    const transforms = [
      { dx: 0.37, dy: -1.6, factor: 1 },
      { dx: -2.25, dy: 0.8, factor: 0.8 },
      { dx: 1.5, dy: 0, factor: 1.3 },
      { dx: -0.6, dy: 2.4, factor: 1.1, seed: 7, alpha: 3, sigma: 1.5 },
      { dx: 0, dy: 0, factor: 1, seed: 11, alpha: 6, sigma: 1 },
    ];
    let zeros = 0;
    for (const [W, H] of [[28, 28], [13, 7], [16, 4], [5, 9], [1, 6], [30, 3]]) {
      for (const [name, ink] of inks) {
        const img = Float32Array.from({ length: W * H }, (_, i) => ink(i % W, Math.floor(i / W), W, H));
        for (const t of transforms) {
          const r = t.sigma ? Math.min(Math.ceil(3 * t.sigma), W + H) : 0;
          const field = t.sigma ? fieldOf(e, t.seed!, W, H, t.alpha!, t.sigma, r) : undefined;
          const out = transformed(e, img, W, H, t);
          const want = transformReference(img, W, H, t.dx, t.dy, t.factor, field);
          expect(bytesOf(out).equals(bytesOf(want)), `${W} x ${H}, ${name}, ${JSON.stringify(t)}`).toBe(true);
          zeros += out.filter((v) => v === 0).length;
        }
      }
    }
    expect(zeros).toBeGreaterThan(1000); // the skipped groups were there to skip
  });
});

describe("augment_batch: one transform an image, from the generator", () => {
  it("draws each image's shift uniformly in [-shift, shift] and angle in [-rotate, rotate], image by image", () => {
    const e = engine("test");
    const [W, H, B] = [33, 33, 400]; // centre (16, 16)
    const mark = e.mark();
    const s = e.alloc(16);
    e.k.rng_seed(s, 5);
    const dot = new Float32Array(W * H);
    dot[16 * W + 16] = 1; // the centre: only the shift moves it
    const batch = new Float32Array(B * W * H);
    for (let i = 0; i < B; i++) batch.set(dot, i * W * H);
    const x = e.put(batch);
    const work = e.alloc(e.k.augment_work_floats(W, H, 0) * 4);
    e.k.augment_batch(s, x, work, B, W, H, 3, 0, 0, 0, 0, 0);
    const shifts = Array.from({ length: B }, (_, i) => centroid(e.f32(x + i * W * H * 4, W * H).slice(), W));
    const dxs = shifts.map(([cx]) => cx - 16);
    const dys = shifts.map(([, cy]) => cy - 16);
    for (const d of [...dxs, ...dys]) expect(Math.abs(d)).toBeLessThanOrEqual(3 + 1e-5);
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    // uniform on [-3, 3]: mean 0 (sd 3 / sqrt(3 B)), variance 3
    expect(Math.abs(mean(dxs))).toBeLessThan(4 * Math.sqrt(3 / B));
    expect(Math.abs(mean(dxs.map((d) => d * d)) - 3)).toBeLessThan(0.5);
    expect(new Set(dxs).size).toBe(B); // every image its own draw
    // a pixel 8 to the right of the centre turns about it by an angle in [-30, 30] degrees, counterclockwise positive
    const off = new Float32Array(W * H);
    off[16 * W + 24] = 1;
    for (let i = 0; i < B; i++) batch.set(off, i * W * H);
    e.write(x, batch);
    e.k.augment_batch(s, x, work, B, W, H, 0, 30, 0, 0, 0, 0);
    const angles = Array.from({ length: B }, (_, i) => {
      const [cx, cy] = centroid(e.f32(x + i * W * H * 4, W * H).slice(), W);
      return Math.atan2(16 - cy, cx - 16) * 180 / Math.PI;
    });
    for (const a of angles) expect(Math.abs(a)).toBeLessThanOrEqual(30.5); // bilinear blur moves a centroid slightly
    expect(Math.max(...angles)).toBeGreaterThan(25);
    expect(Math.min(...angles)).toBeLessThan(-25);
    e.release(mark);
  });
});

describe("augment_batch on the thread pool", () => {
  it("splits a batch by images with the one-thread bytes and generator state for 1, 2 and 3 threads", async () => {
    const [W, H] = [28, 28];
    const ref = engine("test");
    /** B images through a dispatcher's augment_batch from generator seed 3: the images and the generator after. */
    const run = (e: Engine, augment: Engine["d"]["augment_batch"], B: number) => {
      const mark = e.mark();
      try {
        const s = e.alloc(16);
        e.k.rng_seed(s, 3);
        const x = e.put(Float32Array.from({ length: B }, (_, i) => noise(W, H, 40 + i)).reduce((all, img, i) => {
          all.set(img, i * W * H);
          return all;
        }, new Float32Array(B * W * H)));
        const work = e.alloc(e.k.augment_work_floats(W, H, 12) * 4);
        augment(s, x, work, B, W, H, 2, 10, 0.1, 34, 4, 12); // train:best's recipe: sigma 4, radius 12
        return { images: e.bytes(x, B * W * H * 4), state: e.bytes(s, 16) };
      } finally {
        e.release(mark);
      }
    };
    const sizes = [1, 2, 7, 64];
    const want = sizes.map((B) => run(ref, ref.k.augment_batch, B));
    for (const threads of [2, 3]) {
      vi.resetModules();
      const lib = await import("../dist/index.js");
      const { engine: own } = await import("../dist/engine.js");
      await lib.ready({ threads });
      const e = own("test");
      expect(e.pool?.size).toBe(threads);
      try {
        sizes.forEach((B, i) => {
          const got = run(e, e.d.augment_batch.bind(e.d), B);
          expect(crc32(got.images), `${threads} threads, ${B} images`).toBe(crc32(want[i].images));
          expect(got.state, `${threads} threads, ${B} images`).toEqual(want[i].state);
        });
      } finally {
        e.pool!.close();
      }
    }
  }, 30_000);
});

describe("Network.fit with augment", () => {
  const [W, H] = [8, 8];
  function data(rows: number, seed: number) {
    const r = rng(seed);
    const x = Uint8Array.from({ length: rows * W * H }, () => (r() < 0.6 ? 0 : Math.floor(r() * 256)));
    const labels = Uint8Array.from({ length: rows }, (_, i) => (i * 7 + seed) % 4);
    return { x, labels };
  }
  const fit = { epochs: 2, batchSize: 8, optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 } } as const;
  const augment = { width: W, height: H, shift: 1.5, rotate: 12, scale: 0.1, elastic: { alpha: 2, sigma: 1.5 } };

  it("trains on transformed images, never touching the caller's x; the same seed gives the same bytes", async () => {
    const { x, labels } = data(48, 1);
    const floats = Float32Array.from(x, (v) => v / 255);
    const [xCopy, fCopy] = [x.slice(), floats.slice()];
    const a = new Network({ sizes: [64, 16, 4], seed: 3 });
    const b = new Network({ sizes: [64, 16, 4], seed: 3 });
    const plain = new Network({ sizes: [64, 16, 4], seed: 3 });
    const c = new Network({ sizes: [64, 16, 4], seed: 3 });
    await a.fit(x, labels, { ...fit, augment });
    await b.fit(x, labels, { ...fit, augment });
    await c.fit(floats, labels, { ...fit, augment });
    await plain.fit(x, labels, fit);
    expect(Buffer.compare(Buffer.from(x), Buffer.from(xCopy))).toBe(0);
    expect(Buffer.compare(Buffer.from(floats.buffer), Buffer.from(fCopy.buffer))).toBe(0);
    expect(Buffer.compare(Buffer.from(a.save()), Buffer.from(b.save()))).toBe(0);
    expect(Array.from(a.parameters())).not.toEqual(Array.from(plain.parameters()));
    for (const n of [a, b, c, plain]) n.dispose();
  });

  it("identity parameters (no shift, rotation, scale or elastic) train to the bytes of no augmentation, save() too", async () => {
    const { x, labels } = data(40, 2);
    const b = new Network({ sizes: [64, 10, 4], seed: 4, dropout: 0.2 });
    await b.fit(x, labels, fit);
    for (const identity of [{ width: 16, height: 4, shift: 0, rotate: 0, scale: 0 }, { width: 16, height: 4 },
      { width: 16, height: 4, elastic: { alpha: 0, sigma: 3 } }]) {
      const a = new Network({ sizes: [64, 10, 4], seed: 4, dropout: 0.2 });
      await a.fit(x, labels, { ...fit, augment: identity });
      expect(Buffer.compare(Buffer.from(a.parameters().buffer), Buffer.from(b.parameters().buffer))).toBe(0);
      // the augmentation generator drew nothing either: the whole file is the plain fit's
      expect(Buffer.compare(Buffer.from(a.save()), Buffer.from(b.save()))).toBe(0);
      a.dispose();
    }
    b.dispose();
  });

  it("a save mid-run with dropout and augmentation resumes to the bytes of a straight run (its generator is saved)", async () => {
    const { x, labels } = data(64, 3);
    const opts = { sizes: [64, 12, 4], seed: 6, dropout: 0.3, inputDropout: 0.1 };
    const straight = new Network(opts);
    await straight.fit(x, labels, { ...fit, epochs: 3, augment });
    const first = new Network(opts);
    await first.fit(x, labels, { ...fit, epochs: 1, augment });
    const resumed = Network.load(first.save());
    await resumed.fit(x, labels, { ...fit, epochs: 2, augment });
    expect(Buffer.compare(Buffer.from(resumed.save()), Buffer.from(straight.save()))).toBe(0);
    for (const n of [straight, first, resumed]) n.dispose();
  });

  it("refuses a file whose augmentation generator state is all zero (xoshiro never leaves it)", () => {
    const net = new Network({ sizes: [6, 5, 3], seed: 1 });
    const bytes = net.save();
    net.dispose();
    const L = 2;
    const at = 16 + 4 * (L + 1) + 4 + 8 + 16 + 16 + 44 + 16; // after the dropout generator
    const b = bytes.slice();
    b.fill(0, at, at + 16);
    const dv = new DataView(b.buffer);
    dv.setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
    expect(() => Network.load(b)).toThrow(/Network\.load: corrupted state: the augmentation generator's state is all zero/);
  });

  it.each([
    [{ width: 8, height: 7 }, RangeError, "Network.fit: opts.augment.width x opts.augment.height (8 x 7 = 56) must equal the input size sizes[0] (64)"],
    [{ width: 64 }, TypeError, "Network.fit: opts.augment.height must be a number, got undefined"],
    [{ width: 8, height: 8, elastic: { alpha: 30, sigma: 0 } }, RangeError, "Network.fit: opts.augment.elastic.sigma must be a positive finite number, got 0"],
    [{ width: 8, height: 8, elastic: { alpha: 30, sigma: -1 } }, RangeError, "Network.fit: opts.augment.elastic.sigma must be a positive finite number, got -1"],
    [{ width: 8, height: 8, elastic: { alpha: 30, sigma: NaN } }, RangeError, "Network.fit: opts.augment.elastic.sigma must be a positive finite number, got NaN"],
    [{ width: 8, height: 8, elastic: { alpha: 30 } }, TypeError, "Network.fit: opts.augment.elastic.sigma must be a number, got undefined"],
    [{ width: 8, height: 8, elastic: { sigma: 4 } }, TypeError, "Network.fit: opts.augment.elastic.alpha must be a number, got undefined"],
    [{ width: 8, height: 8, elastic: { alpha: -1, sigma: 4 } }, RangeError, "Network.fit: opts.augment.elastic.alpha must be a finite number >= 0, got -1"],
    [{ width: 8, height: 8, elastic: 4 }, TypeError, "Network.fit: opts.augment.elastic must be an object ({ alpha, sigma })"],
    [{ width: 8, height: 8, shift: -1 }, RangeError, "Network.fit: opts.augment.shift must be a finite number >= 0, got -1"],
    [{ width: 8, height: 8, shift: 8.5 }, RangeError, "Network.fit: opts.augment.shift must be at most the image's larger side (8 pixels: further, every pixel moves out), got 8.5"],
    [{ width: 8, height: 8, rotate: 200 }, RangeError, "Network.fit: opts.augment.rotate must be at most 180 (degrees), got 200"],
    [{ width: 8, height: 8, scale: 1 }, RangeError, "Network.fit: opts.augment.scale must be in [0, 1) (the factor is 1 +- scale), got 1"],
    [{ width: 8, height: 8, shfit: 2 }, TypeError, "Network.fit: unknown option opts.augment.shfit (expected one of width, height, shift, rotate, scale, elastic)"],
    [28, TypeError, "Network.fit: opts.augment must be an object ({ width, height, shift, rotate, scale, elastic })"],
  ])("refuses augment %o by name, and leaves the network as it was", async (bad, type, message) => {
    const { x, labels } = data(24, 4);
    const net = new Network({ sizes: [64, 6, 4], seed: 8 });
    const before = net.save();
    const top = engine("test").mark();
    await expect(net.fit(x, labels, { ...fit, augment: bad as never })).rejects.toThrow(new type(message));
    expect(engine("test").mark()).toBe(top);
    expect(Buffer.compare(Buffer.from(net.save()), Buffer.from(before))).toBe(0);
    net.dispose();
  });
});
