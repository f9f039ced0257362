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

  stop(): void {
    this.timer.stop();
  }

  private generate(time: number): void {
    try {
      this.scheduler.submit(this.graph.generateJobs(time));
    } catch (e) {
      this.timer.stop();
      this.onFailure(e instanceof UserFunctionError ? e.atBatch(time) : e);
    }
  }
}
