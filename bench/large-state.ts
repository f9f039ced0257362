// The memory state store past V8's Map limit (2^24, about 16.7M entries): mapWithState on one partition loads 30M
// keys (17M in a quick run) in batches of 1M new keys, then runs batches of 100k records touching random keys.
// The runner gives every scenario an 8 GB heap (--max-old-space-size=8192); 30M keys need about half of it.
// Reports the touching batches' times, the keys held, the heap after a full collection (and per key)
// and the peak RSS; the loading time goes to the progress log.
import { ManualClock, type State, StateSpec, StreamingContext } from "spate";
import {
  bySize,
  collectGarbage,
  type Log,
  peakRssMb,
  percentile,
  quietLogger,
  random,
  type ScenarioResult,
  type Size,
  timeSteps,
} from "./measure.js";

const BATCH_MS = 1000;

export async function memory30M(size: Size, log: Log): Promise<ScenarioResult[]> {
  const keys = bySize(size, { full: 30_000_000, quick: 17_000_000, smoke: 20_000 });
  const loadBatch = bySize(size, { full: 1_000_000, quick: 1_000_000, smoke: 5000 });
  const perBatch = bySize(size, { full: 100_000, quick: 100_000, smoke: 1000 });
  const count = bySize(size, { full: 20, quick: 10, smoke: 2 });
  const clock = new ManualClock(0);
  const queue: Array<Array<[string, number]>> = [];
  const ssc = new StreamingContext({
    batchDuration: BATCH_MS,
    clock,
    logger: quietLogger(),
    conf: { "spate.ui.port": 0 },
  });
  let calls = 0;
  ssc
    .queueStream(queue)
    .mapWithState(
      StateSpec.function((_k: string, v: number | undefined, state: State<number>) => {
        calls++;
        state.update((state.getOption() ?? 0) + (v ?? 0));
      }).numPartitions(1),
    )
    .foreachRDD(() => {});
  await ssc.start();
  const step = async () => {
    clock.advance(BATCH_MS);
    await ssc.awaitIdle();
  };

  await step(); // an empty batch: the engine's own structures exist before the first measurement
  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  log(`memory-30M: loading ${keys} keys into one partition, ${loadBatch} new keys a batch`);
  const loadStarted = performance.now();
  const loadTimes = await timeSteps(
    Math.ceil(keys / loadBatch),
    () => step(),
    log,
    "memory-30M load",
    (b) => {
      const from = b * loadBatch;
      const n = Math.min(loadBatch, keys - from);
      queue.push(Array.from({ length: n }, (_, i) => [`k${from + i}`, 1] as [string, number]));
    },
  );
  log(
    `memory-30M: ${keys} keys loaded in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s ` +
      `(p50 ${percentile(loadTimes, 50).toFixed(0)} ms, max ${Math.max(...loadTimes).toFixed(0)} ms a batch; ` +
      `each, ms: ${loadTimes.map((t) => t.toFixed(0)).join(" ")})`,
  );

  const next = random(7);
  const touching = () =>
    Array.from({ length: perBatch }, () => [`k${Math.floor(next() * keys)}`, 1] as [string, number]);
  const times = await timeSteps(
    count,
    () => step(),
    log,
    "memory-30M touch",
    () => {
      queue.push(touching());
    },
  );
  collectGarbage();
  const heapAfter = process.memoryUsage().heapUsed;
  const peak = peakRssMb();
  await ssc.stop();
  if (calls !== keys + perBatch * count) {
    throw new Error(`benchmark self-check failed: ${calls} calls for ${keys + perBatch * count} records`);
  }
  return [
    {
      name: "memory-30M",
      keys,
      p50BatchMs: percentile(times, 50),
      p99BatchMs: percentile(times, 99),
      bytesPerKey: (heapAfter - heapBefore) / keys,
      heapMb: heapAfter / 2 ** 20,
      peakRssMb: peak,
    },
  ];
}
