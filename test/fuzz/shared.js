// The layout of the runner's shared memory (heartbeat, counters, the current input's description).
export const HB = { index: 0, busy: 1, next: 2, fatal: 3, length: 4, clockAt: 16, textAt: 24, textBytes: 1024 };
export const OUTCOMES = ["accepted", "TypeError", "RangeError", "Error", "AbortError", "other", "failure"];
export const COUNTERS = { at: HB.textAt + HB.textBytes };
export const SHARED_BYTES = COUNTERS.at + 4 * OUTCOMES.length;

/** Writes s (Latin-1, cut to fit) into a shared byte array, its length in the first 2 bytes. */
export function writeText(bytes, s) {
  const n = Math.min(s.length, bytes.length - 2);
  bytes[0] = n & 0xff;
  bytes[1] = n >> 8;
  for (let i = 0; i < n; i++) bytes[2 + i] = s.charCodeAt(i) & 0xff;
}

export function readText(bytes) {
  const n = bytes[0] | (bytes[1] << 8);
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(bytes[2 + i]);
  return s;
}
