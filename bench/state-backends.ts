// State backends: the lmdb backend against the memory backend in the same process, and the lmdb backend holding many
// keys (100M at full size). Every batch is 100k records `[key, 1]` on keys drawn at random, summed by mapWithState.
//
// N (`keys`) is 100M at full size, 5M with --quick.
//
//   backend-lmdb-vs-memory   mapWithState over 1M keys: lmdb (the row's figures) against memory (baseline); ratio =
//                            lmdb / memory throughput (target >= 0.5)
//   backend-lmdb-many        lmdb holding N keys (8 partitions): p50 batch, JS heap after a GC (target <= 300 MB);
//                            ratio = memory p50 at 1M / this p50 (target >= 0.1, i.e. p50 <= 10x)
//   backend-checkpoint-many  the data checkpoint after a batch touching 1% of N keys: bytes, and the changed entries
//                            alone encoded with the checkpoint codec (`changedBytes`; target: bytes <= 2x)
//   backend-recovery-many    getOrCreate + start from a checkpoint whose full snapshot holds N keys (target <= 60 s)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Packr } from "msgpackr";
import { type CheckpointInfo, ManualClock, type State, StateSpec, StreamingContext } from "spate";
import {
  bySize,
  collectGarbage,
  label,
  type Log,
  peakRssMb,
  percentile,
  quietLogger,
  random,
  type ScenarioResult,
  type Size,
  sum,
  timeSteps,
} from "./measure.js";

const BATCH = 1000;
/** Records per batch (and keys per loading batch): 100k, 1000 at --smoke size. */
let PER_BATCH = 100_000;
const keyOf = (i: number) => `k${i}`;

function sums(): StateSpec<string, number, number, undefined> {
  return StateSpec.function((_k: string, v: number | undefined, state: State<number>) => {
    state.update((state.getOption() ?? 0) + (v ?? 0));
    return undefined;
  });
}

function randomBatch(next: () => number, keys: number, records: number): Array<[string, number]> {
  return Array.from({ length: records }, () => [keyOf(Math.floor(next() * keys)), 1] as [string, number]);
}

/** mapWithState over a queue on a ManualClock with `backend`: `keys` keys loaded by batches, then `count` timed. */
async function queueRun(
  backend: "memory" | "lmdb",
  keys: number,
  count: number,
  partitions: number,
  log: Log,
): Promise<{ ms: number[]; heapMb: number }> {
  const clock = new ManualClock(0);
  const queue: Array<Array<[string, number]>> = [];
  const ssc = new StreamingContext({
    batchDuration: BATCH,
    clock,
    logger: quietLogger(),
    conf: { "spate.ui.port": 0, "spate.state.backend": backend, "spate.default.parallelism": partitions },
  });
  ssc
    .queueStream(queue)
    .mapWithState(sums())
    .foreachRDD(() => {});
  await ssc.start();
  const step = async () => {
    clock.advance(BATCH);
    await ssc.awaitIdle();
  };
  log(`${backend}: loading ${keys} keys`);
  let reported = performance.now();
  for (let from = 0; from < keys; from += PER_BATCH) {
    const to = Math.min(keys, from + PER_BATCH);
    queue.push(Array.from({ length: to - from }, (_, i) => [keyOf(from + i), 0] as [string, number]));
    await step();
    if (performance.now() - reported > 10_000) {
      log(`  ${backend}: ${to} keys loaded`);
      reported = performance.now();
    }
  }
  const next = random(keys);
  for (let i = 0; i < 2; i++) {
    queue.push(randomBatch(next, keys, PER_BATCH));
    await step();
  }
  const ms = await timeSteps(
    count,
    step,
    log,
    `${backend} ${label(keys)}`,
    () => void queue.push(randomBatch(next, keys, PER_BATCH)),
  );
  collectGarbage();
  const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
  await ssc.stop();
  return { ms, heapMb };
}

/** A job whose state a checkpoint holds: text files of keys, summed; data checkpoints every `interval` batches. */
function fileJob(input: string, interval: number, partitions: number, events: CheckpointInfo[]) {
  return () => {
    const ssc = new StreamingContext({
      batchDuration: BATCH,
      clock: new ManualClock(0),
      logger: quietLogger(),
      conf: {
        "spate.ui.port": 0,
        "spate.state.backend": "lmdb",
        "spate.default.parallelism": partitions,
        "spate.checkpoint.interval": interval * BATCH,
        "spate.checkpoint.fullSnapshotEvery": 1000,
      },
    });
    ssc.addStreamingListener({
      onCheckpointWritten: ({ checkpointInfo }) => void events.push(checkpointInfo),
    });
    ssc
      .textFileStream(input)
      .map((k) => [k, 1] as [string, number])
      .mapWithState(sums())
      .uid("sums")
      .foreachRDD(() => {});
    return ssc;
  };
}

async function fileBatch(ssc: StreamingContext, input: string, n: number, keys: string[]): Promise<void> {
  writeFileSync(path.join(input, `f${String(n).padStart(6, "0")}`), `${keys.join("\n")}\n`);
  (ssc.clock as ManualClock).advance(BATCH);
  await ssc.awaitIdle();
}

/**
 * Loads `keys` keys through text files (a full snapshot at the last load batch), restarts from that checkpoint
 * (recovery), then runs one batch touching 1% of the keys with a data checkpoint after it (a delta).
 */
async function checkpointAndRecovery(keys: number, partitions: number, log: Log): Promise<ScenarioResult[]> {
  const base = mkdtempSync(path.join(tmpdir(), "spate-bench-backends-"));
  try {
    const input = path.join(base, "input");
    mkdirSync(input);
    const checkpoint = path.join(base, "checkpoint");
    const loads = Math.ceil(keys / PER_BATCH);
    const events: CheckpointInfo[] = [];
    const first = await StreamingContext.getOrCreate(checkpoint, fileJob(input, loads, partitions, events));
    await first.start();
    log(`checkpoint: loading ${keys} keys through ${loads} files`);
    let reported = performance.now();
    for (let b = 0; b < loads; b++) {
      const from = b * PER_BATCH;
      const to = Math.min(keys, from + PER_BATCH);
      await fileBatch(
        first,
        input,
        b,
        Array.from({ length: to - from }, (_, i) => keyOf(from + i)),
      );
      if (performance.now() - reported > 10_000) {
        log(`  checkpoint: ${to} keys loaded`);
        reported = performance.now();
      }
    }
    await first.stop();
    const full = events.at(-1);
    if (full?.mode !== "full")
      throw new Error("benchmark self-check failed: no full snapshot after the load");
    log(`checkpoint: full snapshot of ${keys} keys, ${full.bytes} bytes in ${full.durationMs.toFixed(0)} ms`);
    collectGarbage();
    log("recovery: getOrCreate + start");
    const started = performance.now();
    const second = await StreamingContext.getOrCreate(checkpoint, fileJob(input, 1, partitions, events));
    await second.start();
    const recoveryMs = performance.now() - started;
    if (second.restoredFrom?.batchTime !== loads * BATCH) {
      throw new Error(`benchmark self-check failed: restored from ${JSON.stringify(second.restoredFrom)}`);
    }
    log(`recovery: ${recoveryMs.toFixed(0)} ms; a batch touching 1% of the keys`);
    const next = random(7);
    const touched = new Set<string>();
    const target = Math.max(1, Math.floor(keys / 100));
    while (touched.size < target) touched.add(keyOf(Math.floor(next() * keys)));
    const changed = [...touched];
    await fileBatch(second, input, loads, changed);
    const delta = events.at(-1)!;
    collectGarbage();
    const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
    await second.stop();
    if (delta.mode !== "delta")
      throw new Error(`benchmark self-check failed: the last checkpoint is ${delta.mode}`);
    const codec = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true });
    const changedBytes = codec.pack(changed.map((k) => [k, 2, (loads + 1) * BATCH])).length;
    const peak = peakRssMb();
    return [
      {
        name: "backend-checkpoint-many",
        keys,
        checkpointBytes: delta.bytes,
        changedBytes,
        ratio: changedBytes / delta.bytes,
        checkpointMs: delta.durationMs,
        heapMb,
        peakRssMb: peak,
      },
      { name: "backend-recovery-many", keys, recoveryMs, peakRssMb: peak },
    ];
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

/** Every row of the state-backend scenarios. */
export async function stateBackends(size: Size, log: Log): Promise<ScenarioResult[]> {
  const compareKeys = bySize(size, { full: 1_000_000, quick: 1_000_000, smoke: 2000 });
  const manyKeys = bySize(size, { full: 100_000_000, quick: 5_000_000, smoke: 5000 });
  const count = bySize(size, { full: 20, quick: 10, smoke: 2 });
  const partitions = size === "smoke" ? 2 : 8;
  PER_BATCH = size === "smoke" ? 1000 : 100_000;

  const memory = await queueRun("memory", compareKeys, count, 1, log);
  collectGarbage();
  const lmdb = await queueRun("lmdb", compareKeys, count, 1, log);
  collectGarbage();
  const records = count * PER_BATCH;
  const memoryRate = records / (sum(memory.ms) / 1000);
  const lmdbRate = records / (sum(lmdb.ms) / 1000);
  const memoryP50 = percentile(memory.ms, 50);
  const compareRow: ScenarioResult = {
    name: "backend-lmdb-vs-memory",
    keys: compareKeys,
    recordsPerSec: lmdbRate,
    baselineRecordsPerSec: memoryRate,
    ratio: lmdbRate / memoryRate,
    p50BatchMs: percentile(lmdb.ms, 50),
    p99BatchMs: percentile(lmdb.ms, 99),
  };
  log(`backend: memory p50 ${memoryP50.toFixed(0)} ms at ${label(compareKeys)} keys`);

  const many = await queueRun("lmdb", manyKeys, count, partitions, log);
  collectGarbage();
  const manyP50 = percentile(many.ms, 50);
  const manyRow: ScenarioResult = {
    name: "backend-lmdb-many",
    keys: manyKeys,
    ratio: memoryP50 / manyP50,
    p50BatchMs: manyP50,
    p99BatchMs: percentile(many.ms, 99),
    heapMb: many.heapMb,
  };
  const rows = await checkpointAndRecovery(manyKeys, partitions, log);
  const peak = peakRssMb();
  return [{ ...compareRow, peakRssMb: peak }, { ...manyRow, peakRssMb: peak }, ...rows];
}
