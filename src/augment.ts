// fit's `augment` option (issue 10): each training batch's images transformed inside Wasm (assembly/augment.ts) after
// they are gathered, by a random shift, rotation and scale about the centre and Simard's elastic distortion, bilinear,
// from the network's own seeded generator. The caller's x is never touched: the batch buffer is a copy.
import type { Kernels } from "./engine.js";
import type { Dispatch } from "./dispatch.js";
import { atLeast, nonNegative, options, positive } from "./checks.js";

export interface AugmentOptions {
  /** The images' size: width * height must equal the input size, rows of pixels row-major. */
  width: number; height: number;
  /** Translation in pixels, each of dx, dy uniform in [-shift, shift]. */
  shift?: number;
  /** Rotation in degrees, uniform in [-rotate, rotate] (positive: counterclockwise as displayed), at most 180. */
  rotate?: number;
  /** Scale factor uniform in [1 - scale, 1 + scale], scale in [0, 1). */
  scale?: number;
  /**
   * Simard et al.'s (2003) elastic distortion: per pixel a displacement of uniform [-1, 1] values in x and y, smoothed
   * by a Gaussian of standard deviation `sigma` pixels (truncated at ceil(3 sigma), or width + height if smaller, and
   * normalized), times `alpha` pixels. Simard's MNIST values: alpha 34, sigma 4.
   */
  elastic?: { alpha: number; sigma: number };
}

/** The option checked, every default filled in; radius 0: no elastic distortion. */
export interface Augment {
  width: number; height: number; shift: number; rotate: number; scale: number; alpha: number; sigma: number;
  radius: number;
}

/** fit's opts.augment, checked against the network's input size (`inputs`). */
export function resolveAugment(fn: string, v: unknown, inputs: number): Augment {
  const name = "opts.augment";
  const o = object(fn, name, v, ["width", "height", "shift", "rotate", "scale", "elastic"] as const);
  const width = atLeast(fn, `${name}.width`, o.width, 1);
  const height = atLeast(fn, `${name}.height`, o.height, 1);
  if (width * height !== inputs) {
    throw new RangeError(`${fn}: ${name}.width x ${name}.height (${width} x ${height} = ${width * height}) must equal ` +
      `the input size sizes[0] (${inputs})`);
  }
  const shift = nonNegative(fn, `${name}.shift`, o.shift, 0);
  if (shift > Math.max(width, height)) {
    throw new RangeError(`${fn}: ${name}.shift must be at most the image's larger side (${Math.max(width, height)} ` +
      `pixels: further, every pixel moves out), got ${shift}`);
  }
  const rotate = nonNegative(fn, `${name}.rotate`, o.rotate, 0);
  if (rotate > 180) throw new RangeError(`${fn}: ${name}.rotate must be at most 180 (degrees), got ${rotate}`);
  const scale = nonNegative(fn, `${name}.scale`, o.scale, 0);
  if (scale >= 1) throw new RangeError(`${fn}: ${name}.scale must be in [0, 1) (the factor is 1 +- scale), got ${scale}`);
  let alpha = 0, sigma = 0, radius = 0;
  if (o.elastic !== undefined) {
    const eo = object(fn, `${name}.elastic`, o.elastic, ["alpha", "sigma"] as const);
    if (eo.alpha === undefined) throw new TypeError(`${fn}: ${name}.elastic.alpha must be a number, got undefined`);
    alpha = nonNegative(fn, `${name}.elastic.alpha`, eo.alpha, 0);
    sigma = positive(fn, `${name}.elastic.sigma`, eo.sigma);
    radius = Math.min(Math.ceil(3 * sigma), width + height);
  }
  return { width, height, shift, rotate, scale, alpha, sigma, radius };
}

/** A nested options object (required: saying its keys when it is not an object), its keys checked by options(). */
function object<K extends string>(fn: string, name: string, v: unknown, keys: readonly K[]): Partial<Record<K, unknown>> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new TypeError(`${fn}: ${name} must be an object ({ ${keys.join(", ")} })`);
  }
  return options(fn, v, keys, name);
}

/** Whether the option transforms nothing: no shift, rotation, scaling or elastic displacement. */
export function isIdentity(a: Augment): boolean {
  return a.shift === 0 && a.rotate === 0 && a.scale === 0 && a.alpha === 0;
}

/** Bytes of the work buffer augmentBatch needs. */
export function augmentWorkBytes(k: Kernels, a: Augment): number {
  return k.augment_work_floats(a.width, a.height, a.radius) * 4;
}

/**
 * B images at x (B x width * height floats) transformed in place, each drawing one number from the generator at rng;
 * split by images over the pool when there is one (the same bits for any thread count).
 */
export function augmentBatch(d: Dispatch, a: Augment, rng: number, x: number, work: number, B: number): void {
  d.augment_batch(rng, x, work, B, a.width, a.height, a.shift, a.rotate, a.scale, a.alpha, a.sigma, a.radius);
}
