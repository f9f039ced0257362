// Recovery shows progress through the job's own logger: each state file read, each operator's state restored,
// and the replay of completed batches into state.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type Logger, ManualClock, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";

const BATCH = 1000;

function job(input: string, logger: Logger) {
  return () => {
    const ssc = new StreamingContext({
      batchDuration: BATCH,
      clock: new ManualClock(0),
      logger,
      conf: { "spate.checkpoint.interval": 2 * BATCH },
    });
    ssc
      .textFileStream(input)
      .map((w) => [w, 1] as [string, number])
      .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
      .uid("totals")
      .foreachRDD(() => {});
    return ssc;
  };
}

describe("recovery progress", () => {
  it("logs the state files read, the state restored and the batches replayed", async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-progress-"));
    const input = path.join(base, "in");
    mkdirSync(input);
    const checkpoint = path.join(base, "checkpoint");
    const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };
    const first = await StreamingContext.getOrCreate(checkpoint, job(input, silent));
    await first.start();
    for (let i = 1; i <= 3; i++) {
      writeFileSync(path.join(input, `${i}.txt`), "a\nb\n");
      (first.clock as ManualClock).advance(BATCH);
      await first.awaitIdle();
    }
    await first.stop();

    const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const info = (fields: Record<string, unknown>, message: string) => void lines.push({ fields, message });
    const second = await StreamingContext.getOrCreate(checkpoint, job(input, { ...silent, info }));
    await second.start();
    await second.awaitIdle();
    await second.stop();
    const messages = lines.map((l) => l.message);
    // State checkpointed at 2000; batch 3000 completed after it is replayed into state.
    const read = lines.find((l) => l.message === "state checkpoint file read");
    expect(read?.fields).toMatchObject({ operatorId: "totals", read: 1, of: 1, bytes: expect.any(Number) });
    expect(lines.find((l) => l.message === "state restored")?.fields).toMatchObject({
      operatorId: "totals",
      version: 2000,
    });
    expect(lines.find((l) => l.message === "replaying completed batches into state")?.fields).toMatchObject({
      batchTime: 3000,
      done: 1,
      of: 1,
    });
    expect(messages.indexOf("state checkpoint file read")).toBeLessThan(messages.indexOf("state restored"));
  });
});
