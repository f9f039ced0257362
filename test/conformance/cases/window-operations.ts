// The graphs of test/conformance/window-operations.test.ts (Spark's WindowOperationsSuite), by the name of the case
// that runs them (with the window and slide as parameters where the suite varies them): the test runs a case by
// name (test/support/caseJob.ts), so a worker thread can rebuild its graph by importing this module.
import type { DStream } from "spate";
import type { Cases, ParameterizedCases } from "../../support/caseJob.js";

const BATCH = 1000;
const Seconds = (n: number) => n * BATCH;

type KV = [string, number];

const add = (x: number, y: number) => x + y;
const sub = (x: number, y: number) => x - y;

export const parameterized: ParameterizedCases = {
  window: (window: number, slide: number) => (s: DStream<KV>) => s.window(window, slide),
  reduceByKeyAndWindow: (window: number, slide: number) => (s: DStream<KV>) =>
    s.reduceByKeyAndWindow(add, window, slide),
  // Spark: .checkpoint(Seconds(100)), a large interval "to avoid effect of RDD checkpointing".
  "reduceByKeyAndWindow with inverse function": (window: number, slide: number) => (s: DStream<KV>) =>
    s.reduceByKeyAndWindow(add, sub, window, slide).checkpoint(Seconds(100)),
};

export const cases: Cases = {
  "reduceByKeyAndWindow with inverse and filter functions - big test": (s: DStream<KV>) =>
    s
      .reduceByKeyAndWindow(add, sub, Seconds(2), Seconds(1), undefined, (p: KV) => p[1] !== 0)
      .persist()
      .checkpoint(Seconds(100)),
  groupByKeyAndWindow: (s: DStream<KV>) =>
    s
      .groupByKeyAndWindow(Seconds(2), Seconds(1))
      .map(([k, vs]) => [k, [...vs].sort((x, y) => x - y)] as [string, number[]])
      .persist(),
  countByWindow: (s) => s.countByWindow(Seconds(2), Seconds(1)),
  countByValueAndWindow: (s) => s.countByValueAndWindow(Seconds(2), Seconds(1)),
};
