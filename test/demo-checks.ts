// The demo page's layout checks, as plain functions that run inside the page (page.evaluate in playwright-core or
// puppeteer-core, any browser): each takes JSON-able arguments, uses only the DOM, and returns JSON-able findings.
// No closures over test code and no imports, since a driver sends only the function's source.

/**
 * Elements that reach past the viewport's left or right edge (by more than half a pixel), and the document's own
 * horizontal overflow. An element inside a box that clips or scrolls horizontally (overflow-x not visible) is judged
 * by that box instead, and elements that are not rendered (display: none, zero size) are skipped.
 */
export function overflowingElements(): { viewport: number; scrollWidth: number; elements: string[] } {
  const viewport = document.documentElement.clientWidth;
  const clipped = (el: Element): boolean => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return true;
    }
    return false;
  };
  const elements: string[] = [];
  for (const el of Array.from(document.body.querySelectorAll("*"))) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right <= viewport + 0.5 && r.left >= -0.5) continue;
    if (clipped(el)) continue;
    const id = el.id ? `#${el.id}` : "";
    const cls = typeof el.className === "string" && el.className ? `.${el.className.trim().split(/\s+/).join(".")}` : "";
    elements.push(`${el.tagName.toLowerCase()}${id}${cls}: left ${Math.round(r.left)}, right ${Math.round(r.right)}, ` +
      `width ${Math.round(r.width)}`);
  }
  return { viewport, scrollWidth: document.documentElement.scrollWidth, elements };
}

/** Computed font sizes of the page's key text, by selector: the top guess (42 px), stat values (19 px), controls. */
export function fontSizes(): Record<string, string> {
  const size = (sel: string) => {
    const el = document.querySelector(sel);
    return el ? getComputedStyle(el).fontSize : "missing";
  };
  return {
    "#guess": size("#guess"), "#st-state": size("#st-state"), "#btn-start": size("#btn-start"),
    "#hp-lr": size("#hp-lr"), "#hp-activation": size("#hp-activation"),
  };
}

/**
 * The charts', the strip's and the pad's text alternatives: each must be role="img" with a non-empty aria-label
 * (a uPlot canvas says nothing to a screen reader by itself).
 */
export function textAlternatives(): Record<string, { role: string | null; label: string | null }> {
  const out: Record<string, { role: string | null; label: string | null }> = {};
  for (const id of ["chart-batch", "chart-epoch", "chart-slowdown", "strip", "pad"]) {
    const el = document.getElementById(id);
    out[id] = { role: el?.getAttribute("role") ?? null, label: el?.getAttribute("aria-label") ?? null };
  }
  return out;
}

/**
 * Where the header's badges sit: each one's offset from the first badge's top (all 0: one line), and whether they
 * share the brand's line (at 1280 px they must, before and after MNIST loads, rather than jumping to a line below).
 */
export function badgeRows(): { offsets: number[]; besideBrand: boolean } {
  const tops = Array.from(document.querySelectorAll(".badges .badge")).map((el) => Math.round(el.getBoundingClientRect().top));
  const brand = document.querySelector(".brand")!.getBoundingClientRect();
  return { offsets: tops.map((t) => t - tops[0]), besideBrand: tops[0] < brand.bottom };
}

/** The drawing pad's horizontal centring in its card: the gap left of it minus the gap right of it, in px. */
export function padOffCentre(): number {
  const pad = document.getElementById("pad")!.getBoundingClientRect();
  const card = document.getElementById("draw")!;
  const c = card.getBoundingClientRect();
  const style = getComputedStyle(card);
  const left = pad.left - (c.left + parseFloat(style.paddingLeft) + parseFloat(style.borderLeftWidth));
  const right = c.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth) - pad.right;
  return left - right;
}

/** The probabilities the page shows for the drawn digit: the guess's text and its bar's, which must agree. */
export function guessTexts(): { guess: string; conf: string; bar: string; p: number } {
  const guess = document.getElementById("guess")!.textContent!;
  const top = document.querySelector(`#digit-bars .barrow[data-index="${guess}"]`) as HTMLElement;
  return {
    guess, conf: document.getElementById("guess-conf")!.textContent!, bar: top.querySelector(".num")!.textContent!,
    p: Number(top.dataset.p),
  };
}

/** A form field's validity as the browser reports it, and whether the page's error banner is shown. */
export function fieldState(id: string): { valid: boolean; message: string; banner: boolean } {
  const el = document.getElementById(id) as HTMLInputElement;
  return { valid: el.validity.valid, message: el.validationMessage, banner: !document.getElementById("errors")!.hidden };
}

/** The errors the page itself reported (its banner's list, and window.__demo.errors). */
export function pageErrors(): string[] {
  const listed = Array.from(document.querySelectorAll("#errors-list li")).map((li) => li.textContent ?? "");
  const hook = ((window as any).__demo?.errors ?? []).map((e: { context: string; message: string }) => `${e.context}: ${e.message}`);
  return [...listed, ...hook];
}
