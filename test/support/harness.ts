// The spate analogue of Spark's TestSuiteBase: feed batches through queue streams on a ManualClock,
// collect every output batch in time order.
import { type DStream, ManualClock, StreamingContext } from "spate";
import { runCase } from "./caseJob.js";

export interface RunOptions {
  /** Batch duration in ms (Spark's suites use 1 second). */
  batchDuration?: number;
  /** Number of batches to run; defaults to the number of input batches. */
  numBatches?: number;
  conf?: Record<string, string | number | boolean>;
}

export interface Collected<O> {
  /** The time of each output batch, in order. */
  times: number[];
  /** The records of each output batch, in the same order. */
  outputs: O[][];
}

async function run<O>(
  build: (ssc: StreamingContext) => DStream<O>,
  numBatches: number,
  options: RunOptions,
): Promise<Collected<O>> {
  const { out } = await runOutputs(numBatches, (ssc) => ({ out: build(ssc) }), options);
  return { times: [...out!.keys()], outputs: [...out!.values()] as O[][] };
}

/** Runs `operation` over one queue stream fed with `input` (one array per batch). */
export async function runOperation<I, O>(
  input: I[][],
  operation: (stream: DStream<I>) => DStream<O>,
  options: RunOptions = {},
): Promise<Collected<O>> {
  const numBatches = options.numBatches ?? input.length;
  return run((ssc) => operation(ssc.queueStream(input.map((b) => [...b]))), numBatches, options);
}

/** Runs a two-input `operation` over two queue streams. */
export async function runOperation2<I1, I2, O>(
  input1: I1[][],
  input2: I2[][],
  operation: (s1: DStream<I1>, s2: DStream<I2>) => DStream<O>,
  options: RunOptions = {},
): Promise<Collected<O>> {
  const numBatches = options.numBatches ?? Math.max(input1.length, input2.length);
  return run(
    (ssc) =>
      operation(ssc.queueStream(input1.map((b) => [...b])), ssc.queueStream(input2.map((b) => [...b]))),
    numBatches,
    options,
  );
}

/**
 * Runs the case `name` of the cases module at `cases` (see caseJob.ts: a graph a worker thread can rebuild) over
 * one queue stream per input (one array per batch) and collects its output.
 */
export async function runCaseOperation<O>(
  cases: string,
  name: string,
  inputs: unknown[][][],
  options: RunOptions & { params?: unknown[] } = {},
): Promise<Collected<O>> {
  const numBatches = options.numBatches ?? Math.max(...inputs.map((i) => i.length));
  const batchDuration = options.batchDuration ?? 1000;
  const params = options.params;
  const { out } = await runCase(
    { cases, name, ...(params && { params }), inputs, batchDuration, conf: options.conf ?? {} },
    numBatches,
  );
  return { times: [...out!.keys()], outputs: [...out!.values()] as O[][] };
}

/** A canonical, order-independent form of one batch, for comparing outputs as multisets (Spark's useSet). */
export function canonical<T>(batch: T[]): string[] {
  return batch.map((x) => JSON.stringify(x, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))).sort();
}

/** Every batch in canonical form. */
export function canonicalAll<T>(batches: T[][]): string[][] {
  return batches.map(canonical);
}

/**
 * Runs a job with several outputs in one context (one batch per `batchDuration` on a ManualClock) and collects
 * each named output's records by batch time.
 */
export async function runOutputs(
  numBatches: number,
  build: (ssc: StreamingContext) => Record<string, DStream<any>>,
  options: RunOptions = {},
): Promise<Record<string, Map<number, unknown[]>>> {
  const batchDuration = options.batchDuration ?? 1000;
  const clock = new ManualClock(0);
  const ssc = new StreamingContext({ batchDuration, clock, conf: options.conf ?? {} });
  const outputs: Record<string, Map<number, unknown[]>> = {};
  for (const [name, stream] of Object.entries(build(ssc))) {
    const byTime = new Map<number, unknown[]>();
    outputs[name] = byTime;
    stream.foreachRDD(async (rdd, time) => {
      byTime.set(time, await rdd.collect());
    });
  }
  await ssc.start();
  try {
    for (let i = 0; i < numBatches; i++) clock.advance(batchDuration);
    await ssc.awaitIdle();
  } finally {
    await ssc.stop();
  }
  return outputs;
}
