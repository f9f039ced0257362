import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type {
  BatchInfo,
  CheckpointInfo,
  InputRecoveryInfo,
  ReceiverInfo,
} from "../scheduler/StreamingListener.js";
import type { OperatorState } from "./operators.js";
import type { ProgressObserver, StreamingJobProgressListener } from "./StreamingJobProgressListener.js";

/** Seconds, from a millisecond to a minute: batch delays and checkpoint writes. */
const DELAY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const seconds = (ms: number | undefined) => (ms ?? 0) / 1000;

/**
 * The Prometheus metrics of one context, in a registry of its own (two contexts in a process never mix their
 * numbers). Counters and histograms follow listener events as they arrive; gauges of state, receivers and
 * pending batches are read when Prometheus scrapes.
 */
export class StreamingMetrics implements ProgressObserver {
  readonly registry = new Registry();
  private readonly batchesCompleted: Counter;
  private readonly batchesFailed: Counter;
  private readonly recordsReceived: Counter<"stream">;
  private readonly recordsProcessed: Counter;
  private readonly recordsFailed: Counter<"operator">;
  private readonly schedulingDelay: Histogram;
  private readonly processingTime: Histogram;
  private readonly totalDelay: Histogram;
  private readonly lastSchedulingDelay: Gauge;
  private readonly lastProcessingTime: Gauge;
  private readonly lastTotalDelay: Gauge;
  private readonly checkpointBytes: Gauge<"operator" | "kind" | "mode">;
  private readonly checkpointWrittenBytes: Counter<"operator" | "kind">;
  private readonly checkpointDuration: Histogram<"operator" | "kind">;
  private readonly receiverErrors: Counter<"stream" | "receiver">;
  private readonly inputRecoveries: Counter<"stream" | "kind">;

  constructor(
    appName: string,
    progress: () => StreamingJobProgressListener,
    operators: () => OperatorState[],
  ) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ app: appName });
    // The process's own figures (resident memory, heap, event-loop lag, GC, CPU), so that a long run's memory can
    // be watched where its batches are.
    collectDefaultMetrics({ register: this.registry });
    this.batchesCompleted = new Counter({
      name: "spate_streaming_batches_completed_total",
      help: "Batches completed, failed ones included (Spark's numTotalCompletedBatches).",
      registers,
    });
    this.batchesFailed = new Counter({
      name: "spate_streaming_batches_failed_total",
      help: "Batches that failed.",
      registers,
    });
    this.recordsReceived = new Counter({
      name: "spate_streaming_records_received_total",
      help: "Records received, per input stream, counted when their batch starts.",
      labelNames: ["stream"],
      registers,
    });
    this.recordsProcessed = new Counter({
      name: "spate_streaming_records_processed_total",
      help: "Records of completed batches.",
      registers,
    });
    this.recordsFailed = new Counter({
      name: "spate_streaming_records_failed_total",
      help: "Records dropped because a per-record function threw on them (spate.errors.onRecordFailure skip or deadLetter), by operator.",
      labelNames: ["operator"],
      registers,
    });
    const histogram = (name: string, help: string) =>
      new Histogram({ name, help, buckets: DELAY_BUCKETS, registers });
    this.schedulingDelay = histogram(
      "spate_streaming_scheduling_delay_seconds",
      "Time batches waited between submission and the start of their processing.",
    );
    this.processingTime = histogram(
      "spate_streaming_processing_time_seconds",
      "Time batches took to process (outputs, state commit, checkpoints).",
    );
    this.totalDelay = histogram(
      "spate_streaming_total_delay_seconds",
      "Scheduling delay plus processing time of batches.",
    );
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
    this.lastSchedulingDelay = gauge(
      "spate_streaming_last_batch_scheduling_delay_seconds",
      "Scheduling delay of the last completed batch.",
    );
    this.lastProcessingTime = gauge(
      "spate_streaming_last_batch_processing_time_seconds",
      "Processing time of the last completed batch.",
    );
    this.lastTotalDelay = gauge(
      "spate_streaming_last_batch_total_delay_seconds",
      "Total delay of the last completed batch.",
    );
    new Gauge({
      name: "spate_streaming_batches_pending",
      help: "Batches submitted and not completed, by status (queued or processing).",
      labelNames: ["status"],
      registers,
      collect(this: Gauge<"status">) {
        const p = progress();
        this.set({ status: "queued" }, p.waitingBatches().length);
        this.set({ status: "processing" }, p.runningBatches().length);
      },
    });
    new Gauge({
      name: "spate_state_keys",
      help: "Keys held by each stateful operator.",
      labelNames: ["operator", "kind"],
      registers,
      collect(this: Gauge<"operator" | "kind">) {
        this.reset();
        for (const op of operators()) {
          if (op.numKeys !== undefined) this.set({ operator: op.id, kind: op.kind }, op.numKeys);
        }
      },
    });
    new Gauge({
      name: "spate_state_estimated_bytes",
      help: "Estimated size of each stateful operator's state, encoded as a checkpoint encodes it.",
      labelNames: ["operator", "kind"],
      registers,
      collect(this: Gauge<"operator" | "kind">) {
        this.reset();
        for (const op of operators()) {
          if (op.estimatedBytes !== undefined)
            this.set({ operator: op.id, kind: op.kind }, op.estimatedBytes);
        }
      },
    });
    this.checkpointBytes = new Gauge({
      name: "spate_checkpoint_last_bytes",
      help: "Size of the last data checkpoint file of each stateful operator, by mode (full or delta).",
      labelNames: ["operator", "kind", "mode"],
      registers,
    });
    this.checkpointWrittenBytes = new Counter({
      name: "spate_checkpoint_written_bytes_total",
      help: "Bytes of data checkpoint files written, per stateful operator.",
      labelNames: ["operator", "kind"],
      registers,
    });
    this.checkpointDuration = new Histogram({
      name: "spate_checkpoint_duration_seconds",
      help: "Time a data checkpoint took (snapshot, encoding, durable write), per stateful operator.",
      labelNames: ["operator", "kind"],
      buckets: DELAY_BUCKETS,
      registers,
    });
    new Gauge({
      name: "spate_receiver_up",
      help: "1 when the receiver is running, 0 when it is stopped or waiting to restart.",
      labelNames: ["stream", "receiver"],
      registers,
      collect(this: Gauge<"stream" | "receiver">) {
        for (const { info } of progress().receivers()) {
          this.set({ stream: info.streamId, receiver: info.name }, info.active ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: "spate_receiver_restarts",
      help: "Times the receiver was restarted.",
      labelNames: ["stream", "receiver"],
      registers,
      collect(this: Gauge<"stream" | "receiver">) {
        for (const { info } of progress().receivers()) {
          this.set({ stream: info.streamId, receiver: info.name }, info.restarts);
        }
      },
    });
    this.receiverErrors = new Counter({
      name: "spate_receiver_errors_total",
      help: "Errors the receiver reported or failed with.",
      labelNames: ["stream", "receiver"],
      registers,
    });
    this.inputRecoveries = new Counter({
      name: "spate_input_recoveries_total",
      help: "Times an input stream got over trouble on its own (a JetStream consumer re-created after a stall).",
      labelNames: ["stream", "kind"],
      registers,
    });
  }

  batchStarted(info: BatchInfo): void {
    for (const [stream, n] of Object.entries(info.streamIdToNumRecords)) {
      this.recordsReceived.inc({ stream }, n);
    }
    this.schedulingDelay.observe(seconds(info.schedulingDelay));
  }

  batchCompleted(info: BatchInfo): void {
    this.batchesCompleted.inc();
    if (info.failureReason !== undefined) this.batchesFailed.inc();
    this.recordsProcessed.inc(info.numRecords);
    const failed = info.recordsFailedByOperator;
    if (failed) for (const [operator, n] of Object.entries(failed)) this.recordsFailed.inc({ operator }, n);
    this.processingTime.observe(seconds(info.processingDelay));
    this.totalDelay.observe(seconds(info.totalDelay));
    this.lastSchedulingDelay.set(seconds(info.schedulingDelay));
    this.lastProcessingTime.set(seconds(info.processingDelay));
    this.lastTotalDelay.set(seconds(info.totalDelay));
  }

  checkpointWritten(info: CheckpointInfo): void {
    const labels = { operator: info.operatorId, kind: info.kind };
    this.checkpointBytes.set({ ...labels, mode: info.mode }, info.bytes);
    this.checkpointWrittenBytes.inc(labels, info.bytes);
    this.checkpointDuration.observe(labels, info.durationMs / 1000);
  }

  receiverSeen(info: ReceiverInfo): void {
    // Every receiver gets an error series from its first event, so that rate() sees the first error.
    this.receiverErrors.inc({ stream: info.streamId, receiver: info.name }, 0);
  }

  receiverError(info: ReceiverInfo): void {
    this.receiverErrors.inc({ stream: info.streamId, receiver: info.name });
  }

  inputRecovered(info: InputRecoveryInfo): void {
    this.inputRecoveries.inc({ stream: info.streamId, kind: info.kind });
  }
}
