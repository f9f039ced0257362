// Catching up a down time: a checkpointed job (textFileStream, mapWithState over 10k keys, a window of 10 batches,
// two outputs) stops, and restarts a day later with 1 s batches: every one of the 86,400 batches of the day runs
// (Spark's semantics), all of them empty but the first. Measures batches per second from `start()` to the last
// one completed, the largest metadata checkpoint written meanwhile (it must not grow with the batches pending), and
// the time to restore (`getOrCreate` + `start()`). The target is 1,000 batches/s.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  type CheckpointStore,
  FileCheckpointStore,
  ManualClock,
  type State,
  StateSpec,
  StreamingContext,
} from "spate";
import { type Log, peakRssMb, quietLogger, type ScenarioResult, type Size } from "./measure.js";

const BATCH = 1000;
const KEYS = 10_000;

/** The file store, noting the largest metadata file written. */
class MeasuredStore implements CheckpointStore {
  largestMetadata = 0;
  private readonly inner: FileCheckpointStore;
  constructor(dir: string) {
    this.inner = new FileCheckpointStore(dir);
  }
  get location(): string {
    return this.inner.location;
  }
  async write(name: string, data: Uint8Array): Promise<void> {
    if (name.startsWith("metadata-")) this.largestMetadata = Math.max(this.largestMetadata, data.length);
    await this.inner.write(name, data);
  }
  read(name: string) {
    return this.inner.read(name);
  }
  list() {
    return this.inner.list();
  }
  delete(name: string) {
    return this.inner.delete(name);
  }
}

function job(input: string, clock: ManualClock, counts: { outputs: number }): () => StreamingContext {
  return () => {
    const ssc = new StreamingContext({
      batchDuration: BATCH,
      clock,
      logger: quietLogger(),
      conf: { "spate.ui.port": 0 },
    });
    const pairs = ssc.textFileStream(input).map((k) => [k, 1] as [string, number]);
    pairs
      .mapWithState(
        StateSpec.function((_k: string, v: number | undefined, state: State<number>) => {
          state.update((state.getOption() ?? 0) + (v ?? 0));
        }),
      )
      .uid("sums")
      .foreachRDD(async (rdd) => {
        await rdd.collect();
        counts.outputs++;
      });
    pairs
      .window(10 * BATCH, BATCH)
      .count()
      .foreachRDD(async (rdd) => {
        await rdd.collect();
        counts.outputs++;
      });
    return ssc;
  };
}

export async function catchUpDay(size: Size, log: Log): Promise<ScenarioResult[]> {
  const batches = size === "smoke" ? 1000 : 86_400;
  const base = mkdtempSync(path.join(tmpdir(), "spate-bench-catch-up-"));
  const input = path.join(base, "input");
  mkdirSync(input);
  const store = new MeasuredStore(path.join(base, "checkpoint"));
  const keys = Array.from({ length: KEYS }, (_, i) => `key-${i}`).join("\n");
  try {
    const counts = { outputs: 0 };
    const first = await StreamingContext.getOrCreate(store, job(input, new ManualClock(0), counts));
    await first.start();
    for (let i = 1; i <= 3; i++) {
      writeFileSync(path.join(input, `${i}.txt`), `${keys}\n`);
      (first.clock as ManualClock).advance(BATCH);
      await first.awaitIdle();
    }
    await first.stop();
    writeFileSync(path.join(input, "4.txt"), `${keys}\n`);
    store.largestMetadata = 0;
    counts.outputs = 0;
    log(`catch-up: restarting ${batches} batches later`);
    const started = performance.now();
    const ssc = await StreamingContext.getOrCreate(
      store,
      job(input, new ManualClock(3 * BATCH + batches * BATCH), counts),
    );
    await ssc.start();
    const recoveryMs = performance.now() - started;
    await ssc.awaitIdle();
    const seconds = (performance.now() - started) / 1000;
    await ssc.stop();
    if (counts.outputs !== 2 * batches) {
      throw new Error(`benchmark self-check failed: ${counts.outputs} outputs ran, not ${2 * batches}`);
    }
    log(
      `catch-up: ${batches} batches in ${seconds.toFixed(1)} s, largest metadata ${store.largestMetadata} B`,
    );
    return [
      {
        name: "catch-up-1d",
        keys: KEYS,
        batchesPerSec: batches / seconds,
        checkpointBytes: store.largestMetadata,
        recoveryMs,
        peakRssMb: peakRssMb(),
      },
    ];
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
