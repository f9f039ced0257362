import type { BatchInfo, StreamingListener } from "../scheduler/StreamingListener.js";
import type { PIDRateEstimator } from "./PIDRateEstimator.js";

/**
 * Backpressure for one input stream (Spark's RateController): a listener that feeds every completed batch of the
 * stream to a rate estimator and publishes each new estimate (whole records per second) to the stream's receiver.
 * Spark feeds the batch's processing end time; spate feeds its batch time, which also only grows and comes from
 * the context's clock (the two differ only in the derivative term, whose default gain is 0).
 */
export class RateController implements StreamingListener {
  private latest: number | undefined;

  constructor(
    private readonly streamId: string,
    private readonly estimator: PIDRateEstimator,
    private readonly publish: (rate: number) => void,
  ) {}

  /** The latest rate published, if any. */
  get latestRate(): number | undefined {
    return this.latest;
  }

  onBatchCompleted({ batchInfo }: { batchInfo: BatchInfo }): void {
    if (batchInfo.failureReason !== undefined) return;
    const elements = batchInfo.streamIdToNumRecords[this.streamId];
    const { processingDelay, schedulingDelay } = batchInfo;
    if (elements === undefined || processingDelay === undefined || schedulingDelay === undefined) return;
    const rate = this.estimator.compute(batchInfo.batchTime, elements, processingDelay, schedulingDelay);
    if (rate === undefined) return;
    this.latest = Math.floor(rate);
    this.publish(this.latest);
  }
}
