import { atBatch } from "../errors.js";
import type { DStreamGraph } from "../graph/DStreamGraph.js";
import { type Clock, RecurringTimer } from "../time.js";
import type { BatchReplay, JobScheduler } from "./JobScheduler.js";

/** The batches a restart runs: `first` to `until`, of which the last `downTime` are those of the down time. */
export interface RestartedBatches {
  first: number;
  until: number;
  batches: number;
  downTime: number;
}

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
   * Restarts from a checkpoint (Spark's JobGenerator.restart): `prepare` restores state and says at which batch
   * each stateful operator's state is; the completed batches after the oldest of those are replayed into state
   * (through the scheduler, as batches without outputs), then every batch after the last completed one runs again,
   * up to the later of the checkpoint's last batch and now (the down time), and the timer carries on after that.
   *
   * Batches up to the checkpoint's last one have their input recorded. The batches of the down time are allocated
   * now, before any input starts, as Spark generates them at its restart: the first takes what arrived meanwhile
   * (new files, logged blocks), the others nothing. Their jobs are generated only as each comes to run, so a day of
   * down time is one queued range, not 86,400 batches in memory.
   */
  restart(
    zeroTime: number,
    rememberDuration: number | undefined,
    lastCompleted: number | undefined,
    checkpointTime: number,
    prepare: () => BatchReplay,
  ): RestartedBatches {
    this.zero = zeroTime;
    this.graph.start(zeroTime, rememberDuration, true);
    const replay = prepare();
    const step = this.batchDuration;
    if (lastCompleted !== undefined && replay.stateVersions.size > 0) {
      const from = Math.min(...replay.stateVersions.values()) + step;
      this.scheduler.submitReplay(from, lastCompleted, step, replay, (t) => this.graph.generateJobs(t));
    }
    const now = this.clock.getTimeMillis();
    const alignedNow = zeroTime + Math.floor((now - zeroTime) / step) * step;
    const until = Math.max(checkpointTime, alignedNow);
    const first = (lastCompleted ?? zeroTime) + step;
    const firstDown = checkpointTime + step;
    this.last = until; // batches up to here are accounted for, re-run or recorded complete
    const batches = until >= first ? (until - first) / step + 1 : 0;
    const downTime = until >= firstDown ? (until - firstDown) / step + 1 : 0;
    try {
      if (downTime > 0) {
        for (const s of this.graph.inputs) s.getOrCompute(firstDown);
        for (const s of this.graph.inputs) s.op.inputLog?.allocateEmptyThrough(until);
      }
      this.scheduler.submitRange(first, until, step, (t) => this.graph.generateJobs(t));
    } catch (e) {
      this.onFailure(atBatch(e, firstDown));
      return { first, until, batches, downTime };
    }
    this.timer.start(until + step);
    return { first, until, batches, downTime };
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
      this.onFailure(atBatch(e, time));
    }
  }
}
