// mapWithState equals a per-record fold over a Map, timeouts, initial state, removals and state snapshots
// included; updateStateByKey equals a per-key fold as Spark's StateDStream does it (./model.ts).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runCase } from "../support/caseJob.js";
import { canonical } from "../support/harness.js";
import { updateCalls } from "./cases.js";
import { BATCH, mapWithStateModel, updateStateModel } from "./model.js";

/** The graphs, built from the drawn parameters by a module a worker thread can import. */
const CASES = new URL("./cases.ts", import.meta.url).href;

const RUNS = 500;

/** One batch's records as a multiset (none collected: empty). */
const bag = (records: unknown[] | undefined) => canonical(records ?? []);

const key = fc.constantFrom("a", "b", "c", "d", "e");
/** Values: 0 removes the key's state, a negative value reads it, a positive one adds to it (model.ts `step`). */
const records = fc.array(fc.array(fc.tuple(key, fc.integer({ min: -2, max: 4 })), { maxLength: 6 }), {
  maxLength: 10,
});
const initial = fc.uniqueArray(fc.tuple(key, fc.integer({ min: 1, max: 9 })), {
  selector: ([k]) => k,
  maxLength: 3,
});

describe("stateful operations against a fold over a Map", () => {
  it("mapWithState: emitted values, timeouts and state snapshots of every batch", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          input: records,
          extra: fc.integer({ min: 0, max: 4 }),
          timeoutBatches: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
          initial: fc.option(initial, { nil: undefined }),
          numPartitions: fc.integer({ min: 1, max: 3 }),
          parallelism: fc.integer({ min: 1, max: 3 }),
        }),
        async (s) => {
          const numBatches = s.input.length + s.extra;
          const timeout = s.timeoutBatches === undefined ? undefined : s.timeoutBatches * BATCH;
          const out = await runCase(
            {
              cases: CASES,
              name: "mapWithState fold",
              params: [{ timeout, initial: s.initial, numPartitions: s.numPartitions }],
              inputs: [s.input],
              batchDuration: BATCH,
              conf: { "spate.default.parallelism": s.parallelism },
            },
            numBatches,
          );
          const model = mapWithStateModel(s.input, numBatches, { timeout, initial: s.initial });
          for (let i = 0; i < numBatches; i++) {
            const t = (i + 1) * BATCH;
            expect(bag(out.mapped!.get(t)), `emitted at ${t}`).toEqual(bag(model.emitted[i]));
            expect(bag(out.snapshots!.get(t)), `state at ${t}`).toEqual(bag(model.snapshots[i]));
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("mapWithState: the records of one key are folded in their order", async () => {
    // A running list, not a sum: any reordering of a key's records within a batch would show.
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.tuple(key, fc.integer({ min: 0, max: 9 })), { maxLength: 8 }), { maxLength: 6 }),
        fc.integer({ min: 1, max: 3 }),
        async (input, numPartitions) => {
          const out = await runCase(
            {
              cases: CASES,
              name: "mapWithState lists",
              params: [numPartitions],
              inputs: [input],
              batchDuration: BATCH,
              conf: {},
            },
            input.length,
          );
          const lists = new Map<string, number[]>();
          input.forEach((batch, i) => {
            for (const [k, v] of batch) lists.set(k, [...(lists.get(k) ?? []), v]);
            expect(bag(out.lists!.get((i + 1) * BATCH))).toEqual(bag([...lists]));
          });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("updateStateByKey: the whole state after every batch, with and without initial state", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          input: fc.array(fc.array(fc.tuple(key, fc.integer({ min: 0, max: 4 })), { maxLength: 6 }), {
            maxLength: 10,
          }),
          extra: fc.integer({ min: 0, max: 3 }),
          initial: fc.option(initial, { nil: undefined }),
          numPartitions: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
          parallelism: fc.integer({ min: 1, max: 3 }),
        }),
        async (s) => {
          const numBatches = s.input.length + s.extra;
          updateCalls.length = 0;
          const out = await runCase(
            {
              cases: CASES,
              name: "updateStateByKey",
              params: [{ numPartitions: s.numPartitions, initial: s.initial }],
              inputs: [s.input],
              batchDuration: BATCH,
              conf: { "spate.default.parallelism": s.parallelism },
            },
            numBatches,
          );
          const calls = updateCalls;
          const model = updateStateModel(s.input, numBatches, s.initial);
          let held = new Set<string>((s.initial ?? []).map(([k]) => k));
          for (let i = 0; i < numBatches; i++) {
            const t = (i + 1) * BATCH;
            expect(bag(out.state!.get(t)), `state at ${t}`).toEqual(bag(model[i]));
            // The function ran once for every key held or with new values, as in Spark.
            const called = calls.filter(([time]) => time === t).map(([, k]) => k);
            const expected = new Set([...held, ...(s.input[i] ?? []).map(([k]) => k)]);
            expect(called.sort(), `keys called at ${t}`).toEqual([...expected].sort());
            held = new Set(model[i]!.map(([k]) => k));
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
