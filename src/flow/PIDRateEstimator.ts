import { InvalidArgumentError } from "../errors.js";

/** The gains and floor of a {@link PIDRateEstimator} (Spark's `spark.streaming.backpressure.pid.*`). */
export interface PIDGains {
  /** Weight of the current error (the latest rate minus the measured processing rate). Spark's default: 1. */
  proportional: number;
  /** Weight of the accumulated error, read from the scheduling delay. Spark's default: 0.2. */
  integral: number;
  /** Weight of the error's rate of change. Spark's default: 0. */
  derivative: number;
  /** The lowest rate ever estimated, in records per second: > 0, so that some data always flows. Spark's: 100. */
  minRate: number;
}

/**
 * Estimates the rate, in records per second, at which a receiver should ingest so that batches are processed in
 * about the batch interval (Spark's PIDRateEstimator, term for term). The error is the previous estimate minus the
 * measured processing rate; the scheduling delay stands for the error accumulated by earlier batches.
 */
export class PIDRateEstimator {
  private firstRun = true;
  private latestTime = -1;
  private latestRate = -1;
  private latestError = -1;

  constructor(
    private readonly batchIntervalMillis: number,
    private readonly gains: PIDGains,
  ) {
    const check = (ok: boolean, what: string) => {
      if (!ok) throw new InvalidArgumentError(`PIDRateEstimator: ${what}.`);
    };
    check(batchIntervalMillis > 0, `the batch interval must be > 0 (got ${batchIntervalMillis})`);
    check(gains.proportional >= 0, `the proportional gain must be >= 0 (got ${gains.proportional})`);
    check(gains.integral >= 0, `the integral gain must be >= 0 (got ${gains.integral})`);
    check(gains.derivative >= 0, `the derivative gain must be >= 0 (got ${gains.derivative})`);
    check(gains.minRate > 0, `the minimum rate must be > 0 (got ${gains.minRate})`);
  }

  /**
   * The new rate after a completed batch, or undefined when there is none yet: on the first batch (it only
   * measures), and when the time did not advance, the batch was empty or took no measurable time.
   * @param time the batch's time, in ms
   * @param numElements records the batch held
   * @param processingDelay ms the batch took to process
   * @param schedulingDelay ms the batch waited before processing began
   */
  compute(
    time: number,
    numElements: number,
    processingDelay: number,
    schedulingDelay: number,
  ): number | undefined {
    if (!(time > this.latestTime && numElements > 0 && processingDelay > 0)) return undefined;
    const { proportional, integral, derivative, minRate } = this.gains;
    // Seconds since the previous estimate, close to the batch interval.
    const delaySinceUpdate = (time - this.latestTime) / 1000;
    const processingRate = (numElements / processingDelay) * 1000;
    // The desired rate is the previous estimate; the error is how far the measured rate fell short of it.
    const error = this.latestRate - processingRate;
    // A scheduling delay s means s * processingRate records overflowed earlier batches; spread over one batch
    // interval, that is the rate by which earlier estimates were too high.
    const historicalError = (schedulingDelay * processingRate) / this.batchIntervalMillis;
    const dError = (error - this.latestError) / delaySinceUpdate;
    const newRate = Math.max(
      this.latestRate - proportional * error - integral * historicalError - derivative * dError,
      minRate,
    );
    this.latestTime = time;
    if (this.firstRun) {
      this.latestRate = processingRate;
      this.latestError = 0;
      this.firstRun = false;
      return undefined;
    }
    this.latestRate = newRate;
    this.latestError = error;
    return newRate;
  }
}
