import { attribute, UserFunctionError } from "../errors.js";
import type { DStreamGraph, GeneratedBatch } from "../graph/DStreamGraph.js";
import type { Logger } from "../log.js";
import { runAs } from "../rdd/scope.js";
import type { StateStoreProvider } from "../state/StateStore.js";
import type { BatchInfo, ListenerBus } from "./StreamingListener.js";

interface PendingBatch {
  batch: GeneratedBatch;
  info: BatchInfo;
}

/** What the checkpointer does around each batch: record its input first, record it complete after. */
export interface BatchHooks {
  beforeBatch(time: number, pending: number[]): Promise<void>;
  /** Returns what data checkpoints it wrote, if any. */
  afterBatch(
    time: number,
    pending: number[],
  ): Promise<{ files: number; bytes: number; ms: number } | undefined>;
}

/** Wall-clock time for metrics only; the engine's batch times come from its Clock. */
const wallClock = () => Date.now();

/**
 * Runs generated batches one at a time, in batch order (Spark's JobScheduler with one concurrent job): computes
 * stateful streams, runs every output job, then commits every state store; if anything throws, it aborts every
 * store back to the previous batch and reports the failure.
 */
export class JobScheduler {
  private readonly queue: PendingBatch[] = [];
  private running: Promise<void> | undefined;
  private idleWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private failure: unknown;
  private current: number | undefined;
  hooks: BatchHooks | undefined;

  constructor(
    private readonly graph: DStreamGraph,
    private readonly stores: StateStoreProvider,
    private readonly bus: ListenerBus,
    private readonly log: Logger,
    private readonly onFailure: (error: unknown) => void,
  ) {}

  submit(batch: GeneratedBatch): void {
    const streamIdToNumRecords = Object.fromEntries(batch.inputRecords);
    let numRecords = 0;
    for (const n of batch.inputRecords.values()) numRecords += n;
    const info: BatchInfo = {
      batchTime: batch.time,
      streamIdToNumRecords,
      numRecords,
      submissionTime: wallClock(),
      outputOperations: batch.jobs.map((job, id) => ({
        batchTime: batch.time,
        id,
        operatorId: job.outputId,
      })),
    };
    this.queue.push({ batch, info });
    this.bus.post("onBatchSubmitted", () => ({ batchInfo: info }));
    this.running ??= this.drain();
  }

  /** Batches submitted and not yet finished. */
  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  /** Times of the batch running and the batches queued. */
  pendingTimes(): number[] {
    const times = this.queue.map((p) => p.batch.time);
    return this.current === undefined ? times : [this.current, ...times];
  }

  /** Drops the batches that have not started (a non-graceful stop); returns their times. */
  dropPending(): number[] {
    return this.queue.splice(0).map((p) => p.batch.time);
  }

  /** Resolves when no batch is queued or running; rejects if a batch failed. */
  whenIdle(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (!this.running) return Promise.resolve();
    return new Promise((resolve, reject) => this.idleWaiters.push({ resolve, reject }));
  }

  private async drain(): Promise<void> {
    // Yield once, so that batches generated in the same tick are all queued before the first one runs.
    await Promise.resolve();
    try {
      while (this.queue.length > 0 && this.failure === undefined) {
        const next = this.queue.shift()!;
        await this.runBatch(next);
      }
    } finally {
      this.running = undefined;
      const waiters = this.idleWaiters.splice(0);
      for (const w of waiters) {
        if (this.failure !== undefined) w.reject(this.failure);
        else w.resolve();
      }
    }
  }

  private async runBatch({ batch, info }: PendingBatch): Promise<void> {
    const time = batch.time;
    this.current = time;
    info.processingStartTime = wallClock();
    info.schedulingDelay = info.processingStartTime - info.submissionTime;
    this.bus.post("onBatchStarted", () => ({ batchInfo: info }));
    try {
      await this.hooks?.beforeBatch(time, this.pendingTimes());
      this.graph.materializeStateful(time);
      for (let i = 0; i < batch.jobs.length; i++) {
        const job = batch.jobs[i]!;
        const op = info.outputOperations[i]!;
        op.startTime = wallClock();
        this.bus.post("onOutputOperationStarted", () => ({ outputOperationInfo: op }));
        try {
          await runAs(job.outputId, () => job.run());
        } catch (e) {
          const error = attribute(job.outputId, e);
          op.failureReason = error.message;
          throw error;
        } finally {
          op.endTime = wallClock();
          this.bus.post("onOutputOperationCompleted", () => ({ outputOperationInfo: op }));
        }
      }
      this.stores.commitAll(time);
    } catch (e) {
      this.stores.abortAll();
      const error = e instanceof UserFunctionError ? e.atBatch(time) : e;
      this.failure = error;
      info.failureReason = error instanceof Error ? error.message : String(error);
      this.finish(info);
      this.log.error(
        {
          batchTime: time,
          operatorId: error instanceof UserFunctionError ? error.operatorId : undefined,
          code: (error as { code?: unknown }).code,
          error,
        },
        "batch failed; state rolled back to the previous batch",
      );
      this.current = undefined;
      this.onFailure(error);
      return;
    }
    let checkpoint: { files: number; bytes: number; ms: number } | undefined;
    try {
      checkpoint = await this.hooks?.afterBatch(
        time,
        this.pendingTimes().filter((t) => t !== time),
      );
    } catch (e) {
      // State is committed but not checkpointed: stop, and let a restart recover from the previous checkpoint.
      this.failure = e;
      this.current = undefined;
      this.log.error(
        { batchTime: time, error: e },
        "checkpoint failed; stopping (a restart recovers from the previous one)",
      );
      this.onFailure(e);
      return;
    }
    this.current = undefined;
    this.graph.clearMetadata(time);
    this.finish(info);
    let stateKeys = 0;
    for (const store of this.stores.stores()) stateKeys += store.size;
    this.log.info(
      {
        batchTime: time,
        records: info.numRecords,
        processingMs: info.processingDelay,
        schedulingDelayMs: info.schedulingDelay,
        stateKeys,
        checkpoint:
          checkpoint && checkpoint.files > 0
            ? { bytes: checkpoint.bytes, ms: Math.round(checkpoint.ms) }
            : false,
      },
      "batch completed",
    );
  }

  private finish(info: BatchInfo): void {
    info.processingEndTime = wallClock();
    info.processingDelay = info.processingEndTime - info.processingStartTime!;
    info.totalDelay = info.schedulingDelay! + info.processingDelay;
    this.bus.post("onBatchCompleted", () => ({ batchInfo: info }));
  }
}
