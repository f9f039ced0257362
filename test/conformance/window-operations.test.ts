// Apache Spark's WindowOperationsSuite (streaming/src/test/scala/org/apache/spark/streaming/WindowOperationsSuite.scala),
// ported case by case: the same inputs and expected outputs, run against spate. Each `it` is named after the Spark
// test it ports. As in Spark, batches are 1 s, every case runs `expected.length * slide / batch` batches, and each
// output batch is compared ignoring the order inside it (here as a multiset). Spark's TestSuiteBase feeds every
// batch as 2 partitions; `spate.default.parallelism: 2` does the same.
//
// Not ported, and why:
// - "window - persistence level": it checks Spark's StorageLevels of a windowed stream and its parent, an internal
//   of Spark's block manager that spate has no counterpart of.
// (The suite has no case of its own for reduceByWindow; spate's reduceByWindow is covered by
// test/property/windows.property.test.ts.)
import { describe, it } from "vitest";
import { expectBatches } from "../support/conformance.js";
import { runCaseOperation } from "../support/harness.js";

const BATCH = 1000;
const Seconds = (n: number) => n * BATCH;
const conf = { "spate.default.parallelism": 2 };

type KV = [string, number];

/** Spark's testOperation with numBatches = expected.size * (slide / batch), compared with useSet = true. */
async function check<I, O>(
  input: I[][],
  name: string,
  expected: O[][],
  slide: number,
  params?: number[],
): Promise<void> {
  const out = await runCaseOperation<O>(CASES, name, [input], {
    conf,
    numBatches: expected.length * (slide / BATCH),
    ...(params && { params }),
  });
  expectBatches(out.outputs, expected);
}

/** The graphs of the cases, by name (a module a worker thread can import to rebuild them). */
const CASES = new URL("./cases/window-operations.ts", import.meta.url).href;

const largerSlideInput: KV[][] = [
  [["a", 1]],
  [["a", 2]], // 1st window from here
  [["a", 3]],
  [["a", 4]], // 2nd window from here
  [["a", 5]],
  [["a", 6]], // 3rd window from here
  [],
  [], // 4th window from here
];

const largerSlideReduceOutput: KV[][] = [[["a", 3]], [["a", 10]], [["a", 18]], [["a", 11]]];

const bigInput: KV[][] = [
  [["a", 1]],
  [
    ["a", 1],
    ["b", 1],
  ],
  [
    ["a", 1],
    ["b", 1],
    ["c", 1],
  ],
  [
    ["a", 1],
    ["b", 1],
  ],
  [["a", 1]],
  [],
  [["a", 1]],
  [
    ["a", 1],
    ["b", 1],
  ],
  [
    ["a", 1],
    ["b", 1],
    ["c", 1],
  ],
  [
    ["a", 1],
    ["b", 1],
  ],
  [["a", 1]],
  [],
];

const bigGroupByOutput: Array<Array<[string, number[]]>> = [
  [["a", [1]]],
  [
    ["a", [1, 1]],
    ["b", [1]],
  ],
  [
    ["a", [1, 1]],
    ["b", [1, 1]],
    ["c", [1]],
  ],
  [
    ["a", [1, 1]],
    ["b", [1, 1]],
    ["c", [1]],
  ],
  [
    ["a", [1, 1]],
    ["b", [1]],
  ],
  [["a", [1]]],
  [["a", [1]]],
  [
    ["a", [1, 1]],
    ["b", [1]],
  ],
  [
    ["a", [1, 1]],
    ["b", [1, 1]],
    ["c", [1]],
  ],
  [
    ["a", [1, 1]],
    ["b", [1, 1]],
    ["c", [1]],
  ],
  [
    ["a", [1, 1]],
    ["b", [1]],
  ],
  [["a", [1]]],
];

const bigReduceOutput: KV[][] = [
  [["a", 1]],
  [
    ["a", 2],
    ["b", 1],
  ],
  [
    ["a", 2],
    ["b", 2],
    ["c", 1],
  ],
  [
    ["a", 2],
    ["b", 2],
    ["c", 1],
  ],
  [
    ["a", 2],
    ["b", 1],
  ],
  [["a", 1]],
  [["a", 1]],
  [
    ["a", 2],
    ["b", 1],
  ],
  [
    ["a", 2],
    ["b", 2],
    ["c", 1],
  ],
  [
    ["a", 2],
    ["b", 2],
    ["c", 1],
  ],
  [
    ["a", 2],
    ["b", 1],
  ],
  [["a", 1]],
];

// With an inverse function but no filter function, keys whose value falls to 0 stay in the window (Spark's
// ReducedWindowedDStream eliminates none), so this differs from bigReduceOutput.
const bigReduceInvOutput: KV[][] = [
  [["a", 1]],
  [
    ["a", 2],
    ["b", 1],
  ],
  [
    ["a", 2],
    ["b", 2],
    ["c", 1],
  ],
  [
    ["a", 2],
    ["b", 2],
    ["c", 1],
  ],
  [
    ["a", 2],
    ["b", 1],
    ["c", 0],
  ],
  [
    ["a", 1],
    ["b", 0],
    ["c", 0],
  ],
  [
    ["a", 1],
    ["b", 0],
    ["c", 0],
  ],
  [
    ["a", 2],
    ["b", 1],
    ["c", 0],
  ],
  [
    ["a", 2],
    ["b", 2],
    ["c", 1],
  ],
  [
    ["a", 2],
    ["b", 2],
    ["c", 1],
  ],
  [
    ["a", 2],
    ["b", 1],
    ["c", 0],
  ],
  [
    ["a", 1],
    ["b", 0],
    ["c", 0],
  ],
];

const digits = [[0], [1], [2], [3], [4], [5]];

interface Case<I, O> {
  name: string;
  input: I[][];
  expected: O[][];
  window?: number;
  slide?: number;
}

const windowCases: Case<number, number>[] = [
  { name: "basic window", input: digits, expected: [[0], [0, 1], [1, 2], [2, 3], [3, 4], [4, 5]] },
  {
    name: "tumbling window",
    input: digits,
    expected: [
      [0, 1],
      [2, 3],
      [4, 5],
    ],
    window: Seconds(2),
    slide: Seconds(2),
  },
  {
    name: "larger window",
    input: digits,
    expected: [
      [0, 1],
      [0, 1, 2, 3],
      [2, 3, 4, 5],
      [4, 5],
    ],
    window: Seconds(4),
    slide: Seconds(2),
  },
  {
    name: "non-overlapping window",
    input: digits,
    expected: [
      [1, 2],
      [4, 5],
    ],
    window: Seconds(2),
    slide: Seconds(3),
  },
];

const reduceCases = (keyRemovedLast: KV[], bigOutput: KV[][]): Case<KV, KV>[] => [
  {
    name: "basic reduction",
    input: [
      [
        ["a", 1],
        ["a", 3],
      ],
    ],
    expected: [[["a", 4]]],
  },
  {
    name: "key already in window and new value added into window",
    input: [[["a", 1]], [["a", 1]]],
    expected: [[["a", 1]], [["a", 2]]],
  },
  {
    name: "new key added into window",
    input: [
      [["a", 1]],
      [
        ["a", 1],
        ["b", 1],
      ],
    ],
    expected: [
      [["a", 1]],
      [
        ["a", 2],
        ["b", 1],
      ],
    ],
  },
  {
    name: "key removed from window",
    input: [[["a", 1]], [["a", 1]], [], []],
    expected: [[["a", 1]], [["a", 2]], [["a", 1]], keyRemovedLast],
  },
  {
    name: "larger slide time",
    input: largerSlideInput,
    expected: largerSlideReduceOutput,
    window: Seconds(4),
    slide: Seconds(2),
  },
  { name: "big test", input: bigInput, expected: bigOutput },
];

describe("WindowOperationsSuite", () => {
  for (const c of windowCases) {
    it(`window - ${c.name}`, async () => {
      const window = c.window ?? Seconds(2);
      const slide = c.slide ?? Seconds(1);
      await check(c.input, "window", c.expected, slide, [window, slide]);
    });
  }

  // Naive reduceByKeyAndWindow (without an inverse function): a key whose values all left the window disappears.
  for (const c of reduceCases([], bigReduceOutput)) {
    it(`reduceByKeyAndWindow - ${c.name}`, async () => {
      const window = c.window ?? Seconds(2);
      const slide = c.slide ?? Seconds(1);
      await check(c.input, "reduceByKeyAndWindow", c.expected, slide, [window, slide]);
    });
  }

  // With an inverse function: "key removed from window" ends with ("a", 0), since no key is eliminated.
  for (const c of reduceCases([["a", 0]], bigReduceInvOutput)) {
    it(`reduceByKeyAndWindow with inverse function - ${c.name}`, async () => {
      const window = c.window ?? Seconds(2);
      const slide = c.slide ?? Seconds(1);
      await check(c.input, "reduceByKeyAndWindow with inverse function", c.expected, slide, [window, slide]);
    });
  }

  it("reduceByKeyAndWindow with inverse and filter functions - big test", async () => {
    await check(
      bigInput,
      "reduceByKeyAndWindow with inverse and filter functions - big test",
      bigReduceOutput,
      Seconds(1),
    );
  });

  it("groupByKeyAndWindow", async () => {
    // Spark compares each group as a Set (`x._2.toSet`), which ignores how often a value occurs; here each group is
    // compared as a multiset against the suite's bigGroupByOutput (values sorted), which is stricter.
    const bySortedValues = (batches: Array<Array<[string, number[]]>>) =>
      batches.map((b) => b.map(([k, vs]) => [k, [...vs].sort((x, y) => x - y)] as [string, number[]]));
    await check(bigInput, "groupByKeyAndWindow", bySortedValues(bigGroupByOutput), Seconds(1));
  });

  it("countByWindow", async () => {
    await check([[1], [1], [1, 2], [0], [], []], "countByWindow", [[1], [2], [3], [3], [1], [0]], Seconds(1));
  });

  it("countByValueAndWindow", async () => {
    await check(
      [["a"], ["b", "b"], ["a", "b"]],
      "countByValueAndWindow",
      [
        [["a", 1]],
        [
          ["a", 1],
          ["b", 2],
        ],
        [
          ["a", 1],
          ["b", 3],
        ],
      ],
      Seconds(1),
    );
  });
});
