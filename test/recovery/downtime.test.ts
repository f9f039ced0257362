// Down time: a job restarted a day after it stopped runs every batch of that day (Spark's semantics), at a cost per
// batch that does not grow with the number of batches pending: metadata checkpoints of constant size, empty batches
// that write nothing, progress in the log and in the UI's statistics.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CheckpointStore,
  FileCheckpointStore,
  type Logger,
  ManualClock,
  type RDD,
  StreamingContext,
} from "spate";
import { describe, expect, it } from "vitest";
import { decodeCheckpointFile } from "../../src/checkpoint/format.js";

const BATCH = 1000;
const DAY = 86_400_000;
const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures");

interface Line {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

function recordingLogger(lines: Line[]): Logger {
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void =>
      void lines.push({ level, fields, message });
  return { debug() {}, info: at("info"), warn: at("warn"), error: at("error") };
}

/** A file store that remembers the size of every metadata file written. */
class MeasuredStore implements CheckpointStore {
  readonly metadataSizes: Array<[name: string, bytes: number]> = [];
  private readonly inner: FileCheckpointStore;
  constructor(dir: string) {
    this.inner = new FileCheckpointStore(dir);
  }
  get location(): string {
    return this.inner.location;
  }
  async write(name: string, data: Uint8Array): Promise<void> {
    if (name.startsWith("metadata-")) this.metadataSizes.push([name, data.length]);
    await this.inner.write(name, data);
  }
  read(name: string): Promise<Uint8Array | undefined> {
    return this.inner.read(name);
  }
  list(): Promise<string[]> {
    return this.inner.list();
  }
  delete(name: string): Promise<void> {
    return this.inner.delete(name);
  }
}

const sortedCollect = async <T>(rdd: RDD<T>) => (await rdd.collect()).sort();

describe("down time", () => {
  it("catches up a day of 1 s batches: every batch runs, windows stay exact, metadata stays the same size", async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-downtime-"));
    const input = path.join(base, "in");
    mkdirSync(input);
    const store = new MeasuredStore(path.join(base, "checkpoint"));
    const windows = new Map<number, number>();
    const totals = new Map<number, number>();
    let slowAt: number | undefined;
    const create = (clock: ManualClock, logger: Logger) => () => {
      const ssc = new StreamingContext({
        batchDuration: BATCH,
        clock,
        logger,
        conf: { "spate.ui.port": 0, "spate.checkpoint.interval": 10 * BATCH },
      });
      const words = ssc.textFileStream(input).map((w) => [w, 1] as [string, number]);
      words
        .window(3 * BATCH, BATCH)
        .count()
        .foreachRDD(async (rdd, time) => {
          windows.set(time, (await rdd.collect())[0] ?? 0);
        });
      words
        .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
        .uid("totals")
        .foreachRDD(async (rdd, time) => {
          totals.set(
            time,
            (await rdd.collect()).reduce((n, [, c]) => n + c, 0),
          );
          // One slow batch in the middle of the catch-up: the log shows progress while it runs.
          if (time === slowAt) await new Promise((r) => setTimeout(r, 10_500));
        });
      return ssc;
    };

    const first = await StreamingContext.getOrCreate(store, create(new ManualClock(0), recordingLogger([])));
    await first.start();
    for (let i = 1; i <= 3; i++) {
      writeFileSync(path.join(input, `${i}.txt`), "a\nb\n");
      (first.clock as ManualClock).advance(BATCH);
      await first.awaitIdle();
    }
    await first.stop();
    const before = store.metadataSizes.at(-1)![1];
    const writesBefore = store.metadataSizes.length;
    expect(totals.get(3 * BATCH)).toBe(6);

    // A day later: one file arrived meanwhile.
    writeFileSync(path.join(input, "4.txt"), "c\n");
    const stopped = 3 * BATCH;
    const now = stopped + DAY;
    slowAt = stopped + 40_000 * BATCH;
    const lines: Line[] = [];
    const started = performance.now();
    const second = await StreamingContext.getOrCreate(
      store,
      create(new ManualClock(now), recordingLogger(lines)),
    );
    await second.start();
    await second.awaitIdle();
    const seconds = (performance.now() - started) / 1000;
    const status = second.catchUpStatus();
    await second.stop();

    // Every batch of the day ran, the first with the file that arrived.
    const batches = DAY / BATCH;
    for (let t = stopped + BATCH; t <= now; t += BATCH) {
      if (!totals.has(t)) throw new Error(`batch ${t} did not run`);
    }
    expect(totals.size).toBe(3 + batches);
    expect(totals.get(now)).toBe(7);
    // Windows of 3 batches: the first ones of the day still hold the last batches before it (2 records each),
    // the file is in the first three, then the windows are empty.
    expect([1, 2, 3, 4].map((k) => windows.get(stopped + k * BATCH))).toEqual([5, 3, 1, 0]);
    expect(windows.get(now)).toBe(0);

    // Metadata checkpoints written while catching up are as small as before the down time: no list of pending
    // batches, no empty allocations.
    const during = store.metadataSizes.slice(writesBefore);
    expect(during.length).toBeGreaterThan(0);
    // The first, written as the catch-up starts, records all 86,400 batches as pending: it is as small as the one
    // before. Later ones grow only by the state files they list (at most spate.checkpoint.fullSnapshotEvery).
    expect(during[0]![1]).toBeLessThanOrEqual(before + 64);
    expect(Math.max(...during.map(([, n]) => n))).toBeLessThan(2048);
    // Empty batches write no metadata of their own: far fewer writes than batches.
    expect(during.length).toBeLessThan(batches / 10);
    const newest = readFileSync(path.join(store.location, during.at(-1)![0]));
    const md = decodeCheckpointFile(newest, "metadata", "newest") as Record<string, unknown>;
    expect(md.pendingTimes).toBeUndefined();
    expect(md.pending).toEqual([]);

    // The log says how many batches the down time has, shows progress while catching up, and the end.
    const restored = lines.find((l) => l.message === "restored from checkpoint");
    expect(restored?.fields).toMatchObject({ downTimeBatches: batches });
    const down = lines.find((l) => l.message.startsWith("down time"));
    expect(down?.fields).toMatchObject({ batches, from: stopped + BATCH, until: now });
    const progress = lines.filter((l) => l.message === "catching up the batches since the stop");
    // The slow batch is the 40,000th: more than 10 s passed while it ran, so a line comes as it completes.
    expect(progress.find((l) => l.fields.completed === 40_000)?.fields).toMatchObject({
      of: batches,
      batchesPerSecond: expect.any(Number),
    });
    const end = lines.find((l) => l.message.startsWith("caught up"));
    expect(end?.fields).toMatchObject({ batches });
    expect(status).toMatchObject({ batches, completed: batches, downTimeBatches: batches });
    // Not a speed test (see `npm run bench -- --only catch-up-1d`): only that it is far from quadratic.
    expect(batches / seconds).toBeGreaterThan(200);
  }, 180_000);

  it("restores a 0.1.0 checkpoint whose pending batches are a list, and its down time", async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-downtime-old-"));
    cpSync(path.join(fixtures, "pending-0.1.0"), base, { recursive: true });
    const input = path.join(base, "input");
    // Arrived while the job was down.
    writeFileSync(path.join(input, "4.txt"), "a\nd\n");
    const outputs = new Map<number, Array<[string, number]>>();
    const lines: Line[] = [];
    const ssc = await StreamingContext.getOrCreate(path.join(base, "checkpoint"), () => {
      const ssc = new StreamingContext({
        batchDuration: BATCH,
        clock: new ManualClock(10 * BATCH),
        logger: recordingLogger(lines),
        conf: { "spate.ui.port": 0, "spate.checkpoint.interval": 2 * BATCH },
      });
      ssc
        .textFileStream(input)
        .map((w) => [w, 1] as [string, number])
        .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
        .uid("totals")
        .foreachRDD(async (rdd, time) => void outputs.set(time, await sortedCollect(rdd)));
      return ssc;
    });
    await ssc.start();
    await ssc.awaitIdle();
    await ssc.stop();
    // Batches 3000 to 5000 were pending (3000 with 3.txt, 4000 and 5000 empty); 6000 to 10000 are the down time,
    // the first of which reads 4.txt.
    expect([...outputs.keys()]).toEqual([3, 4, 5, 6, 7, 8, 9, 10].map((k) => k * BATCH));
    const at3: Array<[string, number]> = [
      ["a", 2],
      ["b", 2],
      ["c", 3],
    ];
    expect(outputs.get(3000)).toEqual(at3);
    expect(outputs.get(5000)).toEqual(at3);
    const at6: Array<[string, number]> = [
      ["a", 3],
      ["b", 2],
      ["c", 3],
      ["d", 1],
    ];
    expect(outputs.get(6000)).toEqual(at6);
    expect(outputs.get(10_000)).toEqual(at6);
    expect(lines.find((l) => l.message === "restored from checkpoint")?.fields).toMatchObject({
      pendingAtStop: 3,
      downTimeBatches: 5,
    });
  });
});
