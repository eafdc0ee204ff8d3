// Plain-JS, numerically stable reference kernels over Float32Array, written the way a careful JS user would:
// per row a max pass, an exp-sum pass and a scale pass; Math.exp / Math.log in double, results stored as float32.
// They are both the "plain JS" column of the benchmark and the reference the other implementations are checked against.

/** Rows of softmax(x) into out. */
export function softmaxJS(x, cols, out) {
  const n = x.length;
  for (let r = 0; r < n; r += cols) {
    const end = r + cols;
    let m = -Infinity;
    for (let i = r; i < end; i++) if (x[i] > m) m = x[i];
    let s = 0;
    for (let i = r; i < end; i++) {
      const e = Math.exp(x[i] - m);
      out[i] = e;
      s += e;
    }
    const inv = 1 / s;
    for (let i = r; i < end; i++) out[i] *= inv;
  }
  return out;
}

/** Rows of log softmax(x) = x - max - log(sum exp(x - max)) into out. */
export function logSoftmaxJS(x, cols, out) {
  const n = x.length;
  for (let r = 0; r < n; r += cols) {
    const end = r + cols;
    let m = -Infinity;
    for (let i = r; i < end; i++) if (x[i] > m) m = x[i];
    let s = 0;
    for (let i = r; i < end; i++) s += Math.exp(x[i] - m);
    const lse = m + Math.log(s);
    for (let i = r; i < end; i++) out[i] = x[i] - lse;
  }
  return out;
}

/**
 * Softmax cross-entropy with class-index targets, reduction 'mean': returns the loss and fills grad with
 * (softmax(x) - onehot(label)) / rows.
 */
export function crossEntropyJS(x, cols, labels, grad) {
  const n = x.length;
  const rows = n / cols;
  const scale = 1 / rows;
  let total = 0;
  for (let r = 0, row = 0; r < n; r += cols, row++) {
    const end = r + cols;
    let m = -Infinity;
    for (let i = r; i < end; i++) if (x[i] > m) m = x[i];
    let s = 0;
    for (let i = r; i < end; i++) {
      const e = Math.exp(x[i] - m);
      grad[i] = e;
      s += e;
    }
    const label = r + labels[row];
    total += m + Math.log(s) - x[label];
    const k = scale / s;
    for (let i = r; i < end; i++) grad[i] *= k;
    grad[label] -= scale;
  }
  return total * scale;
}
