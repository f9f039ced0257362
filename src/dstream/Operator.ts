import type { DStream } from "../DStream.js";
import type { RDD } from "../rdd/RDD.js";

/**
 * What a kind of stream is: its dependencies, its slide duration and how it computes its RDD for a batch time.
 * The {@link DStream} that owns it keeps the shared machinery (generated RDDs, remember, ids), so that every
 * operator stays small (Spark's `dstream/` classes, RxJS's `operate`).
 */
export interface Operator<T> {
  /** A stable name of the kind, part of the default operator id (`map`, `reduceByKeyAndWindow`, …). */
  readonly kind: string;
  readonly parents: readonly DStream<any>[];
  readonly slideDuration: number;
  /** The RDD for a valid batch time, or undefined when there is none. Lazy: no user function runs here. */
  compute(time: number, self: DStream<T>): RDD<T> | undefined;
  /** How much longer than this stream its parents must keep their RDDs (a window's duration). */
  readonly parentRememberExtra?: number;
  /** Holds state across batches: its RDD is computed in every batch, in order, and its stores are versioned. */
  readonly stateful?: boolean;
  /** An input stream: computed at the batch time itself, when its input is allocated to the batch. */
  readonly input?: boolean;
  /** Called once when the context starts, after ids are assigned. */
  initialize?(self: DStream<T>, zeroTime: number): void;
}
