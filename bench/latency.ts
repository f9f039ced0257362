// Latency at small batches: 10 ms batches on the system clock, fed by a receiver at a steady rate, word-counted.
// Scheduling delay (how long a batch waits for the one before it) and processing time come from the BatchInfo
// that StreamingListener reports. The baseline is a hand-written loop on a 10 ms timer, fed the same way, counting
// the same words without the engine.
import { Milliseconds, Receiver, StreamingContext, type BatchInfo } from "spate";
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
  sum,
} from "./measure.js";

const BATCH_MS = 10;
const RATE = 50_000;
/** Batches of the first second are left out of the figures (start-up, JIT warm-up). */
const SETTLE_MS = 1000;

/** Emits `rate` records per second, in small bursts every 2 ms, to `deliver`; the catch-up keeps the rate exact. */
function steadyProducer(rate: number, deliver: (records: string[]) => void): { stop(): number } {
  const next = random(11);
  const started = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) * rate) / 1000);
    if (due <= sent) return;
    const records = new Array<string>(due - sent);
    for (let i = 0; i < records.length; i++) records[i] = `w${Math.floor(next() * 1000)}`;
    sent = due;
    deliver(records);
  }, 2);
  return {
    stop: () => {
      clearInterval(timer);
      return sent;
    },
  };
}

class SteadyReceiver extends Receiver<string> {
  private producer: { stop(): number } | undefined;

  constructor(private readonly rate: number) {
    super();
  }

  onStart(): void {
    this.producer = steadyProducer(this.rate, (records) => void this.store(records).catch(() => {}));
  }

  onStop(): void {
    this.producer?.stop();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function latency10ms(size: Size, log: Log): Promise<ScenarioResult[]> {
  const durationMs = bySize(size, { full: 30_000, quick: 10_000, smoke: 1500 });
  log(`latency-10ms: engine, ${durationMs / 1000} s of 10 ms batches at ${RATE} records/s`);
  const ssc = new StreamingContext({
    batchDuration: Milliseconds(BATCH_MS),
    logger: quietLogger(),
    conf: { "spate.ui.port": 0 },
  });
  const batches: BatchInfo[] = [];
  ssc.addStreamingListener({ onBatchCompleted: ({ batchInfo }) => void batches.push(batchInfo) });
  let engineWords = 0;
  ssc
    .receiverStream(new SteadyReceiver(RATE))
    .map((w) => [w, 1] as [string, number])
    .reduceByKey((a, b) => a + b)
    .foreachRDD(async (rdd) => {
      for (const [, n] of await rdd.collect()) engineWords += n;
    });
  await ssc.start();
  const progress = setInterval(() => log(`  latency-10ms engine: ${batches.length} batches`), 2000);
  await sleep(durationMs);
  clearInterval(progress);
  await ssc.stop({ stopGracefully: true });
  const peak = peakRssMb();
  const firstTime = batches[0]?.batchTime ?? 0;
  const settled = batches.filter(
    (b) => b.batchTime - firstTime >= SETTLE_MS && b.failureReason === undefined,
  );
  if (settled.length < 10) throw new Error(`latency-10ms: only ${settled.length} batches completed`);
  const scheduling = settled.map((b) => b.schedulingDelay!);
  const processing = settled.map((b) => b.processingDelay!);
  const spanMs = settled.at(-1)!.batchTime - settled[0]!.batchTime + BATCH_MS;
  const recordsPerSec = sum(settled.map((b) => b.numRecords)) / (spanMs / 1000);
  log(
    `latency-10ms: ${settled.length} batches, scheduling delay p50 ${percentile(scheduling, 50)} ms, ` +
      `p99 ${percentile(scheduling, 99)} ms; processing p50 ${percentile(processing, 50)} ms, ` +
      `p99 ${percentile(processing, 99)} ms; ${engineWords} words counted`,
  );
  collectGarbage();

  log(`latency-10ms: baseline, ${durationMs / 1000} s`);
  const baseline = await timerLoop(durationMs);
  log(
    `latency-10ms: baseline timer lateness p50 ${baseline.lateness50.toFixed(1)} ms, ` +
      `p99 ${baseline.lateness99.toFixed(1)} ms`,
  );
  return [
    {
      name: "latency-10ms",
      recordsPerSec,
      baselineRecordsPerSec: baseline.recordsPerSec,
      ratio: recordsPerSec / baseline.recordsPerSec,
      p50BatchMs: percentile(processing, 50),
      p99BatchMs: percentile(processing, 99),
      p99SchedulingDelayMs: percentile(scheduling, 99),
      peakRssMb: peak,
    },
  ];
}

/** Every 10 ms of wall time: take what arrived, count the words. Returns its throughput and timer lateness. */
async function timerLoop(durationMs: number) {
  let buffer: string[][] = [];
  const producer = steadyProducer(RATE, (records) => void buffer.push(records));
  const started = Date.now();
  const first = Math.ceil(started / BATCH_MS) * BATCH_MS;
  const lateness: number[] = [];
  let processed = 0;
  let words = 0;
  await new Promise<void>((resolve) => {
    const tick = (due: number) => {
      const now = Date.now();
      const taken = buffer;
      buffer = [];
      const counts = new Map<string, number>();
      for (const block of taken) for (const w of block) counts.set(w, (counts.get(w) ?? 0) + 1);
      for (const [, n] of Array.from(counts)) words += n;
      if (due - first >= SETTLE_MS) {
        lateness.push(now - due);
        for (const block of taken) processed += block.length;
      }
      if (due - first >= durationMs) return resolve();
      const next = due + BATCH_MS;
      setTimeout(() => tick(next), Math.max(0, next - Date.now()));
    };
    setTimeout(() => tick(first), first - started);
  });
  producer.stop();
  const span = durationMs - SETTLE_MS + BATCH_MS;
  return {
    recordsPerSec: processed / (span / 1000),
    lateness50: percentile(lateness, 50),
    lateness99: percentile(lateness, 99),
    words,
  };
}
