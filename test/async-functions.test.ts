// A user function that returns a Promise where spate expects a value fails its batch with SPATE_ASYNC_FUNCTION,
// naming the operator, for every kind of function; async work belongs in foreachRDD.
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  AsyncFunctionError,
  type DStream,
  type RDD,
  ManualClock,
  type State,
  StateSpec,
  StreamingContext,
} from "spate";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rejection } from "./support/rejection.js";

type Pairs = DStream<[string, number]>;
type KV = [string, number];
type RDDOf<T> = RDD<T>;

/** An async function typed as a synchronous one: what JavaScript (or a cast) lets through. */
const sync = <A extends unknown[], R>(f: (...args: A) => Promise<R>) => f as unknown as (...args: A) => R;

const cases: Array<{ name: string; kind: RegExp; build: (pairs: Pairs) => DStream<any> }> = [
  { name: "map", kind: /map function/, build: (s) => s.map(sync(async (kv: KV) => kv)) },
  { name: "flatMap", kind: /flatMap function/, build: (s) => s.flatMap(sync(async (kv: KV) => [kv])) },
  // A Promise is truthy: an async filter kept every record before.
  { name: "filter", kind: /filter function/, build: (s) => s.filter(sync(async (_kv: KV) => false)) },
  {
    name: "mapPartitions",
    kind: /mapPartitions function/,
    build: (s) => s.mapPartitions(sync(async (r: KV[]) => r)),
  },
  { name: "mapValues", kind: /mapValues function/, build: (s) => s.mapValues(sync(async (v: number) => v)) },
  {
    name: "flatMapValues",
    kind: /flatMapValues function/,
    build: (s) => s.flatMapValues(sync(async (v: number) => [v])),
  },
  {
    name: "reduceByKey",
    kind: /reduce function/,
    build: (s) => s.reduceByKey(sync(async (a: number, b: number) => a + b)),
  },
  {
    name: "combineByKey",
    kind: /reduce function/,
    build: (s) =>
      s.combineByKey(
        sync(async (v: number) => v),
        (c: number, v: number) => c + v,
        (a: number, b: number) => a + b,
      ),
  },
  {
    name: "reduceByKey, every key with several values",
    kind: /reduce function/,
    build: (s) => s.map(([, v]) => ["k", v] as KV).reduceByKey(sync(async (a: number, b: number) => a + b)),
  },
  {
    name: "updateStateByKey",
    kind: /updateStateByKey function/,
    build: (s) =>
      s.updateStateByKey(sync(async (vs: number[], st: number | undefined) => (st ?? 0) + vs.length)),
  },
  {
    name: "mapWithState",
    kind: /mapWithState function/,
    build: (s) =>
      s.mapWithState(
        StateSpec.function(async (_k: string, v: number | undefined, state: State<number>) => {
          state.update((state.getOption() ?? 0) + (v ?? 0));
          return v;
        }),
      ),
  },
  {
    name: "reduceByKeyAndWindow (reduce)",
    kind: /reduce function/,
    build: (s) =>
      s.reduceByKeyAndWindow(
        sync(async (a: number, b: number) => a + b),
        (a: number, b: number) => a - b,
        2000,
      ),
  },
  {
    name: "reduceByKeyAndWindow (inverse)",
    kind: /inverse reduce function/,
    build: (s) =>
      s.reduceByKeyAndWindow(
        (a: number, b: number) => a + b,
        sync(async (a: number, b: number) => a - b),
        2000,
      ),
  },
  {
    name: "transform",
    kind: /transform function/,
    build: (s) => s.transform(sync(async (rdd: RDDOf<KV>) => rdd)),
  },
  {
    name: "keyBy (key extraction)",
    kind: /keyBy function/,
    build: (s) => s.transform((rdd) => rdd.keyBy(sync(async ([k]: KV) => k))),
  },
  {
    name: "sortBy (key extraction)",
    kind: /sortBy key function/,
    build: (s) => s.transform((rdd) => rdd.sortBy(sync(async ([k]: KV) => k))),
  },
];

describe("async user functions", () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on("unhandledRejection", onUnhandled);
  });
  afterEach(() => {
    process.off("unhandledRejection", onUnhandled);
  });

  for (const c of cases) {
    it(`fail the batch with SPATE_ASYNC_FUNCTION: ${c.name}`, async () => {
      const clock = new ManualClock(0);
      const ssc = new StreamingContext({ batchDuration: 1000, clock });
      const batches: Array<Array<[string, number]>> = [
        [
          ["a", 1],
          ["a", 2],
          ["b", 3],
        ],
        [["a", 4]],
        [["b", 5]],
      ];
      const ran: number[] = [];
      const op = c.build(ssc.queueStream(batches)).uid("op");
      op.foreachRDD(async (rdd, t) => {
        await rdd.collect();
        ran.push(t);
      });
      await ssc.start();
      for (let i = 0; i < 3; i++) clock.advance(1000); // the queue empties as batches are cut
      const e = await rejection(ssc.awaitIdle());
      expect(e).toBeInstanceOf(AsyncFunctionError);
      expect(e.code).toBe("SPATE_ASYNC_FUNCTION");
      const err = e as AsyncFunctionError;
      expect(err.functionKind).toMatch(c.kind);
      const inverse = c.name === "reduceByKeyAndWindow (inverse)";
      // The inverse function first runs when a batch leaves the window.
      expect(err.batchTime).toBe(inverse ? 3000 : 1000);
      expect(err.message).toContain("foreachRDD");
      expect(err.message).toMatch(/Promise/);
      if (!c.name.startsWith("reduce") && c.name !== "combineByKey") expect(err.operatorId).toBe("op");
      expect(ran).toEqual(inverse ? [1000, 2000] : []);
      await ssc.stop();
    });
  }

  it("name the operator and leave no unhandled rejection when the async function throws", async () => {
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ batchDuration: 1000, clock });
    ssc
      .queueStream([[1, 2, 3]])
      .map(async () => {
        throw new Error("lookup failed");
      })
      .uid("lookup")
      .foreachRDD(async (rdd) => void (await rdd.collect()));
    await ssc.start();
    clock.advance(1000);
    const e = (await rejection(ssc.awaitIdle())) as AsyncFunctionError;
    expect(e.code).toBe("SPATE_ASYNC_FUNCTION");
    expect(e.operatorId).toBe("lookup");
    expect(e.operatorName).toMatch(/^map at test\/async-functions\.test\.ts:\d+ \(lookup\)$/);
    expect(e.message).toContain(`operator ${e.operatorName} returned a Promise`);
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
    await ssc.stop();
  });

  // A Promise is a bug in the function, not a bad record: skip or deadLetter never drop it.
  for (const policy of ["skip", "deadLetter"]) {
    for (const [name, build] of [
      ["map", (s: DStream<number>) => s.map(async (x) => x)],
      ["keyBy", (s: DStream<number>) => s.map((x) => x).transform((rdd) => rdd.keyBy(async (x) => x))],
      [
        "reduceByKey",
        (s: DStream<number>) =>
          s.map((x) => [x % 2, x] as [number, number]).reduceByKey(sync(async (a, b) => a + b)),
      ],
      [
        "combineByKey",
        (s: DStream<number>) =>
          s
            .map((x) => [`k${x}`, x] as KV)
            .transform((rdd) =>
              rdd.combineByKey(
                sync(async (v: number) => v),
                (c, v) => c + v,
                (a, b) => a + b,
              ),
            ),
      ],
    ] as Array<[string, (s: DStream<number>) => DStream<unknown>]>) {
      it(`fail the batch under onRecordFailure "${policy}": ${name}`, async () => {
        const clock = new ManualClock(0);
        const dir = mkdtempSync(path.join(tmpdir(), "spate-async-"));
        const ssc = new StreamingContext({
          batchDuration: 1000,
          clock,
          conf: { "spate.errors.onRecordFailure": policy, "spate.errors.deadLetter.dir": dir },
        });
        const failed: number[] = [];
        ssc.addStreamingListener({
          onBatchCompleted: ({ batchInfo }) => void failed.push(batchInfo.numRecordsFailed ?? 0),
        });
        build(ssc.queueStream([[1, 2, 3]])).foreachRDD(async (rdd) => void (await rdd.collect()));
        await ssc.start();
        clock.advance(1000);
        const e = (await rejection(ssc.awaitIdle())) as AsyncFunctionError;
        expect(e.code).toBe("SPATE_ASYNC_FUNCTION");
        expect(e.batchTime).toBe(1000);
        expect(failed.every((n) => n === 0)).toBe(true);
        expect(readdirSync(dir)).toEqual([]);
        await ssc.stop();
      });
    }
  }

  it("are allowed in foreachRDD", async () => {
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ batchDuration: 1000, clock });
    const seen: number[] = [];
    ssc.queueStream([[1, 2]]).foreachRDD(async (rdd) => {
      await new Promise((r) => setTimeout(r, 5));
      seen.push(...(await rdd.collect()));
    });
    await ssc.start();
    clock.advance(1000);
    await ssc.awaitIdle();
    await ssc.stop();
    expect(seen).toEqual([1, 2]);
  });
});
