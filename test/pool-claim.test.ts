// A worker's claim of a job against the calling thread's steal (src/threads.ts claimJob): whichever compare-exchange on
// CLAIM lands first runs the job, and a job runs exactly once. The interleavings are set up by hand on a control block.
import { describe, expect, it } from "vitest";
import { claimJob, CTRL_BYTES, CTRL_SLOTS } from "../dist/threads.js";

const { CLAIM, REVOKED } = CTRL_SLOTS;
const block = (claim: number): Int32Array => {
  const i32 = new Int32Array(new SharedArrayBuffer(CTRL_BYTES));
  i32[CLAIM] = claim;
  return i32;
};

describe("a worker's claim of job seq (it last saw seen)", () => {
  it("claims a job nobody took: CLAIM moves to seq", () => {
    const i32 = block(6);
    expect(claimJob(i32, 6, 7)).toBe("claimed");
    expect(i32[CLAIM]).toBe(7);
  });

  it("claims the newest job after sleeping through jobs the caller stole", () => {
    const i32 = block(8); // jobs 7 and 8 stolen while the worker slept; job 9 is posted
    expect(claimJob(i32, 6, 9)).toBe("claimed");
    expect(i32[CLAIM]).toBe(9);
  });

  it("leaves a job the caller stole", () => {
    const i32 = block(7);
    expect(claimJob(i32, 6, 7)).toBe("stolen");
    expect(i32[CLAIM]).toBe(7);
  });

  it("leaves a job when the caller stole it and the next one before the worker's compare-exchange", () => {
    // the worker read SEQ = 7 and was descheduled; the caller stole 7, posted 8 (FN / ARGS now 8's) and stole it too.
    // Claiming 7 here would move CLAIM back and run job 8's arguments a second time.
    const i32 = block(8);
    expect(claimJob(i32, 6, 7)).toBe("stolen");
    expect(i32[CLAIM]).toBe(8);
  });

  it("holds across the wrap of the 32-bit sequence", () => {
    const max = 0x7fffffff, min = -0x80000000;
    const i32 = block(min); // the caller stole max and min (max + 1)
    expect(claimJob(i32, max - 1, max)).toBe("stolen");
    expect(i32[CLAIM]).toBe(min);
    const j32 = block(max);
    expect(claimJob(j32, max, min)).toBe("claimed");
    expect(j32[CLAIM]).toBe(min);
  });

  it("stops at once when the pool has revoked the worker", () => {
    const i32 = block(6);
    i32[REVOKED] = 1;
    expect(claimJob(i32, 6, 7)).toBe("revoked");
    expect(i32[CLAIM]).toBe(6);
  });
});
