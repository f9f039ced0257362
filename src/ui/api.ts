// The JSON of /api/v1/streaming/, shaped as Spark's REST API (org.apache.spark.status.api.v1.streaming): the same
// resources and field names, every time as an ISO date (a batch's `batchId` stays its time in ms, as Spark's, and
// so do the times in receivers' `eventRates` pairs), durations in ms, absent values left out; spate's additions
// are marked below.
import { ReceiverInputOp } from "../dstream/ReceiverInputOp.js";
import type { BatchInfo, OutputOperationInfo } from "../scheduler/StreamingListener.js";
import type { StreamingContext } from "../StreamingContext.js";
import type { OperatorState } from "./operators.js";
import type {
  BatchStatus,
  StreamingJobProgressListener,
  WrittenCheckpoint,
} from "./StreamingJobProgressListener.js";

export interface StreamingStatisticsJson {
  startTime?: string;
  batchDuration: number;
  numReceivers: number;
  numActiveReceivers: number;
  numInactiveReceivers: number;
  numTotalCompletedBatches: number;
  numRetainedCompletedBatches: number;
  numActiveBatches: number;
  numProcessedRecords: number;
  numReceivedRecords: number;
  avgInputRate?: number;
  avgSchedulingDelay?: number;
  avgProcessingTime?: number;
  avgTotalDelay?: number;
  // spate's additions
  appName: string;
  state: string;
  numTotalFailedBatches: number;
  /** Records dropped because a per-record function threw on them (spate.errors.onRecordFailure). */
  numFailedRecords: number;
  /** After a restart: the batches it runs (pending at the stop, then the down time's), and how far it is. */
  catchUp?: CatchUpJson;
  /** When getOrCreate restored the context: the checkpoint it resumed from. */
  resumedFrom?: {
    checkpoint: string;
    /** The last batch completed before that checkpoint (absent: none had completed). */
    batchId?: number;
    batchTime?: string;
    /** When the checkpoint was written. */
    writtenAt: string;
  };
}

/** spate's addition: the catch-up of a restarted job. */
export interface CatchUpJson {
  /** Batches the restart runs: those not completed before the stop, then those of the down time. */
  batches: number;
  /** Of those, the batches of the down time. */
  downTimeBatches: number;
  numCompletedBatches: number;
  batchesPerSecond: number;
  startTime: string;
  /** When the last of them completed. */
  endTime?: string;
}

/** spate's addition: one data checkpoint written (GET checkpoints, a batch's `checkpoints`). */
export interface CheckpointJson {
  operatorId: string;
  kind: string;
  /** The batch the state is as of. */
  batchId: number;
  batchTime: string;
  /** When the UI heard of it (just after it was durably written). */
  writtenAt: string;
  mode: "full" | "delta";
  entries: number;
  bytes: number;
  durationMs: number;
}

export interface OutputOperationJson {
  outputOpId: number;
  name: string;
  description: string;
  startTime?: string;
  endTime?: string;
  duration?: number;
  failureReason?: string;
  // spate's addition: waiting, running, succeeded or failed
  status: string;
}

export interface BatchJson {
  batchId: number;
  batchTime: string;
  status: string;
  batchDuration: number;
  inputSize: number;
  schedulingDelay?: number;
  processingTime?: number;
  totalDelay?: number;
  numActiveOutputOps: number;
  numCompletedOutputOps: number;
  numFailedOutputOps: number;
  numTotalOutputOps: number;
  firstFailureReason?: string;
  // spate's additions
  streamIdToNumRecords: Readonly<Record<string, number>>;
  /** What each input stream read (files, blocks, sequences), for those that say. */
  streamIdToDescription: Readonly<Record<string, string>>;
  submissionTime: string;
  processingStartTime?: string;
  processingEndTime?: string;
  failureReason?: string;
  outputOperations: OutputOperationJson[];
  /** Data checkpoints written after this batch. */
  checkpoints: CheckpointJson[];
  /** What the batch changed in each stateful operator's state (operators with state stores). */
  stateChanges: Array<{ operatorId: string; written: number; removed: number; keys: number }>;
}

export interface ReceiverJson {
  streamId: string;
  streamName: string;
  isActive?: boolean;
  lastErrorTime?: string;
  lastErrorMessage?: string;
  lastError?: string;
  avgEventRate?: number;
  eventRates: Array<[number, number]>;
  // spate's additions
  restarts?: number;
  recordsStored?: number;
  rateLimit?: number;
  numErrors: number;
}

/** spate's addition: every input stream, receivers or not. */
export interface InputStreamJson {
  streamId: string;
  kind: string;
  /** Records received so far (counted when their batches start). */
  numRecords: number;
  avgEventRate?: number;
  receiver?: ReceiverJson;
  /** Problems of an input that is not a receiver (a file stream's missing folder, malformed lines). */
  numErrors?: number;
  lastErrorTime?: string;
  lastErrorMessage?: string;
  /** Times it got over trouble on its own (a JetStream consumer re-created), when it ever had to. */
  numRecoveries?: number;
  lastRecovery?: { time: string; message: string; stalledMs: number };
}

/** spate's addition: the stateful operators. */
export interface OperatorJson {
  id: string;
  kind: string;
  /** `kind at file:line (id)`: where the job's code created the operator. */
  name: string;
  numPartitions: number;
  numKeys?: number;
  estimatedBytes?: number;
  numCheckpoints: number;
  lastCheckpoint?: {
    batchId: number;
    batchTime: string;
    mode: "full" | "delta";
    entries: number;
    bytes: number;
    durationMs: number;
  };
  lastFullSnapshotBytes?: number;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

const average = (xs: number[]) => (xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length);

/** An average of durations, in whole ms as Spark's (Long) averages. */
const averageMs = (xs: Array<number | undefined>) => {
  const a = average(xs.filter((x): x is number => x !== undefined));
  return a === undefined ? undefined : Math.floor(a);
};

/** Drops undefined fields, as Spark's JSON leaves out absent (None) values. */
function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

function checkpointJson(c: WrittenCheckpoint): CheckpointJson {
  return {
    operatorId: c.operatorId,
    kind: c.kind,
    batchId: c.batchTime,
    batchTime: iso(c.batchTime)!,
    writtenAt: iso(c.writtenAt)!,
    mode: c.mode,
    entries: c.entries,
    bytes: c.bytes,
    durationMs: c.durationMs,
  };
}

/** Reads the JSON API's resources from the listener, the graph and the state stores of one context. */
export class StreamingApi {
  constructor(
    private readonly ssc: StreamingContext,
    private readonly progress: StreamingJobProgressListener,
    private readonly operatorStates: () => OperatorState[],
  ) {}

  private receiverStreamIds(): string[] {
    return this.ssc.graph.inputs.filter((s) => s.op instanceof ReceiverInputOp).map((s) => s.id);
  }

  statistics(): StreamingStatisticsJson {
    const p = this.progress;
    const batches = p.retainedBatches().map((b) => b.info);
    const receivers = this.receiverStreamIds();
    const active = receivers.filter((id) => p.receiver(id)?.info.active === true).length;
    return compact({
      startTime: iso(p.startTime),
      batchDuration: p.batchDuration,
      numReceivers: receivers.length,
      numActiveReceivers: active,
      numInactiveReceivers: receivers.length - active,
      numTotalCompletedBatches: p.numTotalCompletedBatches,
      numRetainedCompletedBatches: p.retainedCompletedBatches().length,
      numActiveBatches: p.numUnprocessedBatches,
      numProcessedRecords: p.numTotalProcessedRecords,
      numReceivedRecords: p.numTotalReceivedRecords,
      avgInputRate: average(batches.map((b) => (b.numRecords * 1000) / p.batchDuration)),
      avgSchedulingDelay: averageMs(batches.map((b) => b.schedulingDelay)),
      avgProcessingTime: averageMs(batches.map((b) => b.processingDelay)),
      avgTotalDelay: averageMs(batches.map((b) => b.totalDelay)),
      appName: this.ssc.appName,
      state: this.ssc.state(),
      numTotalFailedBatches: p.numTotalFailedBatches,
      catchUp: this.catchUp(),
      resumedFrom:
        p.restoredFrom &&
        compact({
          checkpoint: p.restoredFrom.checkpoint,
          batchId: p.restoredFrom.batchTime,
          batchTime: iso(p.restoredFrom.batchTime),
          writtenAt: iso(p.restoredFrom.writtenAt)!,
        }),
      numFailedRecords: p.numTotalFailedRecords,
    });
  }

  private catchUp(): CatchUpJson | undefined {
    const c = this.ssc.catchUpStatus();
    return (
      c &&
      compact({
        batches: c.batches,
        downTimeBatches: c.downTimeBatches,
        numCompletedBatches: c.completed,
        batchesPerSecond: c.batchesPerSecond,
        startTime: iso(c.startedAt)!,
        endTime: iso(c.finishedAt),
      })
    );
  }

  /** The data checkpoints written, newest first (the last ones the UI keeps). */
  checkpoints(): CheckpointJson[] {
    return this.progress.checkpointsWritten().map(checkpointJson);
  }

  /**
   * Retained batches, newest first (as Spark), of the given statuses (all when none is given); `offset` of them
   * skipped and at most `limit` given (all by default).
   */
  batches(statuses?: ReadonlySet<BatchStatus>, offset = 0, limit = Number.POSITIVE_INFINITY): BatchJson[] {
    const page = this.progress
      .retainedBatches()
      .filter((b) => !statuses || statuses.size === 0 || statuses.has(b.status))
      .sort((a, b) => b.info.batchTime - a.info.batchTime)
      .slice(offset, offset + limit);
    const checkpoints = this.checkpointsByBatch();
    return page.map((b) => this.batch(b.info, b.status, checkpoints));
  }

  /** How many retained batches there are of the given statuses (all when none is given). */
  countBatches(statuses?: ReadonlySet<BatchStatus>): number {
    return this.progress
      .retainedBatches()
      .filter((b) => !statuses || statuses.size === 0 || statuses.has(b.status)).length;
  }

  oneBatch(batchId: number): BatchJson | undefined {
    const b = this.progress.batch(batchId);
    return b && this.batch(b.info, b.status, this.checkpointsByBatch());
  }

  private checkpointsByBatch(): Map<number, WrittenCheckpoint[]> {
    const by = new Map<number, WrittenCheckpoint[]>();
    for (const c of this.progress.checkpointsWritten().reverse()) {
      const list = by.get(c.batchTime);
      if (list) list.push(c);
      else by.set(c.batchTime, [c]);
    }
    return by;
  }

  operations(batchId: number): OutputOperationJson[] | undefined {
    return this.progress.batch(batchId)?.info.outputOperations.map((op) => this.operation(op));
  }

  private batch(
    info: BatchInfo,
    status: BatchStatus,
    checkpoints: ReadonlyMap<number, WrittenCheckpoint[]>,
  ): BatchJson {
    const ops = info.outputOperations;
    return compact({
      batchId: info.batchTime,
      batchTime: iso(info.batchTime)!,
      status: status.toUpperCase(),
      batchDuration: this.progress.batchDuration,
      inputSize: info.numRecords,
      schedulingDelay: info.schedulingDelay,
      processingTime: info.processingDelay,
      totalDelay: info.totalDelay,
      // As Spark: an output is active until it ends (so ones not started yet count as active).
      numActiveOutputOps: ops.filter((o) => o.endTime === undefined).length,
      numCompletedOutputOps: ops.filter((o) => o.endTime !== undefined && o.failureReason === undefined)
        .length,
      numFailedOutputOps: ops.filter((o) => o.failureReason !== undefined).length,
      numTotalOutputOps: ops.length,
      firstFailureReason: ops.find((o) => o.failureReason !== undefined)?.failureReason,
      streamIdToNumRecords: info.streamIdToNumRecords,
      streamIdToDescription: info.streamIdToDescription ?? {},
      submissionTime: iso(info.submissionTime)!,
      processingStartTime: iso(info.processingStartTime),
      processingEndTime: iso(info.processingEndTime),
      failureReason: info.failureReason,
      outputOperations: ops.map((op) => this.operation(op)),
      checkpoints: (checkpoints.get(info.batchTime) ?? []).map(checkpointJson),
      stateChanges: (info.stateChanges ?? []).map((c) => ({
        operatorId: c.operatorId,
        written: c.written,
        removed: c.removed,
        keys: c.keys,
      })),
    });
  }

  private operation(op: OutputOperationInfo): OutputOperationJson {
    const stream = this.ssc.graph.outputs.find((s) => s.id === op.operatorId);
    const status =
      op.failureReason !== undefined
        ? "failed"
        : op.endTime !== undefined
          ? "succeeded"
          : op.startTime !== undefined
            ? "running"
            : "waiting";
    const parent = stream?.op.parents[0];
    return compact({
      outputOpId: op.id,
      name: op.name ?? stream?.op.kind ?? op.operatorId,
      // Spark's description is the call site; spate's names the output and the stream it writes.
      description: parent ? `${op.operatorId} of ${parent.id}` : op.operatorId,
      startTime: iso(op.startTime),
      endTime: iso(op.endTime),
      duration:
        op.startTime !== undefined && op.endTime !== undefined ? op.endTime - op.startTime : undefined,
      failureReason: op.failureReason,
      status,
    });
  }

  /** Receivers of the graph, by stream id (Spark's AllReceiversResource). */
  receivers(): ReceiverJson[] {
    return this.receiverStreamIds()
      .map((id) => this.receiver(id)!)
      .sort((a, b) => a.streamId.localeCompare(b.streamId));
  }

  receiver(streamId: string): ReceiverJson | undefined {
    if (!this.receiverStreamIds().includes(streamId)) return undefined;
    const status = this.progress.receiver(streamId);
    const info = status?.info;
    const eventRates = this.progress.eventRates(streamId);
    return compact({
      streamId,
      streamName: info?.name ?? streamId,
      isActive: info?.active,
      lastErrorTime: iso(info?.lastErrorTime),
      lastErrorMessage: info?.lastErrorMessage,
      lastError: info?.lastError,
      avgEventRate: average(eventRates.map((r) => r[1])),
      eventRates,
      restarts: info?.restarts,
      recordsStored: info?.recordsStored,
      rateLimit: info?.rateLimit,
      numErrors: status?.numErrors ?? 0,
    });
  }

  inputs(): InputStreamJson[] {
    return this.ssc.graph.inputs.map((s) =>
      compact({
        streamId: s.id,
        kind: s.op.kind,
        numRecords: this.progress.recordsOfStream(s.id),
        avgEventRate: average(this.progress.eventRates(s.id).map((r) => r[1])),
        receiver: s.op instanceof ReceiverInputOp ? this.receiver(s.id) : undefined,
        ...(s.op instanceof ReceiverInputOp ? {} : this.inputProblems(s.id)),
        ...this.recoveries(s.id),
      }),
    );
  }

  private inputProblems(streamId: string) {
    const status = this.progress.receiver(streamId);
    return {
      numErrors: status?.numErrors,
      lastErrorTime: iso(status?.info.lastErrorTime),
      lastErrorMessage: status?.info.lastErrorMessage,
    };
  }

  private recoveries(streamId: string): Pick<InputStreamJson, "numRecoveries" | "lastRecovery"> {
    const r = this.progress.recoveries(streamId);
    if (!r) return {};
    const { time, message, stalledMs } = r.last;
    return { numRecoveries: r.count, lastRecovery: { time: iso(time)!, message, stalledMs } };
  }

  operators(): OperatorJson[] {
    return this.operatorStates().map((op) => {
      const cps = this.progress.checkpoints(op.id);
      const last = cps?.last;
      return compact({
        id: op.id,
        kind: op.kind,
        name: op.name,
        numPartitions: op.numPartitions,
        numKeys: op.numKeys,
        estimatedBytes: op.estimatedBytes,
        numCheckpoints: cps?.count ?? 0,
        lastCheckpoint: last && {
          batchId: last.batchTime,
          batchTime: iso(last.batchTime)!,
          mode: last.mode,
          entries: last.entries,
          bytes: last.bytes,
          durationMs: last.durationMs,
        },
        lastFullSnapshotBytes: cps?.lastFull?.bytes,
      });
    });
  }
}
