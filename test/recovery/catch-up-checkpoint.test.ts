// A data checkpoint skipped while catching up (at most one a second per operator) is written with the first batch
// after the catch-up, so the state on disk does not stay behind the job, e.g. when it stops right after catching up.
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ManualClock, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";

const BATCH = 1000;

describe("catching up", () => {
  it("writes the data checkpoints it skipped once the backlog is gone", async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-catch-up-checkpoint-"));
    const input = path.join(base, "in");
    mkdirSync(input);
    const checkpoint = path.join(base, "checkpoint");
    const stateTimes = () =>
      readdirSync(checkpoint)
        .map((n) => /^state-totals-.*?(\d{16})\.(full|delta)$/.exec(n)?.[1])
        .filter((t): t is string => t !== undefined)
        .map(Number);
    const ssc = new StreamingContext({
      batchDuration: BATCH,
      clock: new ManualClock(0),
      conf: { "spate.ui.port": 0, "spate.checkpoint.interval": 10 * BATCH },
    });
    ssc.checkpoint(checkpoint);
    ssc
      .textFileStream(input)
      .map((w) => [w, 1] as [string, number])
      .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
      .uid("totals")
      .foreachRDD(() => {});
    await ssc.start();
    const clock = ssc.clock as ManualClock;
    writeFileSync(path.join(input, "1"), "a");
    clock.setTime(1 * BATCH);
    await ssc.awaitIdle();
    // 24 batches at once: a backlog. The first due checkpoint (10 s) is written, the next (20 s) comes less than a
    // second later while batches are still queued, so it is skipped.
    clock.setTime(25 * BATCH);
    await ssc.awaitIdle();
    expect(Math.max(...stateTimes())).toBe(25 * BATCH);
    await ssc.stop();
  });
});
