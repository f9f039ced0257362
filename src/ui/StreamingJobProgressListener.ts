import type {
  BatchInfo,
  CheckpointInfo,
  InputRecoveryInfo,
  ReceiverInfo,
  RestoredFromInfo,
  StreamingListener,
} from "../scheduler/StreamingListener.js";

/** Data checkpoints the UI remembers, newest kept (its checkpoint history and batch pages). */
export const RETAINED_CHECKPOINTS = 500;

/** A data checkpoint as the UI keeps it: with the wall-clock time it was reported. */
export interface WrittenCheckpoint extends CheckpointInfo {
  readonly writtenAt: number;
}

/** Where a batch is: waiting for the one before it, running, or done (Spark's BatchStatus). */
export type BatchStatus = "queued" | "processing" | "completed";

/** A receiver as its last event left it, with the errors counted so far. */
export interface ReceiverStatus {
  readonly info: ReceiverInfo;
  readonly numErrors: number;
}

/** The checkpoints written for one stateful operator. */
export interface OperatorCheckpoints {
  readonly last: CheckpointInfo;
  /** The last full snapshot: its size is the size of the operator's whole state then. */
  readonly lastFull: CheckpointInfo | undefined;
  readonly count: number;
}

/** What happens to the numbers the listener keeps, for metrics that follow them (Prometheus counters). */
export interface ProgressObserver {
  batchStarted?(info: BatchInfo): void;
  batchCompleted?(info: BatchInfo): void;
  checkpointWritten?(info: CheckpointInfo): void;
  /** Any receiver event (before `receiverError` for an error). */
  receiverSeen?(info: ReceiverInfo): void;
  receiverError?(info: ReceiverInfo): void;
  inputRecovered?(info: InputRecoveryInfo): void;
}

/** The recoveries of one input stream (a JetStream consumer re-created after a NATS node died). */
export interface InputRecoveries {
  readonly count: number;
  readonly last: InputRecoveryInfo;
}

/** A fixed-size ring of the most recent items, oldest first. */
class Ring<T> {
  private readonly items: Array<T | undefined>;
  private start = 0;
  private length = 0;

  constructor(readonly capacity: number) {
    this.items = new Array(capacity);
  }

  get size(): number {
    return this.length;
  }

  push(item: T): void {
    if (this.length < this.capacity) {
      this.items[(this.start + this.length) % this.capacity] = item;
      this.length++;
    } else {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  toArray(): T[] {
    const out: T[] = new Array(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.items[(this.start + i) % this.capacity]!;
    return out;
  }
}

/**
 * Everything the streaming UI, its JSON API and its metrics show, gathered from listener events only (Spark's
 * StreamingJobProgressListener): the batches waiting and running, a bounded ring of the most recent completed
 * ones (`spate.ui.retainedBatches`), running totals, receivers' last status and stateful operators' checkpoints.
 * It does work per batch and per event, never per record.
 */
export class StreamingJobProgressListener implements StreamingListener {
  /** Wall-clock ms when the context started, or undefined before. */
  startTime: number | undefined;
  /** The checkpoint the context resumed from, when getOrCreate restored it. */
  restoredFrom: RestoredFromInfo | undefined;
  private readonly checkpointHistory = new Ring<WrittenCheckpoint>(RETAINED_CHECKPOINTS);
  private readonly waiting = new Map<number, BatchInfo>();
  private readonly running = new Map<number, BatchInfo>();
  private readonly completed: Ring<BatchInfo>;
  private totalCompleted = 0;
  private totalFailed = 0;
  private totalReceivedRecords = 0;
  private totalProcessedRecords = 0;
  private totalFailedRecords = 0;
  private readonly recordsPerStream = new Map<string, number>();
  private readonly receiverStatus = new Map<string, ReceiverStatus>();
  private readonly checkpointsByOperator = new Map<string, OperatorCheckpoints>();
  private readonly recoveriesByStream = new Map<string, InputRecoveries>();

  constructor(
    readonly batchDuration: number,
    retainedBatches: number,
    private readonly observer: ProgressObserver = {},
  ) {
    this.completed = new Ring(retainedBatches);
  }

  // ---- events ------------------------------------------------------------------------------------------------

  onStreamingStarted({ restoredFrom }: { time: number; restoredFrom?: RestoredFromInfo }): void {
    this.startTime = Date.now();
    this.restoredFrom = restoredFrom;
  }

  onBatchSubmitted({ batchInfo }: { batchInfo: BatchInfo }): void {
    this.waiting.set(batchInfo.batchTime, batchInfo);
  }

  onBatchStarted({ batchInfo }: { batchInfo: BatchInfo }): void {
    this.waiting.delete(batchInfo.batchTime);
    this.running.set(batchInfo.batchTime, batchInfo);
    // As Spark, records count as received when their batch starts, and as processed when it completes.
    this.totalReceivedRecords += batchInfo.numRecords;
    for (const [stream, n] of Object.entries(batchInfo.streamIdToNumRecords)) {
      this.recordsPerStream.set(stream, (this.recordsPerStream.get(stream) ?? 0) + n);
    }
    this.observer.batchStarted?.(batchInfo);
  }

  onBatchCompleted({ batchInfo }: { batchInfo: BatchInfo }): void {
    this.waiting.delete(batchInfo.batchTime);
    this.running.delete(batchInfo.batchTime);
    this.completed.push(batchInfo);
    this.totalCompleted++;
    if (batchInfo.failureReason !== undefined) this.totalFailed++;
    this.totalProcessedRecords += batchInfo.numRecords;
    this.totalFailedRecords += batchInfo.numRecordsFailed ?? 0;
    this.observer.batchCompleted?.(batchInfo);
  }

  onCheckpointWritten({ checkpointInfo }: { checkpointInfo: CheckpointInfo }): void {
    const before = this.checkpointsByOperator.get(checkpointInfo.operatorId);
    this.checkpointsByOperator.set(checkpointInfo.operatorId, {
      last: checkpointInfo,
      lastFull: checkpointInfo.mode === "full" ? checkpointInfo : before?.lastFull,
      count: (before?.count ?? 0) + 1,
    });
    this.checkpointHistory.push({ ...checkpointInfo, writtenAt: Date.now() });
    this.observer.checkpointWritten?.(checkpointInfo);
  }

  onReceiverStarted({ receiverInfo }: { receiverInfo: ReceiverInfo }): void {
    this.updateReceiver(receiverInfo, false);
  }

  onReceiverError({ receiverInfo }: { receiverInfo: ReceiverInfo }): void {
    this.updateReceiver(receiverInfo, true);
  }

  onReceiverStopped({ receiverInfo }: { receiverInfo: ReceiverInfo }): void {
    this.updateReceiver(receiverInfo, false);
  }

  onInputRecovered({ recoveryInfo }: { recoveryInfo: InputRecoveryInfo }): void {
    const before = this.recoveriesByStream.get(recoveryInfo.streamId);
    this.recoveriesByStream.set(recoveryInfo.streamId, {
      count: (before?.count ?? 0) + 1,
      last: recoveryInfo,
    });
    this.observer.inputRecovered?.(recoveryInfo);
  }

  /**
   * Keeps the receiver's latest info. An error counts once: reported (onReceiverError), or seen as a new last
   * error on another event (a failure that restarts the receiver is reported by its stop and start).
   */
  private updateReceiver(info: ReceiverInfo, errorEvent: boolean): void {
    const before = this.receiverStatus.get(info.streamId);
    const newError =
      errorEvent || (info.lastErrorTime !== undefined && info.lastErrorTime !== before?.info.lastErrorTime);
    // A copy: the info of an event may be the receiver's own, which it goes on changing.
    this.receiverStatus.set(info.streamId, {
      info: { ...info },
      numErrors: (before?.numErrors ?? 0) + (newError ? 1 : 0),
    });
    this.observer.receiverSeen?.(info);
    if (newError) this.observer.receiverError?.(info);
  }

  // ---- reads -------------------------------------------------------------------------------------------------

  /** Completed batches still retained, oldest first. */
  retainedCompletedBatches(): BatchInfo[] {
    return this.completed.toArray();
  }

  /** Batches submitted and waiting for the one before them, oldest first. */
  waitingBatches(): BatchInfo[] {
    return [...this.waiting.values()].sort((a, b) => a.batchTime - b.batchTime);
  }

  /** The batch running now, if any (batches run one at a time). */
  runningBatches(): BatchInfo[] {
    return [...this.running.values()].sort((a, b) => a.batchTime - b.batchTime);
  }

  /** Every retained batch with its status, oldest first. */
  retainedBatches(): Array<{ status: BatchStatus; info: BatchInfo }> {
    return [
      ...this.completed.toArray().map((info) => ({ status: "completed" as const, info })),
      ...this.runningBatches().map((info) => ({ status: "processing" as const, info })),
      ...this.waitingBatches().map((info) => ({ status: "queued" as const, info })),
    ];
  }

  /** The retained batch of that time, if any. */
  batch(batchTime: number): { status: BatchStatus; info: BatchInfo } | undefined {
    const waiting = this.waiting.get(batchTime);
    if (waiting) return { status: "queued", info: waiting };
    const running = this.running.get(batchTime);
    if (running) return { status: "processing", info: running };
    const done = this.completed.toArray().find((b) => b.batchTime === batchTime);
    return done && { status: "completed", info: done };
  }

  /** The time of the last completed batch, if any. */
  get lastCompletedBatchTime(): number | undefined {
    return this.completed.toArray().at(-1)?.batchTime;
  }

  get numTotalCompletedBatches(): number {
    return this.totalCompleted;
  }

  get numTotalFailedBatches(): number {
    return this.totalFailed;
  }

  get numTotalReceivedRecords(): number {
    return this.totalReceivedRecords;
  }

  get numTotalProcessedRecords(): number {
    return this.totalProcessedRecords;
  }

  /** Records dropped because a per-record function threw on them (`spate.errors.onRecordFailure`). */
  get numTotalFailedRecords(): number {
    return this.totalFailedRecords;
  }

  get numUnprocessedBatches(): number {
    return this.waiting.size + this.running.size;
  }

  /** Records received so far by one input stream (counted when their batches start). */
  recordsOfStream(streamId: string): number {
    return this.recordsPerStream.get(streamId) ?? 0;
  }

  /** Each retained completed batch's input rate of one stream, in records per second (Spark's eventRates). */
  eventRates(streamId: string): Array<[number, number]> {
    return this.completed
      .toArray()
      .map((b) => [b.batchTime, ((b.streamIdToNumRecords[streamId] ?? 0) * 1000) / this.batchDuration]);
  }

  receivers(): ReceiverStatus[] {
    return [...this.receiverStatus.values()];
  }

  receiver(streamId: string): ReceiverStatus | undefined {
    return this.receiverStatus.get(streamId);
  }

  /** The recoveries of an input stream that recovers on its own, if it ever had to. */
  recoveries(streamId: string): InputRecoveries | undefined {
    return this.recoveriesByStream.get(streamId);
  }

  checkpoints(operatorId: string): OperatorCheckpoints | undefined {
    return this.checkpointsByOperator.get(operatorId);
  }

  /** The data checkpoints written, newest first (the last {@link RETAINED_CHECKPOINTS}). */
  checkpointsWritten(): WrittenCheckpoint[] {
    return this.checkpointHistory.toArray().reverse();
  }
}
