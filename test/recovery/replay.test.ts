// Recovery replays the completed batches after the last data checkpoint through the scheduler, as batches without
// outputs: they post no batch event and run no output, and one that fails fails the job as a live batch does
// (state at the batch before, the error naming the batch and the operator), after which a restart is exact.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ManualClock, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";

const BATCH = 1000;

interface Run {
  totals: Map<number, Array<[string, number]>>;
  started: number[];
  /** The batch whose update function throws (a fault of the environment, not of the data). */
  failAt?: number;
}

function job(input: string, run: Run) {
  return () => {
    const ssc = new StreamingContext({
      batchDuration: BATCH,
      clock: new ManualClock(0),
      conf: { "spate.checkpoint.interval": 2 * BATCH },
    });
    ssc
      .textFileStream(input)
      .map((w) => [w, 1] as [string, number])
      .updateStateByKey((vs: number[], s: number | undefined, _key: string, time: number) => {
        if (time === run.failAt) throw new Error("the disk is gone");
        return (s ?? 0) + vs.length;
      })
      .uid("totals")
      .foreachRDD(async (rdd, time) => {
        run.totals.set(time, (await rdd.collect()).sort());
      });
    ssc.addStreamingListener({
      onBatchStarted: ({ batchInfo }) => void run.started.push(batchInfo.batchTime),
    });
    return ssc;
  };
}

async function advance(ssc: StreamingContext, input: string, name: string): Promise<void> {
  writeFileSync(path.join(input, name), "a\nb\n");
  (ssc.clock as ManualClock).advance(BATCH);
  await ssc.awaitIdle();
}

describe("replay of completed batches at recovery", () => {
  it("runs them as batches without outputs or events; one that fails fails the job, and a restart is exact", async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-replay-"));
    const input = path.join(base, "in");
    mkdirSync(input);
    const checkpoint = path.join(base, "checkpoint");

    const first: Run = { totals: new Map(), started: [] };
    const ssc1 = await StreamingContext.getOrCreate(checkpoint, job(input, first));
    await ssc1.start();
    for (let i = 1; i <= 3; i++) await advance(ssc1, input, `${i}.txt`);
    await ssc1.stop();
    expect(first.started).toEqual([1000, 2000, 3000]);

    // State is checkpointed at 2000: batch 3000, complete, is replayed into it, and fails this time.
    const second: Run = { totals: new Map(), started: [], failAt: 3000 };
    const ssc2 = await StreamingContext.getOrCreate(checkpoint, job(input, second));
    await ssc2.start();
    const failure = await ssc2.awaitTermination().then(
      () => undefined,
      (e: unknown) => e,
    );
    await ssc2.stop();
    expect(failure).toMatchObject({
      code: "SPATE_USER_FUNCTION_FAILED",
      batchTime: 3000,
      operatorId: "totals",
    });
    expect(second.started).toEqual([]);
    expect(second.totals.size).toBe(0);

    // Nothing of the failed replay was kept: the next restart replays batch 3000 again, then runs 4000.
    const third: Run = { totals: new Map(), started: [] };
    const ssc3 = await StreamingContext.getOrCreate(checkpoint, job(input, third));
    await ssc3.start();
    await ssc3.awaitIdle();
    expect(third.started).toEqual([]);
    expect(third.totals.size).toBe(0);
    await advance(ssc3, input, "4.txt");
    await ssc3.stop();
    expect(third.started).toEqual([4000]);
    expect([...third.totals]).toEqual([
      [
        4000,
        [
          ["a", 4],
          ["b", 4],
        ],
      ],
    ]);
  });
});
