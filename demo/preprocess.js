// A drawing to an MNIST input, the way LeCun, Cortes and Burges normalised the NIST digits: crop to the bounding
// box, scale so the longer side is 20 px (keeping the aspect ratio, with anti-aliasing: every output pixel is the
// area-weighted mean of the input pixels it covers), then paste into a 28 x 28 field so that the centre of mass
// lands on the field's centre. Ink is 255, paper 0, as in the IDX files.

/**
 * @param {Uint8Array} ink  width x height ink coverage, 0..255 (e.g. a canvas's alpha channel)
 * @returns {Uint8Array | null} 784 grey levels, row-major 28 x 28, or null for an empty drawing
 */
export function toMnist(ink, width, height) {
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] === 0) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x1 < 0) return null;
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const scale = 20 / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * scale));
  const th = Math.max(1, Math.round(bh * scale));

  // separable area resampling: rows first (bw -> tw), then columns (bh -> th)
  const rows = new Float64Array(tw * bh);
  for (let y = 0; y < bh; y++) {
    resample1d((i) => ink[(y0 + y) * width + x0 + i], bw, (j, v) => { rows[y * tw + j] += v; }, tw);
  }
  const small = new Float64Array(tw * th);
  for (let x = 0; x < tw; x++) {
    resample1d((i) => rows[i * tw + x], bh, (j, v) => { small[j * tw + x] += v; }, th);
  }

  // centre of mass (pixel centres at i + 0.5), moved to the field's centre (14, 14)
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = small[y * tw + x];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  if (mass === 0) return null;
  const ox = Math.round(14 - mx / mass);
  const oy = Math.round(14 - my / mass);
  const out = new Uint8Array(784);
  for (let y = 0; y < th; y++) {
    const ty = y + oy;
    if (ty < 0 || ty >= 28) continue;
    for (let x = 0; x < tw; x++) {
      const tx = x + ox;
      if (tx < 0 || tx >= 28) continue;
      out[ty * 28 + tx] = Math.min(255, Math.round(small[y * tw + x]));
    }
  }
  return out;
}

/**
 * Resamples n values to m by area: input cell i spans [i, i + 1) * (m / n) in output units, and adds its value
 * times its overlap with each output cell (the overlaps with one output cell sum to 1, so the result is a mean).
 */
function resample1d(get, n, add, m) {
  const k = m / n;
  for (let i = 0; i < n; i++) {
    const v = get(i);
    if (v === 0) continue;
    const a = i * k;
    const b = a + k;
    for (let j = Math.floor(a); j < b && j < m; j++) {
      const overlap = Math.min(b, j + 1) - Math.max(a, j);
      if (overlap > 0) add(j, v * overlap);
    }
  }
}
