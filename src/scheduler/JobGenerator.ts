import { UserFunctionError } from "../errors.js";
import type { DStreamGraph } from "../graph/DStreamGraph.js";
import { type Clock, RecurringTimer } from "../time.js";
import type { JobScheduler } from "./JobScheduler.js";

/**
 * Ticks batch times on the context's clock and turns each into a batch of jobs (Spark's JobGenerator). The first
 * batch is at the first multiple of the batch duration after the start; zero time is one batch before it.
 */
export class JobGenerator {
  private readonly timer: RecurringTimer;
  private zero: number | undefined;
  /** The time of the last batch generated. */
  private last: number | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly batchDuration: number,
    private readonly graph: DStreamGraph,
    private readonly scheduler: JobScheduler,
    private readonly onFailure: (error: unknown) => void,
  ) {
    this.timer = new RecurringTimer(clock, batchDuration, (time) => this.generate(time));
  }

  get zeroTime(): number | undefined {
    return this.zero;
  }

  start(rememberDuration: number | undefined): void {
    const startTime = RecurringTimer.nextAligned(this.clock, this.batchDuration);
    this.zero = startTime - this.batchDuration;
    this.graph.start(this.zero, rememberDuration);
    this.timer.start(startTime);
  }

  /**
   * Restarts from a checkpoint (Spark's JobGenerator.restart): `prepare` restores and replays state, then every
   * batch after the last completed one is generated again, up to the later of the checkpoint's last batch and
   * now (the down time), and the timer carries on after that.
   */
  restart(
    zeroTime: number,
    rememberDuration: number | undefined,
    lastCompleted: number | undefined,
    checkpointTime: number,
    prepare: () => void,
  ): number[] {
    this.zero = zeroTime;
    this.graph.start(zeroTime, rememberDuration, true);
    prepare();
    const now = this.clock.getTimeMillis();
    const alignedNow = zeroTime + Math.floor((now - zeroTime) / this.batchDuration) * this.batchDuration;
    const until = Math.max(checkpointTime, alignedNow);
    const times: number[] = [];
    for (let t = (lastCompleted ?? zeroTime) + this.batchDuration; t <= until; t += this.batchDuration)
      times.push(t);
    for (const t of times) this.generate(t);
    this.last = until; // batches up to here are accounted for, re-run or recorded complete
    this.timer.start(until + this.batchDuration);
    return times;
  }

  stop(): void {
    this.timer.stop();
  }

  /**
   * Generates the batch after the last one generated now, without waiting for its time: the last batch of a
   * graceful stop, for the data receivers stored since. Call after `stop()`. Returns its time.
   */
  generateNext(): number {
    const time = (this.last ?? this.zero!) + this.batchDuration;
    this.generate(time);
    return time;
  }

  private generate(time: number): void {
    this.last = time;
    try {
      this.scheduler.submit(this.graph.generateJobs(time));
    } catch (e) {
      this.timer.stop();
      this.onFailure(e instanceof UserFunctionError ? e.atBatch(time) : e);
    }
  }
}
