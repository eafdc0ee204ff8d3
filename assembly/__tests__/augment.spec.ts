// The augmentation kernels (augment.ts) at shapes that take every path: the identity copy, integer shifts that sample
// exactly (the gathered four-pixel path and the per-lane one at the edges, the zeros stored away from the ink), widths
// and heights that are not multiples of 4, and the elastic field's zero border; guards after every output.
import { augment_image, augment_batch, augment_work_floats, elastic_field } from "../augment";
import { rng_seed } from "../rng";

const GUARD: f32 = 12345.5;
function alloc(n: i32): usize { return heap.alloc(<usize>(n + 8) << 2); }
function at(p: usize, i: i32): f32 { return load<f32>(p + (<usize>i << 2)); }
function guard(p: usize, n: i32): void { for (let i = n; i < n + 8; i++) store<f32>(p + (<usize>i << 2), GUARD); }
function guarded(p: usize, n: i32): bool {
  for (let i = n; i < n + 8; i++) if (at(p, i) != GUARD) return false;
  return true;
}
function image(W: i32, H: i32): usize {
  const p = alloc(W * H);
  for (let i = 0; i < W * H; i++) store<f32>(p + (<usize>i << 2), <f32>(i % 13) * 0.0625 + 0.03125);
  guard(p, W * H);
  return p;
}
function work(W: i32, H: i32, r: i32): usize {
  return (heap.alloc((<usize>augment_work_floats(W, H, r) << 2) + 32) + 15) & ~15;
}

describe("augment_image", () => {
  it("copies the input for the identity, and moves every pixel exactly by an integer shift", () => {
    for (let W = 1; W <= 9; W++) {
      for (let H = 1; H <= 6; H++) {
        const x = image(W, H);
        const y = alloc(W * H);
        guard(y, W * H);
        const w = work(W, H, 0);
        augment_image(x, y, w, W, H, 0, 0, 0, 1, 0, 0, 0, 0);
        for (let i = 0; i < W * H; i++) expect<f32>(at(y, i)).toBe(at(x, i));
        for (let dx = -2; dx <= 2; dx++) {
          for (let dy = -2; dy <= 2; dy++) {
            augment_image(x, y, w, W, H, <f64>dx, <f64>dy, 0, 1, 0, 0, 0, 0);
            for (let oy = 0; oy < H; oy++) {
              for (let ox = 0; ox < W; ox++) {
                const sx = ox - dx, sy = oy - dy;
                const want: f32 = sx >= 0 && sx < W && sy >= 0 && sy < H ? at(x, sy * W + sx) : 0;
                expect<f32>(at(y, oy * W + ox)).toBe(want);
              }
            }
            expect<bool>(guarded(y, W * H)).toBe(true);
          }
        }
      }
    }
  });

  it("moves a lone pixel anywhere by an integer shift: the groups away from it stored as zeros, none written past the end", () => {
    for (let W = 1; W <= 9; W++) {
      for (let H = 1; H <= 6; H++) {
        const x = alloc(W * H);
        const y = alloc(W * H);
        const w = work(W, H, 0);
        for (let ink = 0; ink < W * H; ink += 2) { // the ink at (ink % W, ink / W): corners and edges among them
          for (let i = 0; i < W * H; i++) store<f32>(x + (<usize>i << 2), i == ink ? 0.75 : 0);
          for (let dx = -2; dx <= 2; dx++) {
            for (let dy = -1; dy <= 1; dy++) {
              for (let i = 0; i < W * H; i++) store<f32>(y + (<usize>i << 2), GUARD); // every output written
              guard(y, W * H);
              augment_image(x, y, w, W, H, <f64>dx, <f64>dy, 0, 1, 0, 0, 0, 0);
              for (let oy = 0; oy < H; oy++) {
                for (let ox = 0; ox < W; ox++) {
                  const want: f32 = (oy - dy) * W + (ox - dx) == ink && ox - dx >= 0 && ox - dx < W ? 0.75 : 0;
                  expect<f32>(at(y, oy * W + ox)).toBe(want);
                }
              }
              expect<bool>(guarded(y, W * H)).toBe(true);
            }
          }
        }
      }
    }
  });

  it("a half-pixel shift averages neighbours, and fades to zero over the pixel beyond the edge", () => {
    const W = 6, H = 5;
    const x = image(W, H);
    const y = alloc(W * H);
    augment_image(x, y, work(W, H, 0), W, H, 0.5, 0, 0, 1, 0, 0, 0, 0);
    for (let oy = 0; oy < H; oy++) {
      expect<f32>(at(y, oy * W)).toBe(at(x, oy * W) * 0.5);
      for (let ox = 1; ox < W; ox++) {
        expect<f32>(at(y, oy * W + ox)).toBeCloseTo((at(x, oy * W + ox - 1) + at(x, oy * W + ox)) * 0.5);
      }
    }
  });
});

describe("elastic_field", () => {
  it("is zero for alpha 0, bounded by alpha, and the same for the same seed", () => {
    const W = 11, H = 7, r = 6;
    const f = alloc(2 * W * H);
    const g = alloc(2 * W * H);
    guard(f, 2 * W * H);
    const w = work(W, H, r);
    elastic_field(3, f, w, W, H, 0, 2, r);
    for (let i = 0; i < 2 * W * H; i++) expect<f32>(at(f, i)).toBe(0);
    elastic_field(3, f, w, W, H, 5, 2, r);
    elastic_field(3, g, w, W, H, 5, 2, r);
    let nonzero = 0;
    for (let i = 0; i < 2 * W * H; i++) {
      expect<bool>(Mathf.abs(at(f, i)) <= 5).toBe(true);
      expect<f32>(at(g, i)).toBe(at(f, i));
      if (at(f, i) != 0) nonzero++;
    }
    expect<i32>(nonzero).toBe(2 * W * H);
    expect<bool>(guarded(f, 2 * W * H)).toBe(true);
  });
});

describe("augment_batch", () => {
  it("with every range 0 and no elastic field leaves the batch as it was", () => {
    const W = 5, H = 3, B = 4;
    const x = image(W * B, H); // B images of W x H
    const copy = image(W * B, H);
    const s = heap.alloc(16);
    rng_seed(s, 1);
    augment_batch(s, x, work(W, H, 0), B, W, H, 0, 0, 0, 0, 0, 0);
    for (let i = 0; i < B * W * H; i++) expect<f32>(at(x, i)).toBe(at(copy, i));
    expect<bool>(guarded(x, B * W * H)).toBe(true);
  });
});
