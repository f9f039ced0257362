import { IllegalStateError } from "../errors.js";
import type { StoredBlock } from "./Block.js";

/** What a running receiver reports to (set by the engine when it starts the receiver). */
export interface ReceiverHost<T> {
  store(items: T[] | StoredBlock<T>): Promise<void>;
  restart(reason: string, error?: unknown): void;
  stop(reason: string, error?: unknown): void;
  reportError(message: string, error?: unknown): void;
  isStarted(): boolean;
  isStopped(): boolean;
  /** Whether a rate limit holds stores back now. */
  isRateLimited(): boolean;
}

/**
 * A source that pushes records into spate (Spark's Receiver). Implement `onStart` (begin receiving, without
 * blocking: start a connection, a loop, a timer) and `onStop` (release it); call `store` with what arrives.
 * The engine supervises it: if `onStart` throws or rejects, or the receiver calls `restart`, it calls `onStop`,
 * waits (`spate.receiver.restartDelay`, doubling while restarts store nothing, up to
 * `spate.receiver.maxRestartDelay`) and calls `onStart` again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock, Receiver, StreamingContext } from "spate";
 *
 * // Stores the numbers 0 to 99, in blocks of 10 (store in bulk: each store is one block).
 * class Counter extends Receiver<number> {
 *   stored: Promise<void> = Promise.resolve();
 *   onStart(): void {
 *     const blocks = Array.from({ length: 10 }, (_, b) => Array.from({ length: 10 }, (_, i) => b * 10 + i));
 *     this.stored = Promise.all(blocks.map((block) => this.store(block))).then(() => {});
 *   }
 *   onStop(): void {}
 * }
 *
 * const clock = new ManualClock(0);
 * const ssc = new StreamingContext({ batchDuration: 1000, clock });
 * const counter = new Counter();
 * let sum = 0;
 * ssc.receiverStream(counter).reduce((a, b) => a + b).foreachRDD(async (rdd) => {
 *   for (const s of await rdd.collect()) sum += s;
 * });
 * await ssc.start();
 * await counter.stored; // every block received
 * clock.advance(1000);
 * await ssc.awaitIdle();
 * await ssc.stop();
 * assert.equal(sum, 4950);
 * ```
 */
export abstract class Receiver<T> {
  // ES private fields: a subclass may well have its own `host`.
  #host: ReceiverHost<T> | undefined;
  #detached = false;

  /** Begins receiving. */
  abstract onStart(): void | Promise<void>;
  /** Stops receiving and releases resources (also called after a failed `onStart`, before a restart). */
  abstract onStop(): void | Promise<void>;

  /**
   * Stores records: one record, or an array of records (to store one record that is itself an array, wrap it:
   * `store([record])`). Resolves once they count as received — with the write-ahead log on, once durably logged;
   * with a rate limit (`spate.receiver.maxRate`, backpressure), only once the limit lets them in, so awaiting it
   * slows the producer down. Nothing is dropped: a store that cannot complete rejects.
   */
  store(data: T | T[]): Promise<void> {
    if (!this.#host || this.#detached) {
      return Promise.reject(
        new IllegalStateError(
          "SPATE_CONTEXT_STOPPED",
          "Receiver.store() was called while the receiver is not running.",
        ),
      );
    }
    return this.#host.store(Array.isArray(data) ? data : [data]);
  }

  /** @internal Whether a rate limit (maxRate, backpressure) holds stores back now. */
  protected isRateLimited(): boolean {
    return this.#host?.isRateLimited() === true;
  }

  /** @internal Stores a block of records held in the form they arrived in (the socket receiver's lines). */
  protected storeBlock(block: StoredBlock<T>): Promise<void> {
    if (!this.#host || this.#detached) {
      return Promise.reject(
        new IllegalStateError(
          "SPATE_CONTEXT_STOPPED",
          "Receiver.store() was called while the receiver is not running.",
        ),
      );
    }
    return this.#host.store(block);
  }

  /**
   * Asks the engine to stop this receiver (`onStop`) and start it again (`onStart`) after a delay: after a lost
   * connection, say. Calls while a restart is under way are ignored.
   */
  restart(reason: string, error?: unknown): void {
    this.#host?.restart(reason, error);
  }

  /** Stops this receiver for good (the stream carries on, empty). */
  stop(reason: string, error?: unknown): void {
    this.#host?.stop(reason, error);
  }

  /** Reports an error without stopping (logged, and posted to listeners as `onReceiverError`). */
  reportError(message: string, error?: unknown): void {
    this.#host?.reportError(message, error);
  }

  /** Whether the receiver is running: from just before `onStart` until a stop or restart begins. */
  isStarted(): boolean {
    return !this.#detached && this.#host?.isStarted() === true;
  }

  /** Whether the receiver is stopped, for good or until a restart: loops started by `onStart` should end. */
  isStopped(): boolean {
    return this.#detached || this.#host?.isStopped() === true;
  }

  /** @internal */
  attach(host: ReceiverHost<T> | undefined): void {
    this.#host = host;
    this.#detached = host === undefined;
  }
}
