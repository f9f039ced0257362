// What every benchmark shares: the result row, the three sizes, timing of batches, percentiles, progress.
import type { Logger } from "spate";

/**
 * One row of `bench/results/latest.json`. A field that does not apply to a scenario is left out. Throughput and
 * latency fields are the engine's; `baseline*` fields are those of a hand-written loop doing the same work without
 * fault tolerance, measured in the same run; `ratio` is baseline cost over engine cost (engine throughput over
 * baseline throughput), so 1 means "as cheap as the hand-written loop" and 0.25 "four times as costly".
 */
export interface ScenarioResult {
  name: string;
  /** Input records per second over the measured batches. */
  recordsPerSec?: number;
  baselineRecordsPerSec?: number;
  ratio?: number;
  /**
   * Baseline CPU time over engine CPU time (this process's, all its threads) for the same batches: less moved than
   * `ratio` by other processes on a shared machine, which delay a process without charging it CPU time.
   */
  cpuRatio?: number;
  /** Wall time of one batch, from advancing the clock to the batch completing. */
  p50BatchMs?: number;
  p99BatchMs?: number;
  /** Keys held in state. */
  keys?: number;
  /** Bytes of a data checkpoint. */
  checkpointBytes?: number;
  /** Bytes of the changed entries alone (`[key, state, updatedAt]`), encoded with the checkpoint codec. */
  changedBytes?: number;
  checkpointMs?: number;
  recoveryMs?: number;
  p99SchedulingDelayMs?: number;
  /** Heap bytes per key held in state, and per key of a plain Map of the same entries. */
  bytesPerKey?: number;
  baselineBytesPerKey?: number;
  /** Ingest: MB/s of write-ahead log written, and the disk's fsynced write bandwidth measured in the same run. */
  logMBPerSec?: number;
  diskMBPerSec?: number;
  /** Ingest: p99 time from a receiver's `store` call to its promise resolving (with the log: records durable). */
  p99StoreMs?: number;
  /** The batch interval of a scenario on the system clock. */
  batchIntervalMs?: number;
  /** Peak resident set size of the process that ran the engine, in MiB. */
  peakRssMb?: number;
  /** Soak: batches run, their rate, and the slopes of heap (after a full collection) and RSS over the second half. */
  batches?: number;
  batchesPerSec?: number;
  heapBytesPerBatch?: number;
  rssBytesPerBatch?: number;
  /** Soak: heap used after a full collection at the end, in MiB. */
  heapMb?: number;
}

/** Numeric fields of a result, in the order the table prints them. */
export const RESULT_FIELDS = [
  "keys",
  "recordsPerSec",
  "baselineRecordsPerSec",
  "ratio",
  "cpuRatio",
  "p50BatchMs",
  "p99BatchMs",
  "p99SchedulingDelayMs",
  "checkpointBytes",
  "changedBytes",
  "checkpointMs",
  "recoveryMs",
  "bytesPerKey",
  "baselineBytesPerKey",
  "logMBPerSec",
  "diskMBPerSec",
  "p99StoreMs",
  "batchIntervalMs",
  "peakRssMb",
  "batches",
  "batchesPerSec",
  "heapBytesPerBatch",
  "rssBytesPerBatch",
  "heapMb",
] as const satisfies ReadonlyArray<keyof ScenarioResult>;

/**
 * How big a run is: `full` is the real benchmark, `quick` the same scenarios with fewer batches (under 3
 * minutes), `smoke` a handful of records per scenario, only to prove in tests that every scenario runs.
 */
export type Size = "full" | "quick" | "smoke";

/** A value per size. */
export function bySize<T>(size: Size, values: Record<Size, T>): T {
  return values[size];
}

export type Log = (message: string) => void;

/** Progress goes to stderr; stdout is for the table. */
export const stderrLog: Log = (message) => process.stderr.write(`${message}\n`);

/** The engine's own logs at warn and above only: a line per batch would cost more than some batches. */
export function quietLogger(): Logger {
  const write = (level: string, fields: Record<string, unknown>, message: string) =>
    process.stderr.write(`${level} ${message} ${JSON.stringify(fields, (_k, v) => plain(v))}\n`);
  return {
    debug: () => {},
    info: () => {},
    warn: (f, m) => write("WARN", f, m),
    error: (f, m) => write("ERROR", f, m),
  };
}

function plain(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return typeof value === "bigint" ? value.toString() : value;
}

/** The `p`-th percentile (0–100) by nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error("percentile of no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function sum(samples: readonly number[]): number {
  let s = 0;
  for (const x of samples) s += x;
  return s;
}

/**
 * Runs `step(i)` for i in [0, count) and returns the wall time of each in ms. Progress is logged at most every
 * two seconds, so long phases show that they are moving.
 */
export async function timeSteps(
  count: number,
  step: (i: number) => void | Promise<void>,
  log: Log,
  what: string,
  before?: (i: number) => void | Promise<void>,
): Promise<number[]> {
  const times: number[] = [];
  let lastReport = performance.now();
  for (let i = 0; i < count; i++) {
    await before?.(i);
    const started = performance.now();
    await step(i);
    const ended = performance.now();
    times.push(ended - started);
    if (ended - lastReport > 2000 && i + 1 < count) {
      log(`  ${what}: ${i + 1}/${count}`);
      lastReport = ended;
    }
  }
  return times;
}

/** Throughput figures of an engine run against a baseline run over the same records. */
export function throughput(
  records: number,
  engineMs: readonly number[],
  baselineMs: readonly number[],
): Pick<ScenarioResult, "recordsPerSec" | "baselineRecordsPerSec" | "ratio" | "p50BatchMs" | "p99BatchMs"> {
  const recordsPerSec = records / (sum(engineMs) / 1000);
  const baselineRecordsPerSec = records / (sum(baselineMs) / 1000);
  return {
    recordsPerSec,
    baselineRecordsPerSec,
    ratio: recordsPerSec / baselineRecordsPerSec,
    p50BatchMs: percentile(engineMs, 50),
    p99BatchMs: percentile(engineMs, 99),
  };
}

/** CPU time this process has used so far (user and system, all threads), in ms. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** A full garbage collection when the process runs with --expose-gc (the runner starts scenarios so). */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

/** `10k`, `1M`: the size in a scenario's name. */
export function label(n: number): string {
  return n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`;
}

/** A small deterministic generator (mulberry32), so that every run feeds the same records. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
