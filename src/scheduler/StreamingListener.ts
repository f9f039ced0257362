import type { StateChanges } from "../state/StateStore.js";
/** One output operation of one batch (Spark's OutputOperationInfo). */
export interface OutputOperationInfo {
  readonly batchTime: number;
  /** Position of the output in the graph, from 0. */
  readonly id: number;
  readonly operatorId: string;
  /** The name given with `foreachRDD(fn, { name })`, or the output's kind (`foreachRDD`, `print`, …). */
  readonly name: string;
  startTime?: number;
  endTime?: number;
  failureReason?: string;
}

/** What a batch did (Spark's BatchInfo). Times are wall-clock milliseconds; delays are durations. */
export interface BatchInfo {
  readonly batchTime: number;
  /** Records of the batch per input stream id. */
  readonly streamIdToNumRecords: Readonly<Record<string, number>>;
  readonly numRecords: number;
  /** What each input stream read for the batch, for those that say (Spark's StreamInputInfo description). */
  readonly streamIdToDescription: Readonly<Record<string, string>>;
  readonly submissionTime: number;
  processingStartTime?: number;
  processingEndTime?: number;
  /** From submission to the start of processing. */
  schedulingDelay?: number;
  /** From the start to the end of processing. */
  processingDelay?: number;
  /** Scheduling plus processing delay. */
  totalDelay?: number;
  readonly outputOperations: OutputOperationInfo[];
  failureReason?: string;
  /**
   * Records dropped because a per-record function threw on them (`spate.errors.onRecordFailure` "skip" or
   * "deadLetter"), by operator id; absent when none were.
   */
  recordsFailedByOperator?: Readonly<Record<string, number>>;
  /** The sum of `recordsFailedByOperator`. */
  numRecordsFailed?: number;
  /** What the batch changed in the state of each operator that keeps state in stores, once it committed. */
  stateChanges?: StateChanges[];
}

/** One data checkpoint of one stateful operator. */
export interface CheckpointInfo {
  readonly operatorId: string;
  readonly kind: string;
  readonly batchTime: number;
  readonly mode: "full" | "delta";
  /** Entries written (every key for a full snapshot; changed and removed keys for a delta). */
  readonly entries: number;
  readonly bytes: number;
  /** Snapshot, encoding and durable write, in ms. */
  readonly durationMs: number;
}

/** The checkpoint a context restored by `getOrCreate` resumed from. */
export interface RestoredFromInfo {
  /** The metadata checkpoint's file name. */
  readonly checkpoint: string;
  /** The last batch completed before the checkpoint was written, if any. */
  readonly batchTime: number | undefined;
  /** Wall-clock ms when the checkpoint was written. */
  readonly writtenAt: number;
}

/** A receiver's status (Spark's ReceiverInfo). */
export interface ReceiverInfo {
  /** The id of the receiver's input stream. */
  readonly streamId: string;
  /** The receiver's class name. */
  readonly name: string;
  /** Whether it is running now. */
  active: boolean;
  /** Times it was restarted (after throwing or calling restart()). */
  restarts: number;
  /** Records stored so far. */
  recordsStored: number;
  /** The rate limit in records per second now in force (maxRate or backpressure); undefined: no limit. */
  rateLimit?: number;
  lastErrorMessage?: string;
  lastError?: string;
  /** Wall-clock ms of the last error. */
  lastErrorTime?: number;
}

/** An input stream that got over trouble on its own (a JetStream consumer re-created after a NATS node died). */
export interface InputRecoveryInfo {
  /** The id of the input stream. */
  readonly streamId: string;
  /** Its kind (`natsJetStream`). */
  readonly kind: string;
  /** Wall-clock ms of the recovery. */
  readonly time: number;
  /** What went wrong and what was done. */
  readonly message: string;
  /** How long the input delivered nothing, in ms. */
  readonly stalledMs: number;
}

/** Receives the events of a running context (Spark's StreamingListener); every method is optional. */
export interface StreamingListener {
  /** The context started, at `time` on its clock; `restoredFrom` says which checkpoint it resumed from, if any. */
  onStreamingStarted?(event: { time: number; restoredFrom?: RestoredFromInfo }): void;
  /** A batch was generated and queued. */
  onBatchSubmitted?(event: { batchInfo: BatchInfo }): void;
  /** A batch began to run. */
  onBatchStarted?(event: { batchInfo: BatchInfo }): void;
  /** A batch ended, completed or failed (`failureReason`). */
  onBatchCompleted?(event: { batchInfo: BatchInfo }): void;
  /** An output operation of a batch began. */
  onOutputOperationStarted?(event: { outputOperationInfo: OutputOperationInfo }): void;
  /** An output operation of a batch ended, completed or failed (`failureReason`). */
  onOutputOperationCompleted?(event: { outputOperationInfo: OutputOperationInfo }): void;
  /** A checkpoint was written. */
  onCheckpointWritten?(event: { checkpointInfo: CheckpointInfo }): void;
  /** A receiver started (or started again after a restart). */
  onReceiverStarted?(event: { receiverInfo: ReceiverInfo }): void;
  /** A receiver reported an error. */
  onReceiverError?(event: { receiverInfo: ReceiverInfo }): void;
  /** A receiver stopped. */
  onReceiverStopped?(event: { receiverInfo: ReceiverInfo }): void;
  /** An input got over trouble on its own (a JetStream consumer re-created after a node was lost). */
  onInputRecovered?(event: { recoveryInfo: InputRecoveryInfo }): void;
}

type EventName = keyof StreamingListener;
type EventOf<N extends EventName> = Parameters<NonNullable<StreamingListener[N]>>[0];

/** Delivers events to listeners; an event is built only when someone listens, and a throwing listener is logged. */
export class ListenerBus {
  private readonly listeners: StreamingListener[] = [];

  constructor(private readonly onListenerError: (error: unknown, event: string) => void) {}

  add(listener: StreamingListener): void {
    this.listeners.push(listener);
  }

  remove(listener: StreamingListener): void {
    const i = this.listeners.indexOf(listener);
    if (i >= 0) this.listeners.splice(i, 1);
  }

  get active(): boolean {
    return this.listeners.length > 0;
  }

  post<N extends EventName>(name: N, build: () => EventOf<N>): void {
    if (this.listeners.length === 0) return;
    const event = build();
    for (const l of this.listeners) {
      const handler = l[name] as ((e: EventOf<N>) => void) | undefined;
      if (!handler) continue;
      try {
        handler.call(l, event);
      } catch (e) {
        this.onListenerError(e, name);
      }
    }
  }
}
