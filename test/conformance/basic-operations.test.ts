// Apache Spark's BasicOperationsSuite (streaming/src/test/scala/org/apache/spark/streaming/BasicOperationsSuite.scala),
// ported case by case: the same inputs and expected outputs, run against spate. Each `it` is named after the Spark
// test it ports. Spark's TestSuiteBase feeds every batch as 2 partitions (numInputPartitions = 2); here
// `spate.default.parallelism: 2` does the same. Cases Spark compares with `useSet = true` are compared as multisets,
// the others as lists.
//
// Not ported, and why:
// - "union with input stream return None", "transform with input stream return None", "transformWith with input
//   stream return None", "StreamingContext.transform with input stream return None": they feed a `null` batch, for
//   which Spark's test input stream returns no RDD at all, and expect the job to fail. A spate source always gives
//   every batch an RDD (an exhausted queue gives an empty batch), so the situation cannot be set up.
// - "updateStateByKey - with initial value RDD": it exercises Spark's iterator-form overload
//   (`Iterator[(K, Seq[V], Option[S])] => Iterator[(K, S)]` with `rememberPartitioner`), which spate does not have;
//   its data equal those of "updateStateByKey - simple with initial value RDD", which is ported.
// - "rdd cleanup - map and window", "rdd cleanup - updateStateByKey", "rdd cleanup - input blocks and persisted
//   RDDs": they inspect Spark internals (generatedRDDs, rememberDuration, BlockRDDs, the block manager).
import { ManualClock, type SpateError, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";
import { expectBatches, range } from "../support/conformance.js";
import { buildCase } from "../support/caseJob.js";
import { runCaseOperation } from "../support/harness.js";
import { rejection } from "../support/rejection.js";

/** Spark's TestSuiteBase: two partitions per input batch. */
const conf = { "spate.default.parallelism": 2 };

/** The graphs of the cases, by name (a module a worker thread can import to rebuild them). */
const CASES = new URL("./cases/basic-operations.ts", import.meta.url).href;

/** Runs the case `name` over `input` and checks each batch against `expected` (Spark's testOperation). */
async function check<I, O>(
  input: I[][],
  name: string,
  expected: O[][],
  useSet: boolean,
  numBatches = expected.length,
): Promise<void> {
  const out = await runCaseOperation<O>(CASES, name, [input], { conf, numBatches });
  expectBatches(out.outputs, expected, !useSet);
}

async function check2<I1, I2, O>(
  input1: I1[][],
  input2: I2[][],
  name: string,
  expected: O[][],
  useSet: boolean,
): Promise<void> {
  const out = await runCaseOperation<O>(CASES, name, [input1, input2], { conf, numBatches: expected.length });
  expectBatches(out.outputs, expected, !useSet);
}

describe("BasicOperationsSuite", () => {
  const nums = [range(1, 4), range(5, 8), range(9, 12)];

  it("map", async () => {
    await check(
      nums,
      "map",
      [
        ["1", "2", "3", "4"],
        ["5", "6", "7", "8"],
        ["9", "10", "11", "12"],
      ],
      false,
    );
  });

  it("flatMap", async () => {
    await check(
      nums,
      "flatMap",
      [
        [1, 2, 2, 4, 3, 6, 4, 8],
        [5, 10, 6, 12, 7, 14, 8, 16],
        [9, 18, 10, 20, 11, 22, 12, 24],
      ],
      false,
    );
  });

  it("filter", async () => {
    await check(
      nums,
      "filter",
      [
        [2, 4],
        [6, 8],
        [10, 12],
      ],
      false,
    );
  });

  it("glom", async () => {
    await check(
      nums,
      "glom",
      [
        [
          [1, 2],
          [3, 4],
        ],
        [
          [5, 6],
          [7, 8],
        ],
        [
          [9, 10],
          [11, 12],
        ],
      ],
      false,
    );
  });

  it("mapPartitions", async () => {
    await check(
      nums,
      "mapPartitions",
      [
        [3, 7],
        [11, 15],
        [19, 23],
      ],
      true,
    );
  });

  const hundreds = [range(1, 100), range(101, 200), range(201, 300)];

  /** Spark's runStreamsWithPartitions: each output batch as its partitions. */
  async function partitionsAfter(inputPartitions: number, n: number): Promise<number[][][]> {
    const name = n === 5 ? "repartition (more partitions)" : "repartition (fewer partitions)";
    const out = await runCaseOperation<number[]>(CASES, name, [hundreds], {
      conf: { "spate.default.parallelism": inputPartitions },
    });
    return out.outputs;
  }

  it("repartition (more partitions)", async () => {
    const output = await partitionsAfter(2, 5);
    expect(output).toHaveLength(3);
    output.forEach((batch, i) => {
      expect(batch).toHaveLength(5);
      expect(new Set(batch.flat())).toEqual(new Set(hundreds[i]));
    });
  });

  it("repartition (fewer partitions)", async () => {
    const output = await partitionsAfter(5, 2);
    expect(output).toHaveLength(3);
    output.forEach((batch, i) => {
      expect(batch).toHaveLength(2);
      expect(new Set(batch.flat())).toEqual(new Set(hundreds[i]));
    });
  });

  const words = [["a", "a", "b"], ["", ""], []];

  it("groupByKey", async () => {
    await check(
      words,
      "groupByKey",
      [
        [
          ["a", [1, 1]],
          ["b", [1]],
        ],
        [["", [1, 1]]],
        [],
      ],
      true,
    );
  });

  it("reduceByKey", async () => {
    await check(
      words,
      "reduceByKey",
      [
        [
          ["a", 2],
          ["b", 1],
        ],
        [["", 2]],
        [],
      ],
      true,
    );
  });

  it("reduce", async () => {
    await check(nums, "reduce", [[10], [26], [42]], false);
  });

  it("count", async () => {
    await check(
      [[], range(1, 1), range(1, 2), range(1, 3), range(1, 4)],
      "count",
      [[0], [1], [2], [3], [4]],
      false,
    );
  });

  it("countByValue", async () => {
    await check(
      [range(1, 1), [1, 1, 1], range(1, 2), [1, 1, 2, 2]],
      "countByValue",
      [
        [[1, 1]],
        [[1, 3]],
        [
          [1, 1],
          [2, 1],
        ],
        [
          [2, 2],
          [1, 2],
        ],
      ],
      true,
    );
  });

  it("mapValues", async () => {
    await check(
      words,
      "mapValues",
      [
        [
          ["a", 12],
          ["b", 11],
        ],
        [["", 12]],
        [],
      ],
      true,
    );
  });

  it("flatMapValues", async () => {
    await check(
      words,
      "flatMapValues",
      [
        [
          ["a", 2],
          ["a", 12],
          ["b", 1],
          ["b", 11],
        ],
        [
          ["", 2],
          ["", 12],
        ],
        [],
      ],
      true,
    );
  });

  const hundredsOf4 = [range(1, 4), range(101, 104), range(201, 204)];

  it("union", async () => {
    await check(hundredsOf4, "union", [range(1, 8), range(101, 108), range(201, 208)], false);
  });

  it("StreamingContext.union", async () => {
    await check(
      hundredsOf4,
      "StreamingContext.union",
      [range(1, 12), range(101, 112), range(201, 212)],
      false,
    );
  });

  it("transform", async () => {
    await check(
      nums,
      "transform",
      nums.map((b) => b.map((x) => String(x))),
      false,
    );
  });

  it("transform with NULL", async () => {
    // Spark: the job fails (SparkException). spate: the batch fails, and so does the run.
    const e = await rejection(runCaseOperation(CASES, "transform with NULL", [[range(1, 4)]], { conf }));
    expect((e as SpateError).code).toBe("SPATE_INVALID_ARGUMENT");
    expect(e.message).toMatch(/must return an RDD/);
  });

  const in1 = [["a", "b"], ["a", ""], [""], []];
  const in2 = [["a", "b"], ["b", ""], [], [""]];

  it("transformWith", async () => {
    await check2(
      in1,
      in2,
      "transformWith",
      [
        [
          ["a", [1, "x"]],
          ["b", [1, "x"]],
        ],
        [["", [1, "x"]]],
        [],
        [],
      ],
      true,
    );
  });

  it("StreamingContext.transform", async () => {
    await check(
      hundredsOf4,
      "StreamingContext.transform",
      [range(1, 12), range(101, 112), range(201, 212)],
      false,
    );
  });

  it("cogroup", async () => {
    await check2(
      [["a", "a", "b"], ["a", ""], [""], []],
      [["a", "a", "b"], ["b", ""], [], []],
      "cogroup",
      [
        [
          [
            "a",
            [
              [1, 1],
              ["x", "x"],
            ],
          ],
          ["b", [[1], ["x"]]],
        ],
        [
          ["a", [[1], []]],
          ["b", [[], ["x"]]],
          ["", [[1], ["x"]]],
        ],
        [["", [[1], []]]],
        [],
      ],
      true,
    );
  });

  it("join", async () => {
    await check2(
      in1,
      in2,
      "join",
      [
        [
          ["a", [1, "x"]],
          ["b", [1, "x"]],
        ],
        [["", [1, "x"]]],
        [],
        [],
      ],
      true,
    );
  });

  // Spark's Option becomes `T | undefined`: Some(x) is x, None is undefined.
  it("leftOuterJoin", async () => {
    await check2(
      in1,
      in2,
      "leftOuterJoin",
      [
        [
          ["a", [1, "x"]],
          ["b", [1, "x"]],
        ],
        [
          ["", [1, "x"]],
          ["a", [1, undefined]],
        ],
        [["", [1, undefined]]],
        [],
      ],
      true,
    );
  });

  it("rightOuterJoin", async () => {
    await check2(
      in1,
      in2,
      "rightOuterJoin",
      [
        [
          ["a", [1, "x"]],
          ["b", [1, "x"]],
        ],
        [
          ["", [1, "x"]],
          ["b", [undefined, "x"]],
        ],
        [],
        [["", [undefined, "x"]]],
      ],
      true,
    );
  });

  it("fullOuterJoin", async () => {
    await check2(
      in1,
      in2,
      "fullOuterJoin",
      [
        [
          ["a", [1, "x"]],
          ["b", [1, "x"]],
        ],
        [
          ["", [1, "x"]],
          ["a", [1, undefined]],
          ["b", [undefined, "x"]],
        ],
        [["", [1, undefined]]],
        [["", [undefined, "x"]]],
      ],
      true,
    );
  });

  const stateInput = [["a"], ["a", "b"], ["a", "b", "c"], ["a", "b"], ["a"], []];

  it("updateStateByKey", async () => {
    await check(
      stateInput,
      "updateStateByKey",
      [
        [["a", 1]],
        [
          ["a", 2],
          ["b", 1],
        ],
        [
          ["a", 3],
          ["b", 2],
          ["c", 1],
        ],
        [
          ["a", 4],
          ["b", 3],
          ["c", 1],
        ],
        [
          ["a", 5],
          ["b", 3],
          ["c", 1],
        ],
        [
          ["a", 5],
          ["b", 3],
          ["c", 1],
        ],
      ],
      true,
    );
  });

  it("updateStateByKey - simple with initial value RDD", async () => {
    await check(
      stateInput,
      "updateStateByKey - simple with initial value RDD",
      [
        [
          ["a", 2],
          ["c", 2],
        ],
        [
          ["a", 3],
          ["b", 1],
          ["c", 2],
        ],
        [
          ["a", 4],
          ["b", 2],
          ["c", 3],
        ],
        [
          ["a", 5],
          ["b", 3],
          ["c", 3],
        ],
        [
          ["a", 6],
          ["b", 3],
          ["c", 3],
        ],
        [
          ["a", 6],
          ["b", 3],
          ["c", 3],
        ],
      ],
      true,
    );
  });

  it("updateStateByKey - testing time stamps as input", async () => {
    // Spark's (time, key, values, state) form is spate's (values, state, key, time): see the case.
    await check(
      stateInput,
      "updateStateByKey - testing time stamps as input",
      [
        [
          ["a", 1000],
          ["c", 0],
        ],
        [
          ["a", 3000],
          ["b", 2000],
          ["c", 0],
        ],
        [
          ["a", 6000],
          ["b", 5000],
          ["c", 3000],
        ],
        [
          ["a", 10000],
          ["b", 9000],
          ["c", 3000],
        ],
        [
          ["a", 15000],
          ["b", 9000],
          ["c", 3000],
        ],
        [
          ["a", 15000],
          ["b", 9000],
          ["c", 3000],
        ],
      ],
      true,
    );
  });

  it("updateStateByKey - object lifecycle", async () => {
    // Spark feeds `null` for batches 2, 5 and 6: its input stream then gives no RDD, and updateStateByKey calls the
    // function with no values for every key, exactly what an empty batch does; spate has no "no RDD" batches, so
    // those batches are empty here.
    const input = [["a", "b"], [], ["a", "c", "a"], ["c"], [], []];
    // The update function clears a state when it is seen without new values twice in a row (see the case).
    await check(
      input,
      "updateStateByKey - object lifecycle",
      [
        [
          ["a", 1],
          ["b", 1],
        ],
        [
          ["a", 1],
          ["b", 1],
        ],
        [
          ["a", 3],
          ["c", 1],
        ],
        [
          ["a", 3],
          ["c", 2],
        ],
        [["c", 2]],
        [],
      ],
      true,
    );
  });

  it("slice", async () => {
    const { ssc, outputs } = await buildCase({
      cases: CASES,
      name: "slice",
      inputs: [[[1], [2], [3], [4]]],
      batchDuration: 1000,
      conf,
    });
    const stream = outputs.out!;
    await ssc.start();
    try {
      // As in Spark, the clock is not advanced: slice computes the RDDs it needs.
      const fromSlice = async (from: number, to: number) => {
        const values = await Promise.all(stream.slice(from, to).map((rdd) => rdd.collect()));
        return new Set(values.flat());
      };
      expect(await fromSlice(0, 1000)).toEqual(new Set([1]));
      expect(await fromSlice(0, 2000)).toEqual(new Set([1, 2]));
      expect(await fromSlice(1000, 2000)).toEqual(new Set([1, 2]));
      expect(await fromSlice(2000, 4000)).toEqual(new Set([2, 3, 4]));
    } finally {
      await ssc.stop();
    }
  });

  it("slice - has not been initialized", () => {
    const ssc = new StreamingContext({ batchDuration: 1000, clock: new ManualClock(0), conf });
    const stream = ssc.queueStream([[1], [2], [3], [4]]);
    // Spark: SparkException "... has not been initialized"; spate: a SpateError saying the context must be started.
    expect(() => stream.slice(0, 1000)).toThrow(/start/);
  });
});
