import type { DStream } from "../DStream.js";
import type { StatePartitioning } from "../rdd/Partitioner.js";
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
  /** An input stream's record count for a computed batch, when it knows it without computing the records. */
  numRecords?(time: number): number | undefined;
  /** Called once when the context starts, after ids are assigned; `restoring` when state comes from a checkpoint. */
  initialize?(self: DStream<T>, zeroTime: number, restoring: boolean): void;
  /** How a stateful operator saves its state into data checkpoints and restores it. */
  readonly checkpointState?: CheckpointableState<T>;
  /** How an input stream records what it gave each batch, so that recovery replays exactly that. */
  readonly inputLog?: InputLog;
  /**
   * What an input stream read for the batch at `time` (files, blocks, a sequence range), for the UI's batch page
   * (Spark's StreamInputInfo description); called after its RDD of that batch was computed.
   */
  describeInput?(time: number): string | undefined;
  /** Starts receiving (receivers), once the context runs. */
  start?(self: DStream<T>): Promise<void>;
  /** Stops receiving and releases resources. */
  stop?(self: DStream<T>): Promise<void>;
}

/** The state of a stateful operator, one body per partition. */
export interface CheckpointableState<T> {
  /** Snapshots are always whole (the checkpointer then writes no deltas). */
  readonly fullOnly?: boolean;
  /** The state as of `time` (the batch just committed): every entry, or what changed since the last snapshot. */
  snapshot(self: DStream<T>, time: number, mode: "full" | "delta"): unknown[];
  /** How the state is partitioned now (recorded with each data checkpoint). */
  readonly partitioning: StatePartitioning;
  /**
   * Restores the state at `version` from, per partition, a full snapshot followed by deltas, written with the
   * partitioning `from` (default: as now). When that differs from now, every key moves to the partition that
   * owns its key group.
   */
  restore(self: DStream<T>, perPartition: unknown[][], version: number, from?: StatePartitioning): void;
  /**
   * Calls `visit` with every key and state the batch at `time` stored, as a checkpoint would write them (after
   * the operator's codec), before the batch commits, so that they are checked to be restorable; pairs of a
   * primitive key and a primitive state (other than a Symbol) may be left out.
   */
  written?(self: DStream<T>, time: number, visit: (key: unknown, state: unknown) => void): void;
}

/**
 * What an input stream allocated to batches: recorded in metadata checkpoints, replayed on recovery. A batch given
 * nothing must cost nothing in what `save` returns (record the latest batch allocated, and list only batches that
 * got input), so that a metadata checkpoint does not grow with the number of batches pending.
 */
export interface InputLog {
  /** Whether the input can be read again for a recorded batch (files, logs); a queue cannot. */
  readonly replayable: boolean;
  /** The allocations of every batch at or after `keepFrom`, and whatever else the stream needs to resume. */
  save(keepFrom: number): unknown;
  /**
   * Gives nothing to every batch up to `time` not yet allocated (the batches of a down time after the first one,
   * which takes what arrived meanwhile): their computation later finds them allocated and empty.
   */
  allocateEmptyThrough(time: number): void;
  /** Restores what `save` returned, before any batch is replayed. */
  restore(data: unknown, self: DStream<any>): void | Promise<void>;
}

/** A per-operator codec of state in checkpoints (`StateSpec.codec`, `updateStateByKey`'s `codec`). */
export interface StateCodec<S> {
  /** The value to store in a checkpoint for state `s`. */
  encode(s: S): unknown;
  /** The state back from what `encode` returned. */
  decode(x: unknown): S;
}
