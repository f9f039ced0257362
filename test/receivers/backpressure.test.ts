// Backpressure end to end, on the system clock: a receiver that stores as fast as it is let, and an output that
// takes 1 ms per 2 records (about 2000 records/s), with 100 ms batches and room for 4000 records/s. Without
// backpressure, every batch takes twice the batch interval and the scheduling delay grows without bound; with it,
// the PID estimator brings the ingestion rate down and the scheduling delay back. Only trends are asserted.
import { type BatchInfo, Receiver, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";

const BATCH = 100;
const RUN_MS = 4000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Firehose extends Receiver<number> {
  onStart() {
    void this.produce();
  }
  onStop() {}
  private async produce() {
    let n = 0;
    while (!this.isStopped()) {
      try {
        await this.store(Array.from({ length: 50 }, () => n++));
      } catch {
        return; // stopped while waiting for the rate limit
      }
      await new Promise((r) => setImmediate(r));
    }
  }
}

interface Run {
  ssc: StreamingContext;
  batches: BatchInfo[];
  rates: Array<number | undefined>;
}

function job(conf: Record<string, number | boolean>): Run {
  const ssc = new StreamingContext({
    batchDuration: BATCH,
    appName: "backpressure",
    conf: { "spate.receiver.maxRate": 4000, ...conf },
  });
  const run: Run = { ssc, batches: [], rates: [] };
  ssc.receiverStream(new Firehose()).foreachRDD(async (rdd) => {
    await sleep((await rdd.count()) / 2);
  });
  ssc.addStreamingListener({
    onBatchCompleted: ({ batchInfo }) => {
      run.batches.push(batchInfo);
      run.rates.push(ssc.receiverInfos()[0]?.rateLimit);
    },
  });
  return run;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("backpressure", () => {
  it("brings the ingestion rate down and keeps the scheduling delay bounded when batches are too slow", {
    timeout: 30_000,
  }, async () => {
    const control = job({});
    const adaptive = job({ "spate.backpressure.enabled": true });
    await Promise.all([control.ssc.start(), adaptive.ssc.start()]);
    await sleep(RUN_MS);
    await Promise.all([control.ssc.stop(), adaptive.ssc.stop()]);

    const records = (r: Run) => r.batches.map((b) => b.numRecords);
    const delays = (r: Run) => r.batches.map((b) => b.schedulingDelay!);
    expect(control.batches.length).toBeGreaterThan(8);
    expect(adaptive.batches.length).toBeGreaterThan(15);

    // Without backpressure: batches stay at the maximum rate and the scheduling delay keeps growing.
    expect(mean(records(control).slice(-5))).toBeGreaterThan(300);
    expect(control.rates.every((r) => r === 4000)).toBe(true);
    const controlDelays = delays(control);
    expect(controlDelays.at(-1)!).toBeGreaterThan(controlDelays[2]! + 500);

    // With it: the rate limit fell below the maximum, never above it, and later batches hold fewer records.
    const rates = adaptive.rates.filter((r): r is number => r !== undefined);
    expect(rates.every((r) => r <= 4000)).toBe(true);
    expect(rates.at(-1)!).toBeLessThan(3000);
    expect(Math.min(...rates)).toBeLessThan(2000);
    expect(mean(records(adaptive).slice(-5))).toBeLessThan(300);
    // …and the scheduling delay came back down: well under the control's, and under a second.
    const adaptiveDelays = delays(adaptive);
    expect(Math.max(...adaptiveDelays.slice(-5))).toBeLessThan(1000);
    expect(adaptiveDelays.at(-1)!).toBeLessThan(controlDelays.at(-1)! / 2);
  });
});
