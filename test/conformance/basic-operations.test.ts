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
import { type DStream, ManualClock, RDD, type SpateError, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";
import { expectBatches, range } from "../support/conformance.js";
import { runOperation, runOperation2 } from "../support/harness.js";
import { rejection } from "../support/rejection.js";

/** Spark's TestSuiteBase: two partitions per input batch. */
const conf = { "spate.default.parallelism": 2 };

/** Runs `op` over `input` and checks each batch against `expected` (Spark's testOperation). */
async function check<I, O>(
  input: I[][],
  op: (s: DStream<I>) => DStream<O>,
  expected: NoInfer<O>[][],
  useSet: boolean,
  numBatches = expected.length,
): Promise<void> {
  const out = await runOperation(input, op, { conf, numBatches });
  expectBatches(out.outputs, expected, !useSet);
}

async function check2<I1, I2, O>(
  input1: I1[][],
  input2: I2[][],
  op: (s1: DStream<I1>, s2: DStream<I2>) => DStream<O>,
  expected: NoInfer<O>[][],
  useSet: boolean,
): Promise<void> {
  const out = await runOperation2(input1, input2, op, { conf, numBatches: expected.length });
  expectBatches(out.outputs, expected, !useSet);
}

const one = (x: string) => [x, 1] as [string, number];
const ex = (x: string) => [x, "x"] as [string, string];

describe("BasicOperationsSuite", () => {
  const nums = [range(1, 4), range(5, 8), range(9, 12)];

  it("map", async () => {
    await check(
      nums,
      (r) => r.map((x) => String(x)),
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
      (r) => r.flatMap((x) => [x, x * 2]),
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
      (r) => r.filter((x) => x % 2 === 0),
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
      (r) => r.glom(),
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
      (r) => r.mapPartitions((xs) => [xs.reduce((a, b) => a + b, 0)]),
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
    const out = await runOperation(hundreds, (r) => r.repartition(n).glom(), {
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
      (s) => s.map(one).groupByKey(),
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
      (s) => s.map(one).reduceByKey((a, b) => a + b),
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
    await check(nums, (s) => s.reduce((a, b) => a + b), [[10], [26], [42]], false);
  });

  it("count", async () => {
    await check(
      [[], range(1, 1), range(1, 2), range(1, 3), range(1, 4)],
      (s) => s.count(),
      [[0], [1], [2], [3], [4]],
      false,
    );
  });

  it("countByValue", async () => {
    await check(
      [range(1, 1), [1, 1, 1], range(1, 2), [1, 1, 2, 2]],
      (s) => s.countByValue(),
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
      (s) =>
        s
          .map(one)
          .reduceByKey((a, b) => a + b)
          .mapValues((x) => x + 10),
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
      (s) =>
        s
          .map(one)
          .reduceByKey((a, b) => a + b)
          .flatMapValues((x) => [x, x + 10]),
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
    await check(
      hundredsOf4,
      (s) => s.union(s.map((x) => x + 4)),
      [range(1, 8), range(101, 108), range(201, 208)],
      false,
    );
  });

  it("StreamingContext.union", async () => {
    await check(
      hundredsOf4,
      (s) => s.context.union([s, s.map((x) => x + 4), s.map((x) => x + 8)]),
      [range(1, 12), range(101, 112), range(201, 212)],
      false,
    );
  });

  it("transform", async () => {
    await check(
      nums,
      (r) => r.transform((rdd) => rdd.map((x) => String(x))),
      nums.map((b) => b.map((x) => String(x))),
      false,
    );
  });

  it("transform with NULL", async () => {
    // Spark: the job fails (SparkException). spate: the batch fails, and so does the run.
    const e = await rejection(
      runOperation([range(1, 4)], (r) => r.transform(() => null as unknown as RDD<number>), { conf }),
    );
    expect((e as SpateError).code).toBe("SPATE_INVALID_ARGUMENT");
    expect(e.message).toMatch(/must return an RDD/);
  });

  const in1 = [["a", "b"], ["a", ""], [""], []];
  const in2 = [["a", "b"], ["b", ""], [], [""]];

  it("transformWith", async () => {
    await check2(
      in1,
      in2,
      (s1, s2) => s1.map(one).transformWith(s2.map(ex), (rdd1, rdd2) => rdd1.join(rdd2)),
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
      (s) =>
        s.context.transform([s, s.map((x) => x + 4), s.map((x) => x + 8)], (rdds) =>
          RDD.union(rdds as RDD<number>[]),
        ),
      [range(1, 12), range(101, 112), range(201, 212)],
      false,
    );
  });

  it("cogroup", async () => {
    await check2(
      [["a", "a", "b"], ["a", ""], [""], []],
      [["a", "a", "b"], ["b", ""], [], []],
      (s1, s2) => s1.map(one).cogroup(s2.map(ex)),
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
      (s1, s2) => s1.map(one).join(s2.map(ex)),
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
      (s1, s2) => s1.map(one).leftOuterJoin(s2.map(ex)),
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
      (s1, s2) => s1.map(one).rightOuterJoin(s2.map(ex)),
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
      (s1, s2) => s1.map(one).fullOuterJoin(s2.map(ex)),
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
  const sum = (values: number[], state: number | undefined) =>
    values.reduce((a, b) => a + b, 0) + (state ?? 0);

  it("updateStateByKey", async () => {
    await check(
      stateInput,
      (s) => s.map(one).updateStateByKey(sum),
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
      // Spark: updateStateByKey(updateFunc, new HashPartitioner(numInputPartitions), initialRDD)
      (s) =>
        s.map(one).updateStateByKey(sum, {
          numPartitions: 2,
          initialState: [
            ["a", 1],
            ["c", 2],
          ],
        }),
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
    // Spark's (time, key, values, state) form is spate's (values, state, key, time).
    const update = (values: number[], state: number | undefined, _key: string, time: number) =>
      values.length > 0 ? time + (state ?? 0) : (state ?? 0);
    await check(
      stateInput,
      (s) =>
        s.map(one).updateStateByKey(update, {
          numPartitions: 2,
          initialState: [
            ["a", 0],
            ["c", 0],
          ],
        }),
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
    interface StateObject {
      counter: number;
      expireCounter: number;
    }
    // Clears a state when it is seen without new values twice in a row.
    const update = (values: number[], state: StateObject | undefined): StateObject | undefined => {
      const obj = state ?? { counter: 0, expireCounter: 0 };
      const n = values.reduce((a, b) => a + b, 0);
      if (n === 0) obj.expireCounter += 1;
      else {
        obj.counter += n;
        obj.expireCounter = 0;
      }
      return obj.expireCounter === 2 ? undefined : obj;
    };
    await check(
      input,
      (s) =>
        s
          .map(one)
          .updateStateByKey(update)
          .mapValues((o) => o.counter),
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
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ batchDuration: 1000, clock, conf });
    const stream = ssc.queueStream([[1], [2], [3], [4]]);
    stream.foreachRDD(() => {}); // dummy output
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
