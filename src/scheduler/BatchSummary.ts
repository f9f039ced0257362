import type { Logger } from "../log.js";

/** How often, in ms of the context's clock, the summary line is written. */
export const SUMMARY_INTERVAL_MS = 10_000;

/**
 * The info-level summary of the batches of the last 10 s (the per-batch lines are at debug level, so a job's own
 * output is not buried under one line per batch): batches completed and failed, records, average processing time
 * and scheduling delay, and the state keys held after the last batch. Written when a batch ends at least 10 s of
 * the context's clock after the previous summary, and when the context stops or fails with batches not yet
 * summed up.
 */
export class BatchSummary {
  /** When the period began: the end of the first batch after the previous summary's. */
  private since: number | undefined;
  private batches = 0;
  private failed = 0;
  private records = 0;
  private processingMs = 0;
  private schedulingDelayMs = 0;
  private stateKeys = 0;
  private lastBatchTime: number | undefined;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /** Counts a completed batch, and writes the summary if 10 s have passed since the last one. */
  completed(batch: {
    batchTime: number;
    records: number;
    processingMs: number;
    schedulingDelayMs: number;
    stateKeys: number;
  }): void {
    this.since ??= this.now();
    this.batches++;
    this.records += batch.records;
    this.processingMs += batch.processingMs;
    this.schedulingDelayMs += batch.schedulingDelayMs;
    this.stateKeys = batch.stateKeys;
    this.lastBatchTime = batch.batchTime;
    if (this.now() - this.since >= SUMMARY_INTERVAL_MS) this.flush();
  }

  /** Counts a failed batch (the failure has a log line of its own, at error level). */
  failedBatch(batchTime: number): void {
    this.since ??= this.now();
    this.failed++;
    this.lastBatchTime = batchTime;
  }

  /** Writes the summary of the batches not yet summed up, if any. */
  flush(): void {
    const now = this.now();
    if (this.since !== undefined && this.batches + this.failed > 0) {
      const avg = (total: number) => (this.batches > 0 ? Math.round(total / this.batches) : 0);
      this.log.info(
        {
          periodMs: now - this.since,
          batches: this.batches,
          failedBatches: this.failed,
          records: this.records,
          avgProcessingMs: avg(this.processingMs),
          avgSchedulingDelayMs: avg(this.schedulingDelayMs),
          stateKeys: this.stateKeys,
          lastBatchTime: this.lastBatchTime,
        },
        "batches summary",
      );
    }
    this.since = now;
    this.batches = 0;
    this.failed = 0;
    this.records = 0;
    this.processingMs = 0;
    this.schedulingDelayMs = 0;
  }
}
