// Number formatting and fixed-width / Markdown tables for the benchmark report.

/** A latency in microseconds with about three significant digits. */
export function fmtUs(us) {
  if (!Number.isFinite(us)) return "-";
  if (us < 1) return us.toFixed(3);
  if (us < 10) return us.toFixed(2);
  if (us < 100) return us.toFixed(1);
  return Math.round(us).toString();
}

/** A throughput in GB/s. */
export function fmtGBps(g) {
  if (!Number.isFinite(g)) return "-";
  if (g < 1) return g.toFixed(3);
  if (g < 10) return g.toFixed(2);
  if (g < 100) return g.toFixed(1);
  return Math.round(g).toString();
}

/** A speedup ratio, e.g. 3.1x. */
export function fmtRatio(r) {
  if (!Number.isFinite(r)) return "-";
  if (r < 10) return `${r.toFixed(2)}x`;
  if (r < 100) return `${r.toFixed(1)}x`;
  return `${Math.round(r)}x`;
}

/** A fraction as a percentage. */
export function fmtPct(f) {
  if (!Number.isFinite(f)) return "-";
  const p = f * 100;
  return p < 10 ? `${p.toFixed(1)}%` : `${Math.round(p)}%`;
}

/**
 * columns: [{ title, align: 'l' | 'r', group?, md? (the Markdown title, else group: title) }]; rows: arrays of strings (same length as columns). Adjacent columns
 * with the same group get one group title on a line above theirs. Returns the table as fixed-width text.
 */
export function textTable(columns, rows) {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => r[i].length)));
  // widen the last column of a group if the group title needs more room than its columns give it
  for (const [start, end] of groupSpans(columns)) {
    const title = columns[start].group;
    const span = widths.slice(start, end).reduce((a, b) => a + b, 0) + 2 * (end - start - 1);
    if (title.length > span) widths[end - 1] += title.length - span;
  }
  const pad = (s, i) => (columns[i].align === "l" ? s.padEnd(widths[i]) : s.padStart(widths[i]));
  const line = (cells) => cells.map(pad).join("  ").trimEnd();
  const out = [];
  const spans = groupSpans(columns);
  if (spans.length > 0) {
    let g = "";
    let col = 0;
    for (const [start, end] of spans) {
      while (col < start) g += " ".repeat(widths[col++] + 2);
      const span = widths.slice(start, end).reduce((a, b) => a + b, 0) + 2 * (end - start - 1);
      const title = columns[start].group;
      const fill = span - title.length;
      g += "-".repeat(Math.floor(fill / 2)) + title + "-".repeat(Math.ceil(fill / 2)) + "  ";
      col = end;
    }
    out.push(g.trimEnd());
  }
  out.push(line(columns.map((c) => c.title)), widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) out.push(line(r));
  return out.join("\n");
}

/** [start, end) of each run of adjacent columns sharing a group. */
function groupSpans(columns) {
  const spans = [];
  for (let i = 0; i < columns.length; i++) {
    if (!columns[i].group) continue;
    let j = i + 1;
    while (j < columns.length && columns[j].group === columns[i].group) j++;
    spans.push([i, j]);
    i = j - 1;
  }
  return spans;
}

/** The same table in Markdown. */
export function markdownTable(columns, rows) {
  const esc = (s) => s.replace(/\|/g, "\\|");
  const out = [
    `| ${columns.map((c) => esc(c.md ?? (c.group ? `${c.group}: ${c.title}` : c.title))).join(" | ")} |`,
    `| ${columns.map((c) => (c.align === "l" ? ":---" : "---:")).join(" | ")} |`,
  ];
  for (const r of rows) out.push(`| ${r.map(esc).join(" | ")} |`);
  return out.join("\n");
}
