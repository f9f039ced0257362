// The graphs of test/conformance/basic-operations.test.ts (Spark's BasicOperationsSuite), by the name of the case
// that runs them: the test runs a case by name (test/support/caseJob.ts), so a worker thread can rebuild its graph by
// importing this module.
import { type DStream, RDD } from "spate";
import type { Cases } from "../../support/caseJob.js";

const one = (x: string) => [x, 1] as [string, number];
const ex = (x: string) => [x, "x"] as [string, string];

const sum = (values: number[], state: number | undefined) => values.reduce((a, b) => a + b, 0) + (state ?? 0);

// Spark's (time, key, values, state) form is spate's (values, state, key, time).
const timeUpdate = (values: number[], state: number | undefined, _key: string, time: number) =>
  values.length > 0 ? time + (state ?? 0) : (state ?? 0);

interface StateObject {
  counter: number;
  expireCounter: number;
}

// Clears a state when it is seen without new values twice in a row.
const lifecycleUpdate = (values: number[], state: StateObject | undefined): StateObject | undefined => {
  const obj = state ?? { counter: 0, expireCounter: 0 };
  const n = values.reduce((a, b) => a + b, 0);
  if (n === 0) obj.expireCounter += 1;
  else {
    obj.counter += n;
    obj.expireCounter = 0;
  }
  return obj.expireCounter === 2 ? undefined : obj;
};

export const cases: Cases = {
  map: (r) => r.map((x) => String(x)),
  flatMap: (r) => r.flatMap((x) => [x, x * 2]),
  filter: (r) => r.filter((x) => x % 2 === 0),
  glom: (r) => r.glom(),
  "repartition (more partitions)": (r) => r.repartition(5).glom(),
  "repartition (fewer partitions)": (r) => r.repartition(2).glom(),
  mapPartitions: (r) => r.mapPartitions((xs) => [xs.reduce((a, b) => a + b, 0)]),
  groupByKey: (s) => s.map(one).groupByKey(),
  reduceByKey: (s) => s.map(one).reduceByKey((a, b) => a + b),
  reduce: (s) => s.reduce((a, b) => a + b),
  count: (s) => s.count(),
  countByValue: (s) => s.countByValue(),
  mapValues: (s) =>
    s
      .map(one)
      .reduceByKey((a, b) => a + b)
      .mapValues((x) => x + 10),
  flatMapValues: (s) =>
    s
      .map(one)
      .reduceByKey((a, b) => a + b)
      .flatMapValues((x) => [x, x + 10]),
  union: (s) => s.union(s.map((x) => x + 4)),
  "StreamingContext.union": (s) => s.context.union([s, s.map((x) => x + 4), s.map((x) => x + 8)]),
  transform: (r) => r.transform((rdd) => rdd.map((x) => String(x))),
  "transform with NULL": (r) => r.transform(() => null as unknown as RDD<number>),
  transformWith: (s1, s2) => s1.map(one).transformWith(s2.map(ex), (rdd1, rdd2) => rdd1.join(rdd2)),
  "StreamingContext.transform": (s) =>
    s.context.transform([s, s.map((x) => x + 4), s.map((x) => x + 8)], (rdds) =>
      RDD.union(rdds as RDD<number>[]),
    ),
  cogroup: (s1, s2) => s1.map(one).cogroup(s2.map(ex)),
  join: (s1, s2) => s1.map(one).join(s2.map(ex)),
  leftOuterJoin: (s1, s2) => s1.map(one).leftOuterJoin(s2.map(ex)),
  rightOuterJoin: (s1, s2) => s1.map(one).rightOuterJoin(s2.map(ex)),
  fullOuterJoin: (s1, s2) => s1.map(one).fullOuterJoin(s2.map(ex)),
  updateStateByKey: (s) => s.map(one).updateStateByKey(sum),
  // Spark: updateStateByKey(updateFunc, new HashPartitioner(numInputPartitions), initialRDD)
  "updateStateByKey - simple with initial value RDD": (s) =>
    s.map(one).updateStateByKey(sum, {
      numPartitions: 2,
      initialState: [
        ["a", 1],
        ["c", 2],
      ],
    }),
  "updateStateByKey - testing time stamps as input": (s) =>
    s.map(one).updateStateByKey(timeUpdate, {
      numPartitions: 2,
      initialState: [
        ["a", 0],
        ["c", 0],
      ],
    }),
  "updateStateByKey - object lifecycle": (s) =>
    s
      .map(one)
      .updateStateByKey(lifecycleUpdate)
      .mapValues((o) => o.counter),
  // slice: the input stream itself (a dummy output), sliced by the test.
  slice: (s: DStream<number>) => s,
};
