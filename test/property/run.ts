// Runs a job with several outputs on a ManualClock, one batch per second, and collects each output per batch time.
import { type DStream, ManualClock, StreamingContext } from "spate";
import { BATCH } from "./model.js";

export type Outputs = Record<string, Map<number, unknown[]>>;

export async function runJob(
  numBatches: number,
  build: (ssc: StreamingContext) => Record<string, DStream<any>>,
  conf: Record<string, number> = {},
): Promise<Outputs> {
  const clock = new ManualClock(0);
  const ssc = new StreamingContext({ batchDuration: BATCH, clock, conf });
  const outputs: Outputs = {};
  for (const [name, stream] of Object.entries(build(ssc))) {
    const byTime = new Map<number, unknown[]>();
    outputs[name] = byTime;
    stream.foreachRDD(async (rdd, time) => {
      byTime.set(time, await rdd.collect());
    });
  }
  await ssc.start();
  try {
    for (let i = 0; i < numBatches; i++) clock.advance(BATCH);
    await ssc.awaitIdle();
  } finally {
    await ssc.stop();
  }
  return outputs;
}

/** One batch's records in an order-independent form (a multiset). */
export function bag(records: unknown[] | undefined): string[] {
  return (records ?? []).map((r) => JSON.stringify(r)).sort();
}
