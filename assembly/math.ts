// Scalar transcendentals the TypeScript side needs in a result (a learning-rate schedule's cosine): AssemblyScript's
// own Math, compiled into the module, so every engine computes the same bits (the host's Math.cos may differ between
// engines in the last bit).

/** cos(x), f64. */
export function cos_f64(x: f64): f64 {
  return Math.cos(x);
}
