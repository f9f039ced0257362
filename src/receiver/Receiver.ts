import { IllegalStateError } from "../errors.js";

/** What a running receiver reports to (set by the engine when it starts the receiver). */
export interface ReceiverHost<T> {
  store(items: T[]): Promise<void>;
  restart(reason: string, error?: unknown): void;
  stop(reason: string, error?: unknown): void;
  reportError(message: string, error?: unknown): void;
}

/**
 * A source that pushes records into spate (Spark's Receiver). Implement `onStart` (begin receiving, without
 * blocking: start a connection, a loop, a timer) and `onStop` (release it); call `store` with what arrives.
 */
export abstract class Receiver<T> {
  private host: ReceiverHost<T> | undefined;
  private started = false;
  private stopped = false;

  /** Begins receiving. */
  abstract onStart(): void | Promise<void>;
  /** Stops receiving and releases resources. */
  abstract onStop(): void | Promise<void>;

  /**
   * Stores records: one record, or an array of records (to store one record that is itself an array, wrap it:
   * `store([record])`). Resolves once they count as received — with the write-ahead log on, once durably logged.
   */
  store(data: T | T[]): Promise<void> {
    if (!this.host || this.stopped) {
      return Promise.reject(
        new IllegalStateError(
          "SPATE_CONTEXT_STOPPED",
          "Receiver.store() was called while the receiver is not running.",
        ),
      );
    }
    return this.host.store(Array.isArray(data) ? data : [data]);
  }

  /** Asks the engine to stop and start this receiver again (after a connection failure, say). */
  restart(reason: string, error?: unknown): void {
    this.host?.restart(reason, error);
  }

  /** Stops this receiver for good. */
  stop(reason: string, error?: unknown): void {
    this.host?.stop(reason, error);
  }

  /** Reports an error without stopping (visible to listeners and logs). */
  reportError(message: string, error?: unknown): void {
    this.host?.reportError(message, error);
  }

  isStarted(): boolean {
    return this.started && !this.stopped;
  }

  isStopped(): boolean {
    return this.stopped;
  }

  /** @internal */
  attach(host: ReceiverHost<T> | undefined): void {
    this.host = host;
    this.started = host !== undefined;
    this.stopped = host === undefined;
  }
}
