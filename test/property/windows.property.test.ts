// Every window operation equals recomputing its window from the batches it covers (Spark's semantics, in
// ./model.ts), for arbitrary windows and slides (multiples of the batch), windows longer than the data, empty
// batches and any number of partitions; and reduceByKeyAndWindow with an inverse function equals it without.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BATCH, inverseWindowedSums, outputTimes, sumByKey, windowAt } from "./model.js";
import { runCase } from "../support/caseJob.js";
import { canonical } from "../support/harness.js";

/** The graphs, built from the drawn parameters by a module a worker thread can import. */
const CASES = new URL("./cases.ts", import.meta.url).href;

const RUNS = 500;

/** One batch's records as a multiset (none collected: empty). */
const bag = (records: unknown[] | undefined) => canonical(records ?? []);

const pairs = fc.array(
  fc.array(fc.tuple(fc.constantFrom("a", "b", "c", "d"), fc.integer({ min: 1, max: 5 })), { maxLength: 6 }),
  { maxLength: 8 },
);
const shape = fc.record({
  input: pairs,
  windowBatches: fc.integer({ min: 1, max: 6 }),
  slideBatches: fc.integer({ min: 1, max: 3 }),
  /** Batches after the input, so that windows drain. */
  extra: fc.integer({ min: 0, max: 5 }),
  parallelism: fc.integer({ min: 1, max: 3 }),
  numPartitions: fc.integer({ min: 1, max: 3 }),
});

const notZero = (kv: [string, number]) => kv[1] !== 0;

describe("window operations against recomputing each window", () => {
  it("window, countByWindow, reduceByWindow (with and without inverse), countByValueAndWindow, reduceByKeyAndWindow (with and without inverse, with filterFn), groupByKeyAndWindow", async () => {
    await fc.assert(
      fc.asyncProperty(shape, async (s) => {
        const window = s.windowBatches * BATCH;
        const slide = s.slideBatches * BATCH;
        const numBatches = s.input.length + s.extra;
        const values = s.input.map((b) => b.map(([, v]) => v));
        const out = await runCase(
          {
            cases: CASES,
            name: "windows",
            params: [{ window, slide, numPartitions: s.numPartitions }],
            inputs: [s.input],
            batchDuration: BATCH,
            conf: { "spate.default.parallelism": s.parallelism },
          },
          numBatches,
        );
        const times = outputTimes(numBatches, slide);
        const ones = s.input.map((b) => b.map(() => ["1", 1] as [string, number]));
        const byValue = values.map((b) => b.map((v) => [String(v), 1] as [string, number]));
        const countByWindow = inverseWindowedSums(ones, numBatches, window, slide);
        const reduceByWindowInv = inverseWindowedSums(
          values.map((b) => b.map((v) => ["1", v] as [string, number])),
          numBatches,
          window,
          slide,
        );
        const countByValue = inverseWindowedSums(byValue, numBatches, window, slide, notZero);
        const inverse = inverseWindowedSums(s.input, numBatches, window, slide);
        const inverseFiltered = inverseWindowedSums(s.input, numBatches, window, slide, notZero);
        for (const name of Object.keys(out)) expect([...out[name]!.keys()], name).toEqual(times);
        times.forEach((t, n) => {
          const inWindow = windowAt(values, t, window);
          const kvsInWindow = windowAt(s.input, t, window);
          const sum = inWindow.reduce((a, b) => a + b, 0);
          const at = (name: string) => bag(out[name]!.get(t));
          expect(at("window"), `window at ${t}`).toEqual(bag(inWindow));
          expect(at("countByWindow"), `countByWindow at ${t}`).toEqual(
            bag(countByWindow[n]!.map(([, c]) => c)),
          );
          expect(at("reduceByWindow"), `reduceByWindow at ${t}`).toEqual(bag(inWindow.length ? [sum] : []));
          expect(at("reduceByWindowInv"), `reduceByWindow with inverse at ${t}`).toEqual(
            bag(reduceByWindowInv[n]!.map(([, v]) => v)),
          );
          expect(at("countByValueAndWindow"), `countByValueAndWindow at ${t}`).toEqual(
            bag(countByValue[n]!.map(([v, c]) => [Number(v), c])),
          );
          expect(at("reduceByKeyAndWindow"), `reduceByKeyAndWindow at ${t}`).toEqual(
            bag([...sumByKey(kvsInWindow)]),
          );
          expect(at("reduceByKeyAndWindowInv"), `with inverse at ${t}`).toEqual(bag(inverse[n]!));
          expect(at("reduceByKeyAndWindowInvFilter"), `with inverse and filterFn at ${t}`).toEqual(
            bag(inverseFiltered[n]!),
          );
          const groups = new Map<string, number[]>();
          for (const [k, v] of kvsInWindow) groups.set(k, [...(groups.get(k) ?? []), v]);
          expect(at("groupByKeyAndWindow"), `groupByKeyAndWindow at ${t}`).toEqual(
            bag([...groups].map(([k, vs]) => [k, vs.sort()])),
          );
        });
        // With positive values a key's windowed sum is 0 exactly when none of its values is in the window: the
        // inverse form with zeros filtered out equals the form that recomputes every window.
        for (const t of times) {
          expect(bag(out.reduceByKeyAndWindowInvFilter!.get(t))).toEqual(
            bag(out.reduceByKeyAndWindow!.get(t)),
          );
        }
      }),
      { numRuns: RUNS },
    );
  });
});
