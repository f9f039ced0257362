// Running sums with mapWithState and checkpointing on, at the default data checkpoint interval (10 s of batch time,
// so every 10th batch of 1 s): what fault tolerance costs a stateful job end to end. Input comes from files
// (checkpointing needs replayable input), the clock is a ManualClock advanced batch by batch, and every batch writes
// its metadata checkpoints durably. The baseline reads the same files and updates a Map.
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type CheckpointInfo, ManualClock, type State, StateSpec, StreamingContext } from "spate";
import {
  bySize,
  collectGarbage,
  type Log,
  peakRssMb,
  quietLogger,
  random,
  type ScenarioResult,
  type Size,
  sum,
  throughput,
  timeSteps,
} from "./measure.js";

const BATCH_MS = 1000;

export async function runningSumCheckpointed(size: Size, log: Log): Promise<ScenarioResult[]> {
  const perBatch = bySize(size, { full: 100_000, quick: 100_000, smoke: 20 });
  const keySpace = bySize(size, { full: 1_000_000, quick: 1_000_000, smoke: 50 });
  // At 10 batches per checkpoint: 10, 3 and 1 data checkpoints among the measured batches.
  const count = bySize(size, { full: 100, quick: 30, smoke: 12 });
  const warmup = bySize(size, { full: 2, quick: 2, smoke: 1 });
  const next = random(7);
  const base = mkdtempSync(path.join(tmpdir(), "spate-bench-running-sum-"));
  const input = path.join(base, "input");
  mkdirSync(input);
  const files: string[] = [];
  /** Puts batch `i`'s file in place atomically, as textFileStream requires (not timed: it is the source). */
  const produce = (i: number) => {
    const name = `batch-${String(i).padStart(6, "0")}.txt`;
    const staged = path.join(base, name);
    const keys = Array.from({ length: perBatch }, () => `key-${Math.floor(next() * keySpace)}`);
    writeFileSync(staged, `${keys.join("\n")}\n`);
    renameSync(staged, path.join(input, name));
    files.push(path.join(input, name));
  };
  try {
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({
      batchDuration: BATCH_MS,
      clock,
      logger: quietLogger(),
      conf: { "spate.ui.port": 0 },
    });
    ssc.checkpoint(path.join(base, "checkpoint"));
    const checkpoints: CheckpointInfo[] = [];
    ssc.addStreamingListener({
      onCheckpointWritten: ({ checkpointInfo }) => checkpoints.push(checkpointInfo),
    });
    let engineLast: Array<[string, number]> = [];
    ssc
      .textFileStream(input)
      .map((k) => [k, 1] as [string, number])
      .mapWithState(
        StateSpec.function((k: string, v: number | undefined, state: State<number>) => {
          const total = (state.getOption() ?? 0) + (v ?? 0);
          state.update(total);
          return [k, total] as [string, number];
        }),
      )
      .uid("running-sums")
      .foreachRDD(async (rdd) => {
        engineLast = await rdd.collect();
      });
    await ssc.start();
    const step = async () => {
      clock.advance(BATCH_MS);
      await ssc.awaitIdle();
    };
    log(
      `running-sum-checkpointed: engine, ${warmup} warm-up + ${count} measured batches of ${perBatch} records`,
    );
    for (let i = 0; i < warmup; i++) {
      produce(i);
      await step();
    }
    const measuredFrom = checkpoints.length;
    const engineMs = await timeSteps(count, step, log, "running-sum-checkpointed engine", (i) =>
      produce(warmup + i),
    );
    await ssc.stop();
    const peak = peakRssMb();
    const written = checkpoints.slice(measuredFrom);
    if (written.length === 0) throw new Error("benchmark self-check failed: no data checkpoint was written");
    collectGarbage();

    log("running-sum-checkpointed: baseline");
    const sums = new Map<string, number>();
    let baselineLast: Array<[string, number]> = [];
    const readAndUpdate = (file: string) => {
      const lines = readFileSync(file, "utf8").split("\n");
      if (lines[lines.length - 1] === "") lines.pop();
      const out: Array<[string, number]> = [];
      for (const k of lines) {
        const total = (sums.get(k) ?? 0) + 1;
        sums.set(k, total);
        out.push([k, total]);
      }
      baselineLast = out;
    };
    for (let i = 0; i < warmup; i++) readAndUpdate(files[i]!);
    const baselineMs = await timeSteps(count, (i) => readAndUpdate(files[warmup + i]!), log, "baseline");
    const checksum = (out: Array<[string, number]>) => out.reduce((n, [, v]) => n + v, 0);
    if (checksum(engineLast) !== checksum(baselineLast)) {
      throw new Error(
        `benchmark self-check failed: the last batch's running sums add up to ${checksum(engineLast)}, ` +
          `the baseline's to ${checksum(baselineLast)}`,
      );
    }
    return [
      {
        name: "running-sum-checkpointed",
        ...throughput(count * perBatch, engineMs, baselineMs),
        keys: sums.size,
        checkpointBytes: sum(written.map((c) => c.bytes)) / written.length,
        checkpointMs: sum(written.map((c) => c.durationMs)) / written.length,
        peakRssMb: peak,
      },
    ];
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
