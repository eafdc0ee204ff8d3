// Plain-JS, numerically stable reference kernels over Float32Array, written the way a careful JS user would: the
// softmax family per row a max pass, an exp-sum pass and a scale pass, the other kernels their formula in one or two
// passes; Math.exp / Math.log and sums in double, results stored as float32.
// They are both the "plain JS" column of the benchmark and the reference the other implementations are checked against.

/** max x[r..end). */
function rowMax(x, r, end) {
  let m = -Infinity;
  for (let i = r; i < end; i++) if (x[i] > m) m = x[i];
  return m;
}

/** out[i] = e^(x[i] - m) over [r, end); returns their sum. */
function rowExpSum(x, r, end, m, out) {
  let s = 0;
  for (let i = r; i < end; i++) {
    const e = Math.exp(x[i] - m);
    out[i] = e;
    s += e;
  }
  return s;
}

/** Rows of softmax(x) into out. */
export function softmaxJS(x, cols, out) {
  const n = x.length;
  for (let r = 0; r < n; r += cols) {
    const end = r + cols;
    const s = rowExpSum(x, r, end, rowMax(x, r, end), out);
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
    const m = rowMax(x, r, end);
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
    const m = rowMax(x, r, end);
    const s = rowExpSum(x, r, end, m, grad);
    const label = r + labels[row];
    total += m + Math.log(s) - x[label];
    const k = scale / s;
    for (let i = r; i < end; i++) grad[i] *= k;
    grad[label] -= scale;
  }
  return total * scale;
}

/** dL/dx of y = softmax(x) into out: y * (dy - sum_j dy_j y_j) per row. */
export function softmaxBackwardJS(y, dy, cols, out) {
  const n = y.length;
  for (let r = 0; r < n; r += cols) {
    const end = r + cols;
    let s = 0;
    for (let i = r; i < end; i++) s += dy[i] * y[i];
    for (let i = r; i < end; i++) out[i] = y[i] * (dy[i] - s);
  }
  return out;
}

/** dL/dx of logp = logSoftmax(x) into out: dy - exp(logp) * sum_j dy_j per row. */
export function logSoftmaxBackwardJS(logp, dy, cols, out) {
  const n = logp.length;
  for (let r = 0; r < n; r += cols) {
    const end = r + cols;
    let s = 0;
    for (let i = r; i < end; i++) s += dy[i];
    for (let i = r; i < end; i++) out[i] = dy[i] - Math.exp(logp[i]) * s;
  }
  return out;
}

/**
 * Softmax cross-entropy with probability targets q (rows x cols), reduction 'mean': returns the mean over rows of
 * -sum_c q_c log softmax(x)_c and fills grad with (softmax(x) - q) / rows.
 */
export function crossEntropySoftJS(x, cols, q, grad) {
  const n = x.length;
  const scale = cols / n;
  let total = 0;
  for (let r = 0; r < n; r += cols) {
    const end = r + cols;
    const m = rowMax(x, r, end);
    const s = rowExpSum(x, r, end, m, grad);
    const lse = m + Math.log(s);
    const k = scale / s;
    for (let i = r; i < end; i++) {
      total += q[i] * (lse - x[i]);
      grad[i] = grad[i] * k - q[i] * scale;
    }
  }
  return total * scale;
}

/**
 * Binary cross-entropy on logits z, reduction 'mean' over every element: returns the mean of
 * max(z, 0) - z t + log(1 + e^-|z|) and fills grad with (sigmoid(z) - t) / n.
 */
export function binaryCrossEntropyWithLogitsJS(z, t, grad) {
  const n = z.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = z[i];
    const e = Math.exp(-Math.abs(v));
    total += Math.max(v, 0) - v * t[i] + Math.log1p(e);
    grad[i] = ((v >= 0 ? 1 : e) / (1 + e) - t[i]) / n; // sigmoid(v) from the same e^-|v|
  }
  return total / n;
}

/** sigmoid(x) = 1 / (1 + e^-x) into out. */
export function sigmoidJS(x, out) {
  for (let i = 0; i < x.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]));
  return out;
}

/** The quadratic cost 1/(2 rows) sum over rows of ||a - y||^2; fills grad with (a - y) / rows. */
export function quadraticCostJS(a, y, cols, grad) {
  const n = a.length;
  const scale = cols / n;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const d = a[i] - y[i];
    total += d * d;
    grad[i] = d * scale;
  }
  return 0.5 * total * scale;
}

/** Inverse softmax into out: ln p shifted so that each row averages 0 (p > 0, as the benchmark's softmax rows are). */
export function logitsFromProbsJS(p, cols, out) {
  const n = p.length;
  for (let r = 0; r < n; r += cols) {
    const end = r + cols;
    let s = 0;
    for (let i = r; i < end; i++) {
      const l = Math.log(p[i]);
      out[i] = l;
      s += l;
    }
    const c = s / cols;
    for (let i = r; i < end; i++) out[i] -= c;
  }
  return out;
}
