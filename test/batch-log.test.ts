// One structured log line per batch at debug level: batch time, records, processing time, scheduling delay, state
// keys, and the data checkpoint written (or false); and at info level a summary every 10 s of the context's clock.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type Logger, ManualClock, type State, StateSpec, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";

function recordingLogger() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void => {
      lines.push({ level, fields, message });
    };
  const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { logger, lines };
}

describe("the per-batch log line", () => {
  it("reports records, delays, state keys and data checkpoints of every batch", async () => {
    const { logger, lines } = recordingLogger();
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ batchDuration: 1000, clock, logger });
    const dir = mkdtempSync(path.join(tmpdir(), "spate-log-"));
    const input = path.join(dir, "in");
    mkdirSync(input);
    ssc.checkpoint(path.join(dir, "checkpoint"));
    ssc
      .textFileStream(input)
      .map((w) => [w, 1] as [string, number])
      .mapWithState(
        StateSpec.function((_k: string, v: number | undefined, state: State<number>) => {
          state.update((state.getOption() ?? 0) + (v ?? 0));
        }),
      )
      .checkpoint(2000)
      .foreachRDD(() => {});
    await ssc.start();
    for (const [i, words] of [["a", "b"], ["a", "c", "d"], []].entries()) {
      if (words.length > 0) writeFileSync(path.join(input, `${i}.txt`), `${words.join("\n")}\n`);
      clock.advance(1000);
      await ssc.awaitIdle();
    }
    await ssc.stop();
    const batches = lines.filter((l) => l.message === "batch completed");
    expect(batches.map((b) => b.level)).toEqual(["debug", "debug", "debug"]);
    expect(batches.map((b) => b.fields.batchTime)).toEqual([1000, 2000, 3000]);
    expect(batches.map((b) => b.fields.records)).toEqual([2, 3, 0]);
    expect(batches.map((b) => b.fields.stateKeys)).toEqual([2, 4, 4]);
    for (const b of batches) {
      expect(b.fields.processingMs).toBeGreaterThanOrEqual(0);
      expect(b.fields.schedulingDelayMs).toBeGreaterThanOrEqual(0);
    }
    // The stream checkpoints its state every 2 s of batch time: after batch 2000 only.
    expect(batches[0]!.fields.checkpoint).toBe(false);
    expect(batches[1]!.fields.checkpoint).toMatchObject({ bytes: expect.any(Number) });
    expect(batches[2]!.fields.checkpoint).toBe(false);
  });
});

describe("the batches summary", () => {
  it("is written at info every 10 s of the context's clock, and when the context stops", async () => {
    const { logger, lines } = recordingLogger();
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ batchDuration: 1000, clock, logger });
    const batches = Array.from({ length: 15 }, (_, i) => Array.from({ length: i + 1 }, (_, j) => `k${j}`));
    ssc
      .queueStream(batches)
      .map((k) => [k, 1] as [string, number])
      .updateStateByKey((values: number[], state: number | undefined) => (state ?? 0) + values.length)
      .foreachRDD(() => {});
    await ssc.start();
    for (let i = 0; i < 15; i++) {
      clock.advance(1000);
      await ssc.awaitIdle();
    }
    const before = lines.filter((l) => l.message === "batches summary");
    await ssc.stop();
    const summaries = lines.filter((l) => l.message === "batches summary");
    // Nothing at info per batch: only the summaries.
    expect(lines.filter((l) => l.level === "info" && l.message === "batch completed")).toEqual([]);
    expect(summaries.map((s) => s.level)).toEqual(["info", "info"]);
    // The first period starts when the first batch ends (1000) and closes with the batch that ends 10 s later.
    expect(before).toHaveLength(1);
    expect(summaries[0]!.fields).toMatchObject({
      periodMs: 10_000,
      batches: 11,
      failedBatches: 0,
      records: 66, // 1 + 2 + ... + 11
      stateKeys: 11,
      lastBatchTime: 11_000,
    });
    // The rest when the context stops.
    expect(summaries[1]!.fields).toMatchObject({
      batches: 4,
      failedBatches: 0,
      records: 12 + 13 + 14 + 15,
      stateKeys: 15,
      lastBatchTime: 15_000,
    });
    for (const s of summaries) {
      expect(s.fields.avgProcessingMs).toBeGreaterThanOrEqual(0);
      expect(s.fields.avgSchedulingDelayMs).toBeGreaterThanOrEqual(0);
    }
  });

  it("counts a failed batch and is written when the batch fails", async () => {
    const { logger, lines } = recordingLogger();
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ batchDuration: 1000, clock, logger });
    ssc
      .queueStream([["a"], ["b"], ["boom"]])
      .map((w) => {
        if (w === "boom") throw new Error("bad record");
        return w;
      })
      .foreachRDD(async (rdd) => {
        await rdd.collect();
      });
    await ssc.start();
    clock.advance(3000);
    await ssc.awaitIdle().catch(() => {});
    await ssc.stop();
    const summaries = lines.filter((l) => l.message === "batches summary");
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.fields).toMatchObject({
      batches: 2,
      failedBatches: 1,
      records: 2,
      lastBatchTime: 3000,
    });
  });
});
