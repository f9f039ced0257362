// Pending batches are recorded as ranges: built from any increasing list of batch times, the ranges hold exactly
// those times, count them, and drop one when asked; a 0.1.0 list reads back as the same ranges.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  appendRange,
  appendTime,
  countTimes,
  type MetadataCheckpoint,
  pendingOf,
  type TimeRange,
  withoutTime,
} from "../../src/checkpoint/metadata.js";

const STEP = 1000;

function expand(ranges: readonly TimeRange[]): number[] {
  const out: number[] = [];
  for (const [first, last, step] of ranges) for (let t = first; t <= last; t += step) out.push(t);
  return out;
}

/** Increasing batch times: runs of consecutive batches with gaps between them. */
const times = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 20 })), { maxLength: 20 })
  .map((runs) => {
    const out: number[] = [];
    let t = 0;
    for (const [gap, length] of runs) {
      t += gap * STEP;
      for (let i = 0; i < length; i++, t += STEP) out.push(t);
    }
    return out;
  });

describe("pending batches as ranges", () => {
  it("hold exactly the times appended, one range per run", () => {
    fc.assert(
      fc.property(times, (ts) => {
        const ranges: TimeRange[] = [];
        for (const t of ts) appendTime(ranges, t, STEP);
        expect(expand(ranges)).toEqual(ts);
        expect(countTimes(ranges)).toBe(ts.length);
        for (let i = 1; i < ranges.length; i++)
          expect(ranges[i]![0]).toBeGreaterThan(ranges[i - 1]![1] + STEP);
      }),
    );
  });

  it("drop one time and keep the others", () => {
    fc.assert(
      fc.property(times, fc.nat(), (ts, pick) => {
        const ranges: TimeRange[] = [];
        for (const t of ts) appendTime(ranges, t, STEP);
        const t = ts.length === 0 ? 500 : ts[pick % ts.length]!;
        expect(expand(withoutTime(ranges, t))).toEqual(ts.filter((x) => x !== t));
      }),
    );
  });

  it("merge a range that follows the last one", () => {
    const ranges: TimeRange[] = [[1000, 5000, STEP]];
    appendRange(ranges, 6000, 86_400_000, STEP);
    expect(ranges).toEqual([[1000, 86_400_000, STEP]]);
    appendRange(ranges, 86_402_000, 86_403_000, STEP);
    expect(countTimes(ranges)).toBe(86_400 + 2);
  });

  it("read a 0.1.0 list of pending times as ranges", () => {
    fc.assert(
      fc.property(times, (ts) => {
        const md = { batchDuration: STEP, pendingTimes: ts } as unknown as MetadataCheckpoint;
        expect(expand(pendingOf(md))).toEqual(ts);
      }),
    );
  });
});
