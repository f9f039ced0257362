// Throughput scenarios on a ManualClock: stateless word count, mapWithState and updateStateByKey over many keys,
// and windowed reduction with and without an inverse function. Each runs the engine, then a hand-written loop
// that computes the same thing with no fault tolerance, over the same records, in the same process.
import { type DStream, ManualClock, type State, StateSpec, StreamingContext } from "spate";
import {
  bySize,
  collectGarbage,
  cpuMs,
  type Log,
  peakRssMb,
  quietLogger,
  random,
  type ScenarioResult,
  type Size,
  throughput,
  timeSteps,
} from "./measure.js";

const BATCH_MS = 1000;

/** A context on a ManualClock fed by a queue: `step` cuts one batch of `records` and waits for it to complete. */
class ManualRun<T> {
  readonly clock = new ManualClock(0);
  readonly queue: T[][] = [];
  readonly ssc: StreamingContext;
  readonly input: DStream<T>;
  /** What the job wants done once the context started. */
  afterStart: (() => void) | undefined;

  constructor(conf: Record<string, string | number | boolean> = {}) {
    this.ssc = new StreamingContext({
      batchDuration: BATCH_MS,
      clock: this.clock,
      logger: quietLogger(),
      conf: { "spate.ui.port": 0, ...conf },
    });
    this.input = this.ssc.queueStream(this.queue);
  }

  /** Queues a batch (not timed: it is the source producing data). */
  feed(records: T[]): void {
    this.queue.push(records);
  }

  /** Cuts the next batch and waits until it completed (outputs run, state committed). */
  async step(): Promise<void> {
    this.clock.advance(BATCH_MS);
    await this.ssc.awaitIdle();
  }
}

/**
 * Runs `warmup` then `count` batches through the engine and through the baseline, feeding `inputs[i % length]`
 * to both, and returns the throughput figures. The engine runs first; its peak RSS is read before the baseline
 * starts.
 */
async function compare<T>(
  log: Log,
  name: string,
  inputs: T[][],
  warmup: number,
  count: number,
  engine: (run: ManualRun<T>) => void,
  baseline: () => (records: T[]) => void,
): Promise<ScenarioResult> {
  const batch = (i: number) => inputs[i % inputs.length]!;
  const run = new ManualRun<T>();
  engine(run);
  await run.ssc.start();
  run.afterStart?.();
  log(`${name}: engine, ${warmup} warm-up + ${count} measured batches`);
  for (let i = 0; i < warmup; i++) {
    run.feed(batch(i));
    await run.step();
  }
  const engineCpu = cpuMs();
  const engineMs = await timeSteps(
    count,
    () => run.step(),
    log,
    `${name} engine`,
    (i) => run.feed(batch(warmup + i)),
  );
  const engineCpuMs = cpuMs() - engineCpu;
  await run.ssc.stop();
  const peak = peakRssMb();
  collectGarbage();
  log(`${name}: baseline`);
  const loop = baseline();
  for (let i = 0; i < warmup; i++) loop(batch(i));
  const baselineCpu = cpuMs();
  const baselineMs = await timeSteps(count, (i) => loop(batch(warmup + i)), log, `${name} baseline`);
  const cpuRatio = (cpuMs() - baselineCpu) / engineCpuMs;
  let total = 0;
  for (let i = 0; i < count; i++) total += batch(warmup + i).length;
  return { name, ...throughput(total, engineMs, baselineMs), cpuRatio, peakRssMb: peak };
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`benchmark self-check failed: ${message}`);
}

// ---- wordcount -----------------------------------------------------------------------------------------------

function lines(count: number, seed: number, vocabulary: number, wordsPerLine: number): string[] {
  const next = random(seed);
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const words = new Array<string>(wordsPerLine);
    for (let j = 0; j < wordsPerLine; j++) words[j] = `w${Math.floor(next() * vocabulary)}`;
    out[i] = words.join(" ");
  }
  return out;
}

/** Stateless word count (flatMap → map → reduceByKey, then collect) over batches of lines of 10 words. */
export async function wordcount(size: Size, log: Log): Promise<ScenarioResult[]> {
  const perBatch = bySize(size, { full: 100_000, quick: 100_000, smoke: 20 });
  const count = bySize(size, { full: 50, quick: 25, smoke: 2 });
  const warmup = bySize(size, { full: 3, quick: 2, smoke: 1 });
  const inputs = [1, 2, 3].map((seed) => lines(perBatch, seed, 10_000, 10));
  let engineWords = 0;
  let baselineWords = 0;
  const result = await compare(
    log,
    "wordcount",
    inputs,
    warmup,
    count,
    (run) => {
      run.input
        .flatMap((line) => line.split(" "))
        .map((w) => [w, 1] as [string, number])
        .reduceByKey((a, b) => a + b)
        .foreachRDD(async (rdd) => {
          for (const [, n] of await rdd.collect()) engineWords += n;
        });
    },
    () => (batch) => {
      const counts = new Map<string, number>();
      for (const line of batch) {
        for (const w of line.split(" ")) counts.set(w, (counts.get(w) ?? 0) + 1);
      }
      for (const [, n] of Array.from(counts)) baselineWords += n;
    },
  );
  check(
    engineWords === baselineWords,
    `wordcount counted ${engineWords} words, the baseline ${baselineWords}`,
  );
  return [result];
}

/**
 * Stateless word count over words already split (map → reduceByKey, then collect), against a Map loop counting the
 * same words: what the engine costs per record where the user's functions do almost nothing.
 */
export async function wordcountWords(size: Size, log: Log): Promise<ScenarioResult[]> {
  const perBatch = bySize(size, { full: 1_000_000, quick: 1_000_000, smoke: 200 });
  const count = bySize(size, { full: 50, quick: 20, smoke: 2 });
  const warmup = bySize(size, { full: 3, quick: 3, smoke: 1 });
  const inputs = [1, 2, 3].map((seed) => lines(perBatch, seed, 10_000, 1));
  let engineWords = 0;
  let baselineWords = 0;
  const result = await compare(
    log,
    "wordcount-words",
    inputs,
    warmup,
    count,
    (run) => {
      run.input
        .map((w) => [w, 1] as [string, number])
        .reduceByKey((a, b) => a + b)
        .foreachRDD(async (rdd) => {
          for (const [, n] of await rdd.collect()) engineWords += n;
        });
    },
    () => (batch) => {
      const counts = new Map<string, number>();
      for (let i = 0; i < batch.length; i++) {
        const w = batch[i]!;
        counts.set(w, (counts.get(w) ?? 0) + 1);
      }
      for (const [, n] of Array.from(counts)) baselineWords += n;
    },
  );
  check(
    engineWords === baselineWords,
    `wordcount-words counted ${engineWords} words, the baseline ${baselineWords}`,
  );
  return [result];
}

// ---- keyed state: mapWithState and updateStateByKey ---------------------------------------------------------

interface StateSizes {
  keys: number;
  perBatch: number;
  count: number;
  warmup: number;
}

/** Measured batches per size: enough for a p99 where batches are cheap, fewer where one costs a second. */
export type BatchCounts = { full: number; quick: number };

function stateSizes(size: Size, keys: number, counts: BatchCounts): StateSizes {
  if (size === "smoke") return { keys: Math.min(keys, 500), perBatch: 50, count: 3, warmup: 1 };
  return { keys, perBatch: 100_000, count: counts[size], warmup: 3 };
}

const keyOf = (i: number) => `k${i}`;

/** Batches of `perBatch` records `[key, 1]` over a different 1% of the keys each (at least one key). */
function touchingOnePercent(keys: number, perBatch: number, batches: number): Array<Array<[string, number]>> {
  const next = random(keys);
  const touched = Math.max(1, Math.floor(keys / 100));
  return Array.from({ length: batches }, () => {
    const chosen = Array.from({ length: touched }, () => keyOf(Math.floor(next() * keys)));
    return Array.from({ length: perBatch }, (_, i) => [chosen[i % touched]!, 1] as [string, number]);
  });
}

function initialPairs(keys: number): Array<[string, number]> {
  return Array.from({ length: keys }, (_, i) => [keyOf(i), 0] as [string, number]);
}

/** The baseline of both: a Map of running sums, updated record by record. */
function mapUpdateLoop(keys: number): (records: Array<[string, number]>) => void {
  const sums = new Map<string, number>();
  for (let i = 0; i < keys; i++) sums.set(keyOf(i), 0);
  return (records) => {
    for (const [k, v] of records) sums.set(k, (sums.get(k) ?? 0) + v);
  };
}

/**
 * The baseline of running sums as one writes them by hand: the batch's values summed per key first (a small Map),
 * then each key's sum added to its running sum.
 */
function preCombiningLoop(keys: number): (records: Array<[string, number]>) => void {
  const sums = new Map<string, number>();
  for (let i = 0; i < keys; i++) sums.set(keyOf(i), 0);
  return (records) => {
    const batch = new Map<string, number>();
    for (let i = 0; i < records.length; i++) {
      const [k, v] = records[i]!;
      batch.set(k, (batch.get(k) ?? 0) + v);
    }
    for (const [k, v] of batch) sums.set(k, (sums.get(k) ?? 0) + v);
  };
}

/**
 * Running sums as one writes them with spate: the batch's values summed per key (`reduceByKey`), then each key's
 * sum added to its state by `mapWithState`; `keys` keys pre-loaded through the spec's initial state, then batches
 * of 100k records touching 1% of the keys. The baseline is the same by hand: a Map of the batch's sums, then
 * each added to a Map of running sums.
 */
export function runningSumsScenario(keys: number, name: string, counts: BatchCounts) {
  return async (size: Size, log: Log): Promise<ScenarioResult[]> => {
    const s = stateSizes(size, keys, counts);
    const inputs = touchingOnePercent(s.keys, s.perBatch, 4);
    let calls = 0;
    let total = 0;
    const result = await compare(
      log,
      name,
      inputs,
      s.warmup,
      s.count,
      (run) => {
        log(`${name}: pre-loading ${s.keys} keys`);
        const initial = initialPairs(s.keys);
        run.input
          .reduceByKey((a, b) => a + b)
          .mapWithState(
            StateSpec.function((_k: string, v: number | undefined, state: State<number>) => {
              calls++;
              total += v ?? 0;
              state.update((state.getOption() ?? 0) + (v ?? 0));
              return undefined;
            }).initialState(initial),
          )
          .foreachRDD(() => {});
        run.afterStart = () => void initial.splice(0);
      },
      () => preCombiningLoop(s.keys),
    );
    let distinct = 0;
    for (let i = 0; i < s.warmup + s.count; i++) {
      distinct += new Set(inputs[i % inputs.length]!.map(([k]) => k)).size;
    }
    check(
      calls === distinct && total === s.perBatch * (s.warmup + s.count),
      `mapWithState was called ${calls} times with ${total} in all, for ${distinct} keys and ` +
        `${s.perBatch * (s.warmup + s.count)} records`,
    );
    return [{ ...result, keys: s.keys }];
  };
}

/**
 * `mapWithState` running sums with `keys` keys pre-loaded through the spec's initial state, then batches of 100k
 * records touching 1% of the keys; the baseline updates a Map record by record.
 */
export function mapWithStateScenario(keys: number, name: string, counts: BatchCounts) {
  return async (size: Size, log: Log): Promise<ScenarioResult[]> => {
    const s = stateSizes(size, keys, counts);
    const inputs = touchingOnePercent(s.keys, s.perBatch, 4);
    let calls = 0;
    const result = await compare(
      log,
      name,
      inputs,
      s.warmup,
      s.count,
      (run) => {
        log(`${name}: pre-loading ${s.keys} keys`);
        const initial = initialPairs(s.keys);
        run.input
          .mapWithState(
            StateSpec.function((_k: string, v: number | undefined, state: State<number>) => {
              calls++;
              state.update((state.getOption() ?? 0) + (v ?? 0));
              return undefined;
            }).initialState(initial),
          )
          .foreachRDD(() => {});
        // The spec keeps the array it was given but reads it only at start: free it for the measured batches.
        run.afterStart = () => void initial.splice(0);
      },
      () => mapUpdateLoop(s.keys),
    );
    check(
      calls === s.perBatch * (s.warmup + s.count),
      `mapWithState was called ${calls} times for ${s.perBatch * (s.warmup + s.count)} records`,
    );
    return [{ ...result, keys: s.keys }];
  };
}

/** `updateStateByKey` running sums with `keys` keys pre-loaded as its initial state; the same batches. */
export function updateStateByKeyScenario(keys: number, name: string, counts: BatchCounts) {
  return async (size: Size, log: Log): Promise<ScenarioResult[]> => {
    const s = stateSizes(size, keys, counts);
    const inputs = touchingOnePercent(s.keys, s.perBatch, 4);
    let values = 0;
    const result = await compare(
      log,
      name,
      inputs,
      s.warmup,
      s.count,
      (run) => {
        log(`${name}: pre-loading ${s.keys} keys`);
        run.input
          .updateStateByKey(
            (vs: number[], state: number | undefined) => {
              let total = state ?? 0;
              for (const v of vs) total += v;
              values += vs.length;
              return total;
            },
            { initialState: initialPairs(s.keys) },
          )
          .foreachRDD(() => {});
      },
      () => mapUpdateLoop(s.keys),
    );
    check(
      values === s.perBatch * (s.warmup + s.count),
      `updateStateByKey saw ${values} values for ${s.perBatch * (s.warmup + s.count)} records`,
    );
    return [{ ...result, keys: s.keys }];
  };
}

// ---- windows -------------------------------------------------------------------------------------------------

const WINDOW_SLIDES = 60;

function pairs(count: number, keys: number, seed: number): Array<[string, number]> {
  const next = random(seed);
  return Array.from({ length: count }, () => [keyOf(Math.floor(next() * keys)), 1] as [string, number]);
}

/** The baseline: per-batch counts kept in a ring of 60, and a window map adding the new one, subtracting the old. */
function slidingAggregate(onWindow: (window: Array<[string, number]>) => void) {
  const ring: Array<Map<string, number>> = [];
  const window = new Map<string, number>();
  return (records: Array<[string, number]>) => {
    const batch = new Map<string, number>();
    for (const [k, v] of records) batch.set(k, (batch.get(k) ?? 0) + v);
    ring.push(batch);
    for (const [k, v] of batch) window.set(k, (window.get(k) ?? 0) + v);
    if (ring.length > WINDOW_SLIDES) {
      for (const [k, v] of ring.shift()!) {
        const left = window.get(k)! - v;
        if (left === 0) window.delete(k);
        else window.set(k, left);
      }
    }
    onWindow(Array.from(window));
  };
}

/**
 * `reduceByKeyAndWindow` counting keys over a window of 60 slides (slide = batch), with the inverse function
 * (each window is the previous one minus the batch that left plus the one that entered) or without it (each
 * window reduced again from its 60 batches). The window is filled first (60 unmeasured batches).
 */
export function windowScenario(inverse: boolean, name: string) {
  return async (size: Size, log: Log): Promise<ScenarioResult[]> => {
    const perBatch = bySize(size, { full: 20_000, quick: 20_000, smoke: 20 });
    const keys = bySize(size, { full: 5000, quick: 5000, smoke: 10 });
    const count = bySize(size, { full: 300, quick: 100, smoke: 3 });
    const inputs = Array.from({ length: 7 }, (_, i) => pairs(perBatch, keys, 100 + i));
    let engineTotal = 0;
    let baselineTotal = 0;
    const total = (w: Array<[string, number]>) => w.reduce((n, [, v]) => n + v, 0);
    const window = WINDOW_SLIDES * BATCH_MS;
    const result = await compare(
      log,
      name,
      inputs,
      WINDOW_SLIDES,
      count,
      (run) => {
        const counts = run.input as DStream<[string, number]>;
        const windowed = inverse
          ? counts.reduceByKeyAndWindow(
              (a, b) => a + b,
              (a, b) => a - b,
              window,
              BATCH_MS,
              undefined,
              ([, v]) => v !== 0,
            )
          : counts.reduceByKeyAndWindow((a, b) => a + b, window, BATCH_MS);
        windowed.foreachRDD(async (rdd) => {
          engineTotal = total(await rdd.collect());
        });
      },
      () => slidingAggregate((w) => void (baselineTotal = total(w))),
    );
    check(
      engineTotal === baselineTotal && engineTotal === WINDOW_SLIDES * perBatch,
      `the last window holds ${engineTotal} records, the baseline's ${baselineTotal}, expected ${WINDOW_SLIDES * perBatch}`,
    );
    return [{ ...result, keys }];
  };
}
