// Recovery in one process, on a ManualClock: restore after a stop, fall back over a torn or corrupt checkpoint,
// refuse a directory with no valid one, and upgrade a job across versions by operator id.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ManualClock, type SpateError, type State, StateSpec, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";
import { rejection } from "../support/rejection.js";

const BATCH = 1000;

interface Job {
  /** totals per batch time, from updateStateByKey */
  totals: Map<number, Array<[string, number]>>;
  sessions: Map<number, Array<[string, number]>>;
  windows: Map<number, Array<[string, number]>>;
}

type Version = "v1" | "v2-new-branch" | "v3-no-sessions";

function makeJob(input: string, version: Version, job: Job, conf: Record<string, number | boolean> = {}) {
  return () => {
    const ssc = new StreamingContext({
      batchDuration: BATCH,
      clock: new ManualClock(0),
      conf: { "spate.checkpoint.interval": 2 * BATCH, "spate.checkpoint.fullSnapshotEvery": 2, ...conf },
    });
    const words = ssc
      .textFileStream(input)
      .flatMap((l) => l.split(" "))
      .map((w) => [w, 1] as [string, number]);
    if (version === "v2-new-branch")
      words
        .filter(([w]) => w.startsWith("a"))
        .count()
        .foreachRDD(() => {});
    words
      .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
      .foreachRDD(async (rdd, t) => void job.totals.set(t, (await rdd.collect()).sort()));
    if (version !== "v3-no-sessions") {
      words
        .mapWithState(
          StateSpec.function((_w: string, v: number | undefined, state: State<number>) => {
            state.update((state.getOption() ?? 0) + (v ?? 0));
          }),
        )
        .stateSnapshots()
        .foreachRDD(async (rdd, t) => void job.sessions.set(t, (await rdd.collect()).sort()));
    }
    words
      .reduceByKeyAndWindow(
        (a, b) => a + b,
        (a, b) => a - b,
        3 * BATCH,
      )
      .foreachRDD(async (rdd, t) => void job.windows.set(t, (await rdd.collect()).sort()));
    return ssc;
  };
}

const newJob = (): Job => ({ totals: new Map(), sessions: new Map(), windows: new Map() });
const BATCHES = [["a b", "c"], ["a a"], [], ["b c d"], ["a"], ["d d e"], ["e a"], ["b"]];

function dirs() {
  const base = mkdtempSync(path.join(tmpdir(), "spate-recovery-"));
  const input = path.join(base, "input");
  mkdirSync(input);
  return { checkpoint: path.join(base, "checkpoint"), input };
}

/** Runs batches `from..to-1` of BATCHES: each batch's file is written just before its batch time. */
async function run(ssc: StreamingContext, input: string, from: number, to: number): Promise<void> {
  await ssc.start();
  const clock = ssc.clock as ManualClock;
  for (let i = from; i < to; i++) {
    writeFileSync(path.join(input, `f${String(i).padStart(3, "0")}`), BATCHES[i]!.join("\n"));
    clock.setTime((i + 1) * BATCH);
    await ssc.awaitIdle();
  }
}

async function reference(): Promise<Job> {
  const d = dirs();
  const job = newJob();
  const ssc = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v1", job));
  await run(ssc, d.input, 0, BATCHES.length);
  await ssc.stop();
  return job;
}

function lastOf(m: Map<number, Array<[string, number]>>) {
  return m.get(Math.max(...m.keys()));
}

describe("recovery from checkpoints", () => {
  it("resumes after a stop with the same results as a run that never stopped", async () => {
    const expected = await reference();
    const d = dirs();
    const first = newJob();
    const ssc1 = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v1", first));
    expect(ssc1.restoredFrom).toBeUndefined();
    await run(ssc1, d.input, 0, 5);
    await ssc1.stop();
    const second = newJob();
    const ssc2 = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v1", second));
    await ssc2.start();
    expect(ssc2.restoredFrom?.batchTime).toBe(5 * BATCH);
    expect(ssc2.clock.getTimeMillis()).toBe(5 * BATCH);
    await ssc2.stop();
    const third = newJob();
    const ssc3 = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v1", third));
    await run(ssc3, d.input, 5, BATCHES.length);
    await ssc3.stop();
    for (const t of [6, 7, 8].map((i) => i * BATCH)) {
      expect(third.totals.get(t)).toEqual(expected.totals.get(t));
      expect(third.sessions.get(t)).toEqual(expected.sessions.get(t));
      expect(third.windows.get(t)).toEqual(expected.windows.get(t));
    }
  });

  it("rebuilds state from zero time when the job stopped before its first data checkpoint", async () => {
    const expected = await reference();
    const d = dirs();
    const conf = { "spate.checkpoint.interval": 100 * BATCH };
    const ssc1 = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v1", newJob(), conf));
    await run(ssc1, d.input, 0, 3);
    await ssc1.stop();
    expect(readdirSync(d.checkpoint).filter((n) => n.startsWith("state-"))).toEqual([]);
    const job = newJob();
    const ssc2 = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v1", job, conf));
    await run(ssc2, d.input, 3, BATCHES.length);
    await ssc2.stop();
    expect(lastOf(job.totals)).toEqual(lastOf(expected.totals));
    expect(lastOf(job.sessions)).toEqual(lastOf(expected.sessions));
    expect(job.windows.get(8 * BATCH)).toEqual(expected.windows.get(8 * BATCH));
  });

  it("falls back to the previous checkpoint when the newest metadata file is torn, and says so", async () => {
    const expected = await reference();
    const d = dirs();
    const ssc1 = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v1", newJob()));
    await run(ssc1, d.input, 0, 5);
    await ssc1.stop();
    const newest = readdirSync(d.checkpoint)
      .filter((n) => n.startsWith("metadata-"))
      .sort()
      .at(-1)!;
    const file = path.join(d.checkpoint, newest);
    writeFileSync(file, readFileSync(file).subarray(0, 20)); // torn: cut short
    const job = newJob();
    const ssc2 = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v1", job));
    expect(ssc2.restoredFrom?.skipped).toEqual([newest]);
    await run(ssc2, d.input, 5, BATCHES.length);
    await ssc2.stop();
    expect(lastOf(job.totals)).toEqual(lastOf(expected.totals));
    expect(lastOf(job.sessions)).toEqual(lastOf(expected.sessions));
    expect(job.windows.get(8 * BATCH)).toEqual(expected.windows.get(8 * BATCH));
  });

  it("falls back over a corrupt state file to a checkpoint that does not need it", async () => {
    const expected = await reference();
    const d = dirs();
    const ssc1 = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v1", newJob()));
    await run(ssc1, d.input, 0, 6);
    await ssc1.stop();
    const newestState = readdirSync(d.checkpoint)
      .filter((n) => n.startsWith("state-"))
      .sort((a, b) => {
        const t = (n: string) => n.split("-").at(-1)!;
        return t(a) < t(b) ? -1 : 1;
      })
      .at(-1)!;
    const file = path.join(d.checkpoint, newestState);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 0xff; // one flipped bit in the body: the checksum catches it
    writeFileSync(file, bytes);
    const job = newJob();
    const ssc2 = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v1", job));
    expect(ssc2.restoredFrom?.skipped.length).toBeGreaterThan(0);
    await run(ssc2, d.input, 6, BATCHES.length);
    await ssc2.stop();
    expect(lastOf(job.totals)).toEqual(lastOf(expected.totals));
    expect(lastOf(job.sessions)).toEqual(lastOf(expected.sessions));
  });

  it("fails with SPATE_CHECKPOINT_CORRUPT when no checkpoint in the directory verifies", async () => {
    const d = dirs();
    const ssc1 = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v1", newJob()));
    await run(ssc1, d.input, 0, 3);
    await ssc1.stop();
    for (const n of readdirSync(d.checkpoint).filter((x) => x.startsWith("metadata-"))) {
      writeFileSync(path.join(d.checkpoint, n), "not a checkpoint");
    }
    let created = false;
    const e = await rejection(
      StreamingContext.getOrCreate(d.checkpoint, () => {
        created = true;
        return makeJob(d.input, "v1", newJob())();
      }),
    );
    expect(e.code).toBe("SPATE_CHECKPOINT_CORRUPT");
    expect(e.message).toContain(d.checkpoint);
    expect(created).toBe(false);
  });

  it("restores a checkpoint of version 1 into a version 2 that adds a stateless branch", async () => {
    const expected = await reference();
    const d = dirs();
    const ssc1 = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v1", newJob()));
    await run(ssc1, d.input, 0, 4);
    await ssc1.stop();
    const job = newJob();
    const ssc2 = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v2-new-branch", job));
    await run(ssc2, d.input, 4, BATCHES.length);
    await ssc2.stop();
    expect(ssc2.restoredFrom).toBeDefined();
    expect(lastOf(job.totals)).toEqual(lastOf(expected.totals));
    expect(lastOf(job.sessions)).toEqual(lastOf(expected.sessions));
    expect(job.windows.get(8 * BATCH)).toEqual(expected.windows.get(8 * BATCH));
  });

  it("refuses a version that removes a stateful operator, naming it, unless state may be dropped", async () => {
    const d = dirs();
    const ssc1 = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v1", newJob()));
    await run(ssc1, d.input, 0, 3);
    await ssc1.stop();
    const e = await rejection(
      StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, "v3-no-sessions", newJob())),
    );
    expect(e.code).toBe("SPATE_GRAPH_MISMATCH");
    expect(e.message).toMatch(/mapWithState-[0-9a-f]{8}/);
    expect((e as unknown as { operators: string[] }).operators).toEqual([
      e.message.match(/mapWithState-[0-9a-f]{8}/)![0],
    ]);
    const job = newJob();
    const ssc3 = await StreamingContext.getOrCreate(
      d.checkpoint,
      makeJob(d.input, "v3-no-sessions", job, { "spate.checkpoint.allowNonRestoredState": true }),
    );
    await run(ssc3, d.input, 3, 5);
    await ssc3.stop();
    expect(lastOf(job.totals)).toEqual([
      ["a", 4],
      ["b", 2],
      ["c", 2],
      ["d", 1],
    ]);
  });

  it("refuses checkpointing over a queue stream, which cannot be replayed", async () => {
    const d = dirs();
    const ssc = await StreamingContext.getOrCreate(d.checkpoint, () => {
      const s = new StreamingContext({ batchDuration: BATCH, clock: new ManualClock(0) });
      s.queueStream([[1]]).print();
      return s;
    });
    expect((await rejection(ssc.start())).code).toBe("SPATE_NOT_REPLAYABLE");
  });
});
