// Checkpoints are user data: a folder written by spate 0.1.0 (test/fixtures/checkpoint-0.1.0/, made by
// test/fixtures/make-checkpoint-fixture.ts on that build) must restore in this build and go on exactly as a run
// that never stopped: the pending batch runs again with its recorded input, state continues from the snapshots and
// deltas, the window from its saved state.
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { type ManualClock, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";
import { BATCH, BATCHES, COMPLETED, makeJob, newOutputs, type Outputs } from "../fixtures/fixture-job.js";

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures");

const fileName = (i: number) => `f${String(i).padStart(3, "0")}`;

async function runThrough(ssc: StreamingContext, input: string, from: number): Promise<void> {
  await ssc.start();
  const clock = ssc.clock as ManualClock;
  for (let i = from; i < BATCHES.length; i++) {
    writeFileSync(path.join(input, fileName(i)), BATCHES[i]!.join("\n"));
    clock.setTime((i + 1) * BATCH);
    await ssc.awaitIdle();
  }
  await ssc.stop();
}

/** The outputs of batches from `time` on. */
function from(out: Outputs, time: number) {
  const cut = (m: Map<number, Array<[string, number]>>) =>
    [...m].filter(([t]) => t >= time).sort((a, b) => a[0] - b[0]);
  return {
    totals: cut(out.totals),
    sessions: cut(out.sessions),
    mapped: cut(out.mapped),
    windows: cut(out.windows),
  };
}

// checkpoint-0.1.0: format version 1, written by spate 0.1.0; checkpoint-format2: format version 2 (one state file
// per operator holding every partition), written by the last build before per-partition state files.
describe.each([
  ["spate 0.1.0", "checkpoint-0.1.0", false],
  ["format version 2", "checkpoint-format2", true],
])("a checkpoint written by %s", (_, folder, moved) => {
  it("restores, re-runs its pending batch and continues as a run that never stopped", async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-fixture-"));
    cpSync(path.join(fixtures, folder), base, { recursive: true });
    const input = path.join(base, "input");

    const restored = newOutputs();
    const ssc = await StreamingContext.getOrCreate(
      path.join(base, "checkpoint"),
      makeJob(input, restored, undefined, moved),
    );
    await runThrough(ssc, input, COMPLETED + 1);

    const freshInput = mkdtempSync(path.join(tmpdir(), "spate-fixture-fresh-"));
    const fresh = newOutputs();
    await runThrough(makeJob(freshInput, fresh)(), freshInput, 0);

    const pending = (COMPLETED + 1) * BATCH;
    const expected = from(fresh, pending);
    expect(expected.totals.length).toBe(BATCHES.length - COMPLETED);
    expect(expected.totals[0]![0]).toBe(pending);
    expect(from(restored, pending)).toEqual(expected);
    // Nothing before the pending batch ran again.
    expect(Math.min(...restored.totals.keys())).toBe(pending);
  });
});
