// One structured log line per batch: batch time, records, processing time, scheduling delay, state keys, and the
// data checkpoint written (or false).
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
    expect(batches.map((b) => b.level)).toEqual(["info", "info", "info"]);
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
