// Checkpoint benchmarks: a data checkpoint of 1M keys held by mapWithState, full versus delta with 1% changed,
// and recovery of a checkpoint of 1M keys. Measured end to end through the engine (textFileStream input, the
// default file checkpoint store, fsync included); `changedBytes` is the serialized size of the changed entries
// alone, encoded with the checkpoint codec, so `bytes / changedBytes` shows what a delta costs over the minimum.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Packr } from "msgpackr";
import { type CheckpointInfo, ManualClock, type State, StateSpec, StreamingContext } from "spate";

export interface CheckpointScenario {
  name: string;
  keys: number;
  checkpointBytes?: number;
  changedBytes?: number;
  checkpointMs?: number;
  recoveryMs?: number;
}

const BATCH = 1000;

function job(input: string, events: CheckpointInfo[]): () => StreamingContext {
  return () => {
    const ssc = new StreamingContext({
      batchDuration: BATCH,
      clock: new ManualClock(0),
      conf: { "spate.checkpoint.interval": BATCH, "spate.checkpoint.fullSnapshotEvery": 1000 },
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

export async function runCheckpointScenarios(
  keys = 1_000_000,
  log = (m: string) => process.stderr.write(`${m}\n`),
) {
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
    await restored.stop();
    const scenarios: CheckpointScenario[] = [
      {
        name: `checkpoint-full-${label(keys)}`,
        keys,
        checkpointBytes: full.bytes,
        changedBytes,
        checkpointMs: full.durationMs,
      },
      {
        name: `checkpoint-delta-${label(keys)}`,
        keys,
        checkpointBytes: delta.bytes,
        changedBytes,
        checkpointMs: delta.durationMs,
      },
      { name: `recovery-${label(keys)}`, keys, recoveryMs },
    ];
    return scenarios;
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

function label(n: number): string {
  return n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runCheckpointScenarios(Number(process.env.KEYS ?? 1_000_000));
  console.table(
    rows.map((r) => ({
      scenario: r.name,
      bytes: r.checkpointBytes,
      changedBytes: r.changedBytes,
      "bytes/changed":
        r.checkpointBytes && r.changedBytes ? (r.checkpointBytes / r.changedBytes).toFixed(2) : "",
      ms: (r.checkpointMs ?? r.recoveryMs)?.toFixed(1),
    })),
  );
}
