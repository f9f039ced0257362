import { IllegalStateError } from "../errors.js";
import { RateLimiter } from "../flow/RateLimiter.js";
import type { Logger } from "../log.js";
import type { ListenerBus, ReceiverInfo } from "../scheduler/StreamingListener.js";
import type { Clock } from "../time.js";
import type { StoredBlock } from "./Block.js";
import type { Receiver } from "./Receiver.js";

export interface SupervisorOptions {
  /** The id of the receiver's input stream. */
  streamId: string;
  clock: Clock;
  log: Logger;
  bus: ListenerBus;
  /** Delay before the first restart, in ms; it doubles while restarts store nothing. */
  restartDelay: number;
  /** The longest delay between restarts, in ms. */
  maxRestartDelay: number;
  /** `spate.receiver.maxRate`: the ceiling of every rate limit; undefined: none. */
  maxRate: number | undefined;
  /** The rate limit at start (maxRate, or backpressure's initial rate); undefined: none. */
  initialRate: number | undefined;
}

const sizeOf = (data: unknown[] | StoredBlock<unknown>) => (Array.isArray(data) ? data.length : data.count);

/** running: between onStart (just before it) and the next stop; restarting: stopped, waiting to start again. */
type Phase = "initialized" | "running" | "restarting" | "stopped";

const describe = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : error === undefined ? "" : String(error);

/**
 * Runs one receiver (Spark's ReceiverSupervisor with the receiver side of its ReceiverTracker): starts it,
 * restarts it with exponential backoff when `onStart` fails or it asks to, rate-limits what it stores, keeps its
 * {@link ReceiverInfo} and posts `onReceiverStarted` / `onReceiverError` / `onReceiverStopped`.
 */
export class ReceiverSupervisor<T> {
  private readonly current: ReceiverInfo;
  private readonly limiter: RateLimiter;
  private phase: Phase = "initialized";
  /** Incarnations in a row, up to the current one, that stored nothing: the exponent of the backoff. */
  private fruitless = 0;
  private storedSinceStart = 0;
  private cancelRestart: (() => void) | undefined;
  /** Stop and restart steps, one after another. */
  private lifecycle: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly receiver: Receiver<T>,
    /** Hands records to the input stream; returns a promise when that is asynchronous (the write-ahead log). */
    private readonly push: (items: T[] | StoredBlock<T>) => Promise<void> | undefined,
    private readonly options: SupervisorOptions,
  ) {
    this.limiter = new RateLimiter(options.clock, options.initialRate);
    this.current = {
      streamId: options.streamId,
      name: receiver.constructor.name,
      active: false,
      restarts: 0,
      recordsStored: 0,
      rateLimit: this.limiter.rate,
    };
  }

  /** A copy of the receiver's status now. */
  get info(): ReceiverInfo {
    return { ...this.current };
  }

  /** Attaches the receiver and calls its `onStart`; a failing start is restarted, not thrown. */
  async start(): Promise<void> {
    this.receiver.attach({
      store: (items) => this.store(items),
      restart: (reason, error) => this.restart(reason, error),
      stop: (reason, error) => {
        if (error !== undefined) this.recordError(reason, error);
        this.options.log.info({ streamId: this.options.streamId, reason, error }, "receiver stopped itself");
        void this.stop();
      },
      reportError: (message, error) => this.reportError(message, error),
      isStarted: () => this.phase === "running",
      isStopped: () => this.phase === "restarting" || this.phase === "stopped",
      isRateLimited: () => !this.limiter.unlimited,
    });
    await this.startReceiver();
  }

  /**
   * Backpressure's new rate (Spark's RateLimiter.updateRate): ignored unless positive; never above maxRate.
   */
  updateRate(rate: number): void {
    if (!(rate > 0)) return;
    const max = this.options.maxRate;
    this.limiter.setRate(max !== undefined ? Math.min(rate, max) : rate);
    this.current.rateLimit = this.limiter.rate;
  }

  /**
   * Stops the receiver for good: no restart, stores waiting for the rate limit reject (they were not received),
   * and resolves once `onStop` has returned. Stores already admitted carry on into the input stream.
   */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const wasRunning = this.phase === "running";
    this.phase = "stopped";
    this.cancelRestart?.();
    this.cancelRestart = undefined;
    this.limiter.cancelAll(
      new IllegalStateError(
        "SPATE_CONTEXT_STOPPED",
        "The receiver stopped while these records waited for the rate limit; they were not stored.",
      ),
    );
    this.stopping = this.lifecycle.then(async () => {
      if (wasRunning) {
        await this.callOnStop();
        this.stopped();
      }
      this.receiver.attach(undefined);
    });
    return this.stopping;
  }

  private store(data: T[] | StoredBlock<T>): Promise<void> {
    if (this.phase === "stopped") {
      return Promise.reject(new IllegalStateError("SPATE_CONTEXT_STOPPED", "The receiver is stopped."));
    }
    if (sizeOf(data) === 0) return Promise.resolve();
    if (this.limiter.unlimited) return this.pushCounted(data);
    // Under a rate limit, records go in by the limiter's chunks.
    const items = Array.isArray(data) ? data : data.records();
    // Ask for every chunk's tokens now, so that concurrent stores keep their order, chunk after chunk.
    const size = this.limiter.chunkSize();
    const stored: Promise<void>[] = [];
    for (let i = 0; i < items.length; i += size) {
      const chunk = items.length <= size ? items : items.slice(i, i + size);
      stored.push(this.limiter.acquire(chunk.length).then(() => this.pushCounted(chunk)));
    }
    return stored.length === 1 ? stored[0]! : Promise.all(stored).then(() => {});
  }

  private pushCounted(data: T[] | StoredBlock<T>): Promise<void> {
    const pushed = this.push(data);
    const size = sizeOf(data);
    const count = () => {
      this.current.recordsStored += size;
      this.storedSinceStart += size;
    };
    if (pushed === undefined) {
      count();
      return Promise.resolve();
    }
    return pushed.then(count);
  }

  private async startReceiver(): Promise<void> {
    if (this.phase === "stopped") return;
    this.phase = "running";
    this.storedSinceStart = 0;
    this.current.active = true;
    this.options.log.info(
      { streamId: this.options.streamId, receiver: this.current.name, restarts: this.current.restarts },
      "receiver starting",
    );
    this.post("onReceiverStarted");
    try {
      await this.receiver.onStart();
    } catch (e) {
      this.restart(`onStart failed: ${describe(e)}`, e);
    }
  }

  private restart(reason: string, error?: unknown): void {
    if (this.phase !== "running") {
      this.options.log.debug(
        { streamId: this.options.streamId, reason, phase: this.phase },
        "receiver restart ignored: not running",
      );
      return;
    }
    this.phase = "restarting";
    // The first restart waits the base delay; each further one without data in between waits twice as long.
    this.fruitless = this.storedSinceStart > 0 ? 0 : this.fruitless + 1;
    const { restartDelay, maxRestartDelay } = this.options;
    const delay = Math.min(
      Math.max(restartDelay, maxRestartDelay),
      restartDelay * 2 ** Math.max(0, this.fruitless - 1),
    );
    this.recordError(reason, error);
    this.options.log.warn(
      { streamId: this.options.streamId, reason, error, restartInMs: delay },
      "receiver restarting",
    );
    this.lifecycle = this.lifecycle.then(async () => {
      await this.callOnStop();
      this.stopped();
      if (this.phase !== "restarting") return; // stopped for good meanwhile
      const clock = this.options.clock;
      this.cancelRestart = clock.schedule(clock.getTimeMillis() + delay, () => {
        this.cancelRestart = undefined;
        if (this.phase !== "restarting") return;
        this.current.restarts++;
        void this.startReceiver();
      });
    });
  }

  private reportError(message: string, error?: unknown): void {
    this.recordError(message, error);
    this.options.log.warn({ streamId: this.options.streamId, error }, message);
    this.post("onReceiverError");
  }

  private recordError(message: string, error: unknown): void {
    this.current.lastErrorMessage = message;
    this.current.lastError = describe(error);
    this.current.lastErrorTime = Date.now(); // wall clock, for people reading the UI
  }

  private async callOnStop(): Promise<void> {
    try {
      await this.receiver.onStop();
    } catch (e) {
      this.options.log.warn({ streamId: this.options.streamId, error: e }, "receiver onStop threw");
    }
  }

  private stopped(): void {
    this.current.active = false;
    this.options.log.info({ streamId: this.options.streamId }, "receiver stopped");
    this.post("onReceiverStopped");
  }

  private post(event: "onReceiverStarted" | "onReceiverError" | "onReceiverStopped"): void {
    this.options.bus.post(event, () => ({ receiverInfo: this.info }));
  }
}
