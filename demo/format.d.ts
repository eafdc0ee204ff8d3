// Types for demo/format.js (used by test/demo.test.ts).
export function probText(p: number, d?: number): string;
export function augmentFlag(a: { shift?: number; rotate?: number; scale?: number; elastic?: { alpha: number; sigma: number } }): string;
