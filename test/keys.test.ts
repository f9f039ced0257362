import { describe, expect, it } from "vitest";
import { canonicalAll, runOperation } from "./support/harness.js";

describe("keys compare by value", () => {
  it("treats equal arrays and plain objects as one key, whatever their identity or property order", async () => {
    const input: Array<Array<[unknown, number]>> = [
      [
        [["a", 1], 1],
        [["a", 1], 2],
        [{ x: 1, y: [2, 3] }, 10],
        [{ y: [2, 3], x: 1 }, 20],
        [["a", "1"], 100],
      ],
    ];
    const { outputs } = await runOperation(input, (s) => s.reduceByKey((a, b) => a + b));
    expect(canonicalAll(outputs)).toEqual(
      canonicalAll([
        [
          [["a", 1], 3],
          [{ x: 1, y: [2, 3] }, 30],
          [["a", "1"], 100],
        ],
      ]),
    );
  });

  it("keeps 1, '1', 1n and true apart, and puts -0 with 0 and NaN with NaN", async () => {
    const input: Array<Array<[unknown, number]>> = [
      [
        [1, 1],
        ["1", 1],
        [1n, 1],
        [true, 1],
        [0, 1],
        [-0, 1],
        [Number.NaN, 1],
        [Number.NaN, 1],
      ],
    ];
    const { outputs } = await runOperation(input, (s) => s.reduceByKey((a, b) => a + b, 4));
    const got = outputs[0]!;
    expect(got).toHaveLength(6);
    expect(got.find(([k]) => k === 0)?.[1]).toBe(2);
    expect(got.find(([k]) => Number.isNaN(k))?.[1]).toBe(2);
    expect(got.find(([k]) => k === 1n)?.[1]).toBe(1);
  });

  it("joins and keeps state on structured keys across partitions", async () => {
    const input: Array<Array<[[string, number], number]>> = [
      [
        [["u", 1], 1],
        [["u", 2], 1],
      ],
      [[["u", 1], 5]],
    ];
    const { outputs } = await runOperation(
      input,
      (s) =>
        s.updateStateByKey(
          (vs: number[], st: number | undefined) => (st ?? 0) + vs.reduce((a, b) => a + b, 0),
        ),
      { conf: { "spate.default.parallelism": 3 } },
    );
    expect(canonicalAll(outputs)).toEqual(
      canonicalAll([
        [
          [["u", 1], 1],
          [["u", 2], 1],
        ],
        [
          [["u", 1], 6],
          [["u", 2], 1],
        ],
      ]),
    );
  });
});
