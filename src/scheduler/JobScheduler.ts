import { appendRange, appendTime, type TimeRange } from "../checkpoint/metadata.js";
import { atBatch, attribute } from "../errors.js";
import type { DStreamGraph, GeneratedBatch } from "../graph/DStreamGraph.js";
import type { Logger } from "../log.js";
import { runAs } from "../rdd/scope.js";
import type { StateStoreProvider } from "../state/StateStore.js";
import { BatchSummary } from "./BatchSummary.js";
import type { BadRecords } from "./BadRecords.js";
import type { BatchInfo, ListenerBus } from "./StreamingListener.js";

interface PendingBatch {
  batch: GeneratedBatch;
  info: BatchInfo;
  /** Set when the batch is a completed one replayed into state at recovery. */
  replay?: ReplayProgress;
}

/**
 * Completed batches replayed into state at recovery (the state restored from a data checkpoint is older than the
 * last completed batch): each runs through the same path as a live batch, but computes and commits only the state
 * of the operators whose restored state is older than the batch, runs no output operation, posts no listener
 * event and writes no checkpoint (Spark never reruns a completed batch; it has nothing to replay).
 */
export interface BatchReplay {
  /** The batch time each restored stateful operator's state is at, by operator id. */
  readonly stateVersions: ReadonlyMap<string, number>;
}

/** How far a replayed range is: its progress is logged about once a second. */
interface ReplayProgress extends BatchReplay {
  readonly count: number;
  done: number;
  lastReport: number;
}

/**
 * Batches whose input is allocated but whose jobs are generated only when they come to run (the batches of a down
 * time): a day of them is one entry, not 86,400 generated batches held in memory.
 */
interface PendingRange {
  next: number;
  last: number;
  step: number;
  generate: (time: number) => GeneratedBatch;
  submissionTime: number;
  replay?: ReplayProgress;
}

type QueueEntry = PendingBatch | PendingRange;

/** The batches a restart runs (those pending at the stop, then the down time's) being caught up. */
export interface CatchUpStatus {
  /** Batches to run again or for the first time after the restart. */
  batches: number;
  /** Of those, how many have completed. */
  completed: number;
  /** Wall-clock time the catch-up started, in ms since the epoch. */
  startedAt: number;
  /** Completed batches per second so far. */
  batchesPerSecond: number;
  /** Wall-clock time it finished, once it has. */
  finishedAt?: number;
}

/** What the checkpointer does around each batch: record its input first, record it complete after. */
export interface BatchHooks {
  /** `pending` gives the batches generated and not completed, the running one first. */
  beforeBatch(time: number, pending: () => TimeRange[]): Promise<void>;
  /** After stateful streams are computed, before any output runs; throwing fails the batch. */
  afterCompute?(time: number): void;
  /** Returns what data checkpoints it wrote, if any. */
  afterBatch(
    time: number,
    pending: () => TimeRange[],
    records: number,
  ): Promise<{ files: number; bytes: number; ms: number } | undefined>;
}

/** How often, in wall-clock ms, a long replay into state logs its progress. */
const REPLAY_PROGRESS_MS = 1000;
/** How often, in wall-clock ms, a long catch-up logs its progress. */
const CATCH_UP_PROGRESS_MS = 10_000;
/** A run of batches without I/O gives the event loop a turn this often (timers, receivers, the UI, signals). */
const YIELD_EVERY_MS = 10;

/** Wall-clock time for metrics only; the engine's batch times come from its Clock. */
const wallClock = () => Date.now();

/**
 * Runs generated batches one at a time, in batch order (Spark's JobScheduler with one concurrent job): computes
 * stateful streams, runs every output job, then commits every state store; if anything throws, it aborts every
 * store back to the previous batch and reports the failure.
 */
export class JobScheduler {
  private readonly queue: QueueEntry[] = [];
  private running: Promise<void> | undefined;
  private idleWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private failure: unknown;
  private current: number | undefined;
  private catchUp: (CatchUpStatus & { last: number; lastReport: number }) | undefined;
  hooks: BatchHooks | undefined;
  private readonly summary: BatchSummary;

  /** `now` is the context's clock, which paces the summary line (every 10 s). */
  constructor(
    private readonly graph: DStreamGraph,
    private readonly stores: StateStoreProvider,
    private readonly bus: ListenerBus,
    private readonly log: Logger,
    private readonly onFailure: (error: unknown) => void,
    private readonly batchDuration: number,
    now: () => number = wallClock,
    private readonly badRecords?: BadRecords,
  ) {
    this.summary = new BatchSummary(log, now);
  }

  /** Writes the summary of the batches run since the last one (the context calls it when it stops). */
  summarize(): void {
    this.summary.flush();
  }

  private infoOf(batch: GeneratedBatch, submissionTime = wallClock()): BatchInfo {
    const streamIdToNumRecords = Object.fromEntries(batch.inputRecords);
    let numRecords = 0;
    for (const n of batch.inputRecords.values()) numRecords += n;
    return {
      batchTime: batch.time,
      streamIdToNumRecords,
      numRecords,
      streamIdToDescription: Object.fromEntries(batch.inputDescriptions),
      submissionTime,
      outputOperations: batch.jobs.map((job, id) => ({
        batchTime: batch.time,
        id,
        operatorId: job.outputId,
        name: job.name,
      })),
    };
  }

  submit(batch: GeneratedBatch): void {
    const info = this.infoOf(batch);
    this.queue.push({ batch, info });
    this.bus.post("onBatchSubmitted", () => ({ batchInfo: info }));
    this.running ??= this.drain();
  }

  /**
   * Queues the batches `first, first + step, …, last`, whose input is already allocated; each one's jobs are
   * generated by `generate` when it comes to run, and its `onBatchSubmitted` is posted then. They are the batches
   * a restart catches up: the log shows their progress every 10 s, and {@link catchUpStatus} the UI.
   */
  submitRange(first: number, last: number, step: number, generate: (time: number) => GeneratedBatch): void {
    if (last < first) return;
    const submissionTime = wallClock();
    this.queue.push({ next: first, last, step, generate, submissionTime });
    const batches = Math.floor((last - first) / step) + 1;
    this.catchUp = {
      batches,
      completed: 0,
      startedAt: submissionTime,
      batchesPerSecond: 0,
      last,
      lastReport: performance.now(),
    };
    this.running ??= this.drain();
  }

  /**
   * Queues the completed batches `first, first + step, …, last` to be replayed into state (recovery, see
   * {@link BatchReplay}); each one's jobs are generated by `generate` when it comes to run, as the batch was.
   */
  submitReplay(
    first: number,
    last: number,
    step: number,
    replay: BatchReplay,
    generate: (time: number) => GeneratedBatch,
  ): void {
    if (last < first) return;
    const count = Math.floor((last - first) / step) + 1;
    const progress: ReplayProgress = { ...replay, count, done: 0, lastReport: performance.now() };
    this.queue.push({ next: first, last, step, generate, submissionTime: wallClock(), replay: progress });
    this.running ??= this.drain();
  }

  /** The catch-up after a restart, if there was one: how far it is. */
  catchUpStatus(): CatchUpStatus | undefined {
    const c = this.catchUp;
    if (!c) return undefined;
    const { last: _last, lastReport: _lastReport, ...status } = c;
    return { ...status };
  }

  /** Times of the batch running and the batches queued, as ranges (in time order); replays are complete already. */
  pendingRanges(): TimeRange[] {
    const step = this.batchDuration;
    const ranges: TimeRange[] = [];
    if (this.current !== undefined) appendTime(ranges, this.current, step);
    for (const e of this.queue) {
      if ("batch" in e) appendTime(ranges, e.batch.time, step);
      else if (!e.replay) appendRange(ranges, e.next, e.last, e.step);
    }
    return ranges;
  }

  /**
   * Drops the batches that have not started (a non-graceful stop); returns their times, as ranges. Replays are
   * dropped too, and not listed: their batches are complete, and the next recovery replays them again.
   */
  dropPending(): TimeRange[] {
    const step = this.batchDuration;
    const ranges: TimeRange[] = [];
    for (const e of this.queue.splice(0)) {
      if ("batch" in e) appendTime(ranges, e.batch.time, step);
      else if (!e.replay) appendRange(ranges, e.next, e.last, e.step);
    }
    return ranges;
  }

  /** The next batch to run: the head of the queue, generated now if it is part of a range. */
  private takeNext(): PendingBatch | undefined {
    const head = this.queue[0];
    if (!head) return undefined;
    if ("batch" in head) {
      this.queue.shift();
      return head;
    }
    const time = head.next;
    head.next += head.step;
    if (head.next > head.last) this.queue.shift();
    let batch: GeneratedBatch;
    try {
      batch = head.generate(time);
    } catch (e) {
      const error = atBatch(e, time);
      this.failure = error;
      this.log.error({ batchTime: time, error }, "generating a batch failed");
      this.onFailure(error);
      return undefined;
    }
    const info = this.infoOf(batch, head.submissionTime);
    if (head.replay) return { batch, info, replay: head.replay };
    this.bus.post("onBatchSubmitted", () => ({ batchInfo: info }));
    return { batch, info };
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
    let yielded = performance.now();
    try {
      while (this.queue.length > 0 && this.failure === undefined) {
        const next = this.takeNext();
        if (!next) break;
        await this.runBatch(next);
        // Batches that write nothing (the empty ones of a catch-up) run without I/O: let timers, receivers,
        // the UI and signal handlers have a turn every few ms. Replays into state run on without one, as they
        // did before the scheduler ran them: with turns, a replay of 10,000 batches grew the heap to 60 MB
        // between full collections instead of 14 MB, and took a third more CPU.
        if (!next.replay && performance.now() - yielded >= YIELD_EVERY_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          yielded = performance.now();
        }
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

  /**
   * Runs one batch: computes its stateful and persisted streams, runs its output operations, commits every state
   * store (or aborts them all). A replayed batch (recovery) takes the same path without outputs, events or
   * checkpoints, and computes only the state older than it.
   */
  private async runBatch({ batch, info, replay }: PendingBatch): Promise<void> {
    const time = batch.time;
    if (!replay) this.current = time;
    info.processingStartTime = wallClock();
    info.schedulingDelay = info.processingStartTime - info.submissionTime;
    if (!replay) this.bus.post("onBatchStarted", () => ({ batchInfo: info }));
    try {
      if (!replay) await this.hooks?.beforeBatch(time, () => this.pendingRanges());
      this.graph.materializeStateful(
        time,
        replay && ((s) => (replay.stateVersions.get(s.id) ?? Number.POSITIVE_INFINITY) < time),
      );
      if (replay) {
        // Its records dropped under skip or deadLetter were counted and written when it ran.
        this.badRecords?.discard(time);
        this.stores.commitAll(time);
        this.graph.clearMetadata(time);
        this.replayed(time, replay);
        return;
      }
      this.hooks?.afterCompute?.(time);
      for (let i = 0; i < batch.jobs.length; i++) {
        const job = batch.jobs[i]!;
        const op = info.outputOperations[i]!;
        op.startTime = wallClock();
        this.bus.post("onOutputOperationStarted", () => ({ outputOperationInfo: op }));
        try {
          await runAs(job.output, time, () => job.run());
        } catch (e) {
          const error = attribute(job.output, e);
          op.failureReason = error.message;
          throw error;
        } finally {
          op.endTime = wallClock();
          this.bus.post("onOutputOperationCompleted", () => ({ outputOperationInfo: op }));
        }
      }
      // Dead letters are durable before the batch can be checkpointed as complete.
      const dropped = await this.badRecords?.end(time);
      if (dropped) {
        info.recordsFailedByOperator = dropped;
        info.numRecordsFailed = Object.values(dropped).reduce((a, b) => a + b, 0);
      }
      info.stateChanges = this.stores.commitAll(time);
    } catch (e) {
      this.badRecords?.discard(time);
      this.stores.abortAll();
      const error = atBatch(e, time);
      this.failure = error;
      info.failureReason = error instanceof Error ? error.message : String(error);
      if (!replay) this.finish(info);
      this.log.error(
        {
          batchTime: time,
          operatorId: (error as { operatorId?: unknown }).operatorId,
          output: info.outputOperations.find((o) => o.failureReason !== undefined)?.name,
          operator: (error as { operatorName?: unknown }).operatorName,
          code: (error as { code?: unknown }).code,
          error,
        },
        "batch failed; state rolled back to the previous batch",
      );
      this.summary.failedBatch(time);
      this.summary.flush();
      this.current = undefined;
      this.onFailure(error);
      return;
    }
    let checkpoint: { files: number; bytes: number; ms: number } | undefined;
    try {
      checkpoint = await this.hooks?.afterBatch(time, () => this.pendingRanges(), info.numRecords);
    } catch (e) {
      // State is committed but not checkpointed: stop, and let a restart recover from the previous checkpoint.
      this.failure = e;
      this.current = undefined;
      this.log.error(
        { batchTime: time, error: e },
        "checkpoint failed; stopping (a restart recovers from the previous one)",
      );
      this.summary.failedBatch(time);
      this.summary.flush();
      this.onFailure(e);
      return;
    }
    this.current = undefined;
    this.graph.clearMetadata(time);
    this.finish(info);
    const catchingUp = this.catchUp !== undefined && this.catchUp.finishedAt === undefined;
    if (catchingUp) this.caughtUpTo(time);
    let stateKeys = 0;
    for (const store of this.stores.stores()) stateKeys += store.size;
    // One line per batch at debug level (while catching up too); at info, a summary every 10 s.
    this.log.debug(
      {
        batchTime: time,
        records: info.numRecords,
        ...(info.numRecordsFailed ? { recordsFailed: info.numRecordsFailed } : {}),
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
    this.summary.completed({
      batchTime: time,
      records: info.numRecords,
      processingMs: info.processingDelay!,
      schedulingDelayMs: info.schedulingDelay!,
      stateKeys,
    });
  }

  /** Counts a replayed batch; logs progress about once a second, and the last one. */
  private replayed(time: number, replay: ReplayProgress): void {
    replay.done++;
    const now = performance.now();
    if (now - replay.lastReport >= REPLAY_PROGRESS_MS || replay.done === replay.count) {
      replay.lastReport = now;
      this.log.info(
        { batchTime: time, done: replay.done, of: replay.count },
        "replaying completed batches into state",
      );
    }
  }

  /** Counts a completed batch of the catch-up; logs progress every 10 s, and the end. */
  private caughtUpTo(time: number): void {
    const c = this.catchUp!;
    if (time > c.last) return;
    c.completed++;
    const now = performance.now();
    const seconds = (wallClock() - c.startedAt) / 1000;
    c.batchesPerSecond = seconds > 0 ? Math.round(c.completed / seconds) : 0;
    if (c.completed >= c.batches) {
      c.finishedAt = wallClock();
      this.log.info(
        { batches: c.batches, seconds: Math.round(seconds * 10) / 10, batchesPerSecond: c.batchesPerSecond },
        "caught up: every batch since the stop has run",
      );
    } else if (now - c.lastReport >= CATCH_UP_PROGRESS_MS) {
      c.lastReport = now;
      const remaining = c.batches - c.completed;
      this.log.info(
        {
          batchTime: time,
          completed: c.completed,
          of: c.batches,
          batchesPerSecond: c.batchesPerSecond,
          etaSeconds: c.batchesPerSecond > 0 ? Math.round(remaining / c.batchesPerSecond) : undefined,
        },
        "catching up the batches since the stop",
      );
    }
  }

  private finish(info: BatchInfo): void {
    info.processingEndTime = wallClock();
    info.processingDelay = info.processingEndTime - info.processingStartTime!;
    info.totalDelay = info.schedulingDelay! + info.processingDelay;
    this.bus.post("onBatchCompleted", () => ({ batchInfo: info }));
  }
}
