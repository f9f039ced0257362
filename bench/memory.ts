// Memory per key held by mapWithState, against a plain Map of the same entries. Needs --expose-gc (the runner
// starts every scenario with it): heap used is read after full collections, before and after the keys are loaded.
import { ManualClock, type State, StateSpec, StreamingContext } from "spate";
import {
  bySize,
  collectGarbage,
  type Log,
  peakRssMb,
  quietLogger,
  type ScenarioResult,
  type Size,
} from "./measure.js";

const BATCH_MS = 1000;
const CHUNK = 100_000;

function heapAfterGc(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

export async function memory1M(size: Size, log: Log): Promise<ScenarioResult[]> {
  if (typeof (globalThis as { gc?: unknown }).gc !== "function") {
    throw new Error("memory-1M needs node --expose-gc (npm run bench starts every scenario so)");
  }
  const keys = bySize(size, { full: 1_000_000, quick: 1_000_000, smoke: 20_000 });
  // The baseline first: measured after the engine, it could see the engine's memory freed while it runs.
  log(`memory-1M: baseline, a Map of ${keys} entries`);
  const baselineBefore = heapAfterGc();
  let plain: Map<string, number> | undefined = new Map<string, number>();
  for (let i = 0; i < keys; i++) plain.set(`k${i}`, 1);
  const baselineAfter = heapAfterGc();
  if (plain.size !== keys) throw new Error("benchmark self-check failed: the baseline map lost keys");
  plain = undefined;

  log(`memory-1M: engine, loading ${keys} keys into mapWithState`);
  const clock = new ManualClock(0);
  const queue: Array<Array<[string, number]>> = [];
  let created = 0;
  let ssc: StreamingContext | undefined = new StreamingContext({
    batchDuration: BATCH_MS,
    clock,
    logger: quietLogger(),
    conf: { "spate.ui.port": 0 },
  });
  ssc
    .queueStream(queue)
    .mapWithState(
      StateSpec.function((_k: string, v: number | undefined, state: State<number>) => {
        if (!state.exists()) created++;
        state.update((state.getOption() ?? 0) + (v ?? 0));
      }),
    )
    .foreachRDD(() => {});
  await ssc.start();
  const step = async () => {
    clock.advance(BATCH_MS);
    await ssc!.awaitIdle();
  };
  await step(); // an empty batch: the engine's own structures exist before the first measurement
  const engineBefore = heapAfterGc();
  for (let from = 0; from < keys; from += CHUNK) {
    const n = Math.min(CHUNK, keys - from);
    queue.push(Array.from({ length: n }, (_, i) => [`k${from + i}`, 1] as [string, number]));
    await step();
  }
  // Two more batches, so that the RDDs of the loading batches are released.
  await step();
  await step();
  const engineAfter = heapAfterGc();
  const peak = peakRssMb();
  await ssc.stop();
  ssc = undefined;
  if (created !== keys) throw new Error(`benchmark self-check failed: ${created} keys created, not ${keys}`);

  const bytesPerKey = (engineAfter - engineBefore) / keys;
  const baselineBytesPerKey = (baselineAfter - baselineBefore) / keys;
  return [
    {
      name: "memory-1M",
      keys,
      bytesPerKey,
      baselineBytesPerKey,
      ratio: baselineBytesPerKey / bytesPerKey,
      peakRssMb: peak,
    },
  ];
}
