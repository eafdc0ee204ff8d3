// The page's text for numbers that must read the same everywhere they appear (and as the command line writes them).

/**
 * A probability as a percentage with d decimals, never rounded to a certainty it is not: "100%" only for 1 and "0%"
 * only for 0, else ">99.9%" / "<0.1%". The digit bars and the top guess both use it, so they always agree.
 * @param {number} p in [0, 1]
 */
export function probText(p, d = 1) {
  if (p === 1 || p === 0) return `${p * 100}%`;
  const text = (p * 100).toFixed(d);
  const step = 10 ** -d;
  if (Number(text) >= 100) return `>${(100 - step).toFixed(d)}%`;
  if (Number(text) <= 0) return `<${step.toFixed(d)}%`;
  return `${text}%`;
}

/**
 * The --augment text of fit's augment option, as the command line writes it: name=value pairs in a fixed order
 * (shift, rotate, scale, elastic=ALPHA:SIGMA), the transforms that are off left out.
 * @param {{ shift?: number, rotate?: number, scale?: number, elastic?: { alpha: number, sigma: number } }} a
 */
export function augmentFlag(a) {
  return [a.shift ? `shift=${a.shift}` : "", a.rotate ? `rotate=${a.rotate}` : "", a.scale ? `scale=${a.scale}` : "",
    a.elastic ? `elastic=${a.elastic.alpha}:${a.elastic.sigma}` : ""].filter(Boolean).join(",");
}
