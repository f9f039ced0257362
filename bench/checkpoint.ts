// Checkpoint benchmarks: a data checkpoint of 1M keys held by mapWithState, full versus delta with 1% changed,
// and recovery of a checkpoint of 1M keys. Measured end to end through the engine (textFileStream input, the
// default file checkpoint store, fsync included); `changedBytes` is the serialized size of the changed entries
// alone, encoded with the checkpoint codec, so `checkpointBytes / changedBytes` shows what a checkpoint costs over
// the minimum (the rows' `ratio` is its inverse, like every other ratio of the benchmark: baseline over engine).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Packr } from "msgpackr";
import { type CheckpointInfo, ManualClock, type State, StateSpec, StreamingContext } from "spate";
import { label, type Log, peakRssMb, quietLogger, type ScenarioResult, stderrLog } from "./measure.js";

const BATCH = 1000;

function job(input: string, events: CheckpointInfo[]): () => StreamingContext {
  return () => {
    const ssc = new StreamingContext({
      batchDuration: BATCH,
      clock: new ManualClock(0),
      logger: quietLogger(),
      conf: {
        "spate.checkpoint.interval": BATCH,
        "spate.checkpoint.fullSnapshotEvery": 1000,
        "spate.ui.port": 0,
      },
    });
    ssc.addStreamingListener({
      onCheckpointWritten: ({ checkpointInfo }) => void events.push(checkpointInfo),
    });
    ssc
      .textFileStream(input)
      .map((k) => [k, 1] as [string, number])
      .mapWithState(
        StateSpec.function((_k: string, v: number | undefined, state: State<number>) => {
          state.update((state.getOption() ?? 0) + (v ?? 0));
        }),
      )
      .uid("sums")
      .foreachRDD(() => {});
    return ssc;
  };
}

async function batch(ssc: StreamingContext, input: string, name: string, keys: string[]): Promise<void> {
  writeFileSync(path.join(input, name), `${keys.join("\n")}\n`);
  (ssc.clock as ManualClock).advance(BATCH);
  await ssc.awaitIdle();
}

/**
 * `checkpoint-full-<n>`, `checkpoint-delta-<n>` and `recovery-<n>` for `keys` keys; `suffix` names the size
 * (default: from `keys`). `ratio` of the checkpoint rows is `changedBytes / checkpointBytes`: the least a
 * checkpoint could write over what it wrote.
 */
export async function runCheckpointScenarios(
  keys = 1_000_000,
  log: Log = stderrLog,
  suffix = label(keys),
): Promise<ScenarioResult[]> {
  const base = mkdtempSync(path.join(tmpdir(), "spate-bench-checkpoint-"));
  const input = path.join(base, "input");
  mkdirSync(input);
  const checkpoint = path.join(base, "checkpoint");
  const events: CheckpointInfo[] = [];
  const all = Array.from({ length: keys }, (_, i) => `key-${i}`);
  const changed = all.filter((_, i) => i % 100 === 0);
  try {
    log(`checkpoint: loading ${keys} keys`);
    const ssc = await StreamingContext.getOrCreate(checkpoint, job(input, events));
    await ssc.start();
    await batch(ssc, input, "0-all.txt", all);
    const full = events.at(-1)!;
    log(`checkpoint: full snapshot ${full.bytes} bytes in ${full.durationMs.toFixed(0)} ms; changing 1%`);
    await batch(ssc, input, "1-changed.txt", changed);
    const delta = events.at(-1)!;
    await ssc.stop();
    const codec = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true });
    const changedBytes = codec.pack(changed.map((k) => [k, 2, 2 * BATCH])).length;
    log("checkpoint: recovering");
    const started = performance.now();
    const restored = await StreamingContext.getOrCreate(checkpoint, job(input, []));
    await restored.start();
    const recoveryMs = performance.now() - started;
    const from = restored.restoredFrom;
    await restored.stop();
    if (from?.batchTime !== 2 * BATCH) {
      throw new Error(
        `benchmark self-check failed: recovery resumed from ${JSON.stringify(from)}, not batch 2`,
      );
    }
    const peak = peakRssMb();
    if (full.mode !== "full" || delta.mode !== "delta") {
      throw new Error(`benchmark self-check failed: checkpoints were ${full.mode} then ${delta.mode}`);
    }
    return [
      {
        name: `checkpoint-full-${suffix}`,
        keys,
        checkpointBytes: full.bytes,
        changedBytes,
        ratio: changedBytes / full.bytes,
        checkpointMs: full.durationMs,
        peakRssMb: peak,
      },
      {
        name: `checkpoint-delta-${suffix}`,
        keys,
        checkpointBytes: delta.bytes,
        changedBytes,
        ratio: changedBytes / delta.bytes,
        checkpointMs: delta.durationMs,
        peakRssMb: peak,
      },
      { name: `recovery-${suffix}`, keys, recoveryMs, peakRssMb: peak },
    ];
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
