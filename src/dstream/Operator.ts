import type { ClassRegistry } from "../checkpoint/classes.js";
import type { SpateConf } from "../config.js";
import type { Logger } from "../log.js";
import type { RecordFailureSink } from "../rdd/failures.js";
import type { StatePartitioning } from "../rdd/Partitioner.js";
import type { RDD, RDDEnv } from "../rdd/RDD.js";
import type { OperatorScope } from "../rdd/scope.js";
import type { ListenerBus } from "../scheduler/StreamingListener.js";
import type { StateStoreProvider } from "../state/StateStore.js";
import type { Clock } from "../time.js";

/**
 * What operators use of the engine they run in: never the StreamingContext itself, so that the same operators can
 * be built in another environment (a worker thread with its own state stores, log and bus).
 */
export interface OperatorEnv {
  /** The job's name (in log lines and names given to external systems). */
  readonly appName: string;
  readonly clock: Clock;
  readonly conf: SpateConf;
  readonly log: Logger;
  /** Where receivers post their events and backpressure listens. */
  readonly listenerBus: ListenerBus;
  /** The versioned state stores of stateful operators, one per (operator, partition). */
  readonly stateStores: StateStoreProvider;
  /** What every RDD built by an operator shares (parallelism, key groups, the record-failure sink). */
  readonly rddEnv: RDDEnv;
  /** Where records go that a per-record function threw on (`spate.errors.onRecordFailure`); unset: fail. */
  readonly recordFailures: RecordFailureSink | undefined;
  /** The job's registered classes: state encoded outside the heap or in checkpoints keeps their instances. */
  readonly classes: ClassRegistry;
  /** The checkpoint location, when checkpointing is on (known once the job is built). */
  readonly checkpointDirectory: string | undefined;
  /**
   * Throws SPATE_CHECKPOINT_FENCED once another job took the checkpoint location over; writers into the location
   * other than the checkpointer call it before each write.
   */
  checkOwnership(): Promise<void>;
}

/**
 * A stream as operators and the engine see it: a node of the graph with its stable id and the RDDs it generated,
 * never the user's API (a DStream is one).
 */
export interface GraphNode<T> extends OperatorScope {
  /** The operator: what kind of stream this is and how it computes. */
  readonly op: Operator<T>;
  /** The environment the node runs in. */
  readonly env: OperatorEnv;
  readonly slideDuration: number;
  /** The time before the first batch, once started. */
  readonly zeroTime: number | undefined;
  /** How long this node keeps its generated RDDs, in ms. */
  readonly rememberDuration: number;
  readonly isPersisted: boolean;
  /** Keeps this node's RDDs computed once. */
  persist(): this;
  /** Whether `time` is one of this node's batch times. */
  isTimeValid(time: number): boolean;
  /** The RDD of this node at `time`, computed once and remembered; undefined at a time that is not its. */
  getOrCompute(time: number): RDD<T> | undefined;
  /** The RDDs from `fromTime` to `toTime` inclusive. */
  slice(fromTime: number, toTime: number): RDD<T>[];
  /** Puts a restored RDD in place for `time` (recovery). */
  seed(time: number, rdd: RDD<T>): void;
  /** Raises how long this node (and so its parents) keeps its RDDs. */
  remember(duration: number): void;
}

/**
 * What a kind of stream is: its dependencies, its slide duration and how it computes its RDD for a batch time.
 * The {@link GraphNode} (a DStream) that owns it keeps the shared machinery (generated RDDs, remember, ids), so that every
 * operator stays small (Spark's `dstream/` classes, RxJS's `operate`).
 */
export interface Operator<T> {
  /** A stable name of the kind, part of the default operator id (`map`, `reduceByKeyAndWindow`, …). */
  readonly kind: string;
  readonly parents: readonly GraphNode<any>[];
  readonly slideDuration: number;
  /** The RDD for a valid batch time, or undefined when there is none. Lazy: no user function runs here. */
  compute(time: number, self: GraphNode<T>): RDD<T> | undefined;
  /** How much longer than this stream its parents must keep their RDDs (a window's duration). */
  readonly parentRememberExtra?: number;
  /** Holds state across batches: its RDD is computed in every batch, in order, and its stores are versioned. */
  readonly stateful?: boolean;
  /** An input stream: computed at the batch time itself, when its input is allocated to the batch. */
  readonly input?: boolean;
  /** An input stream's record count for a computed batch, when it knows it without computing the records. */
  numRecords?(time: number): number | undefined;
  /** Called once when the context starts, after ids are assigned; `restoring` when state comes from a checkpoint. */
  initialize?(self: GraphNode<T>, zeroTime: number, restoring: boolean): void;
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
  start?(self: GraphNode<T>): Promise<void>;
  /** Stops receiving and releases resources. */
  stop?(self: GraphNode<T>): Promise<void>;
}

/** The state of a stateful operator, one body per partition. */
export interface CheckpointableState<T> {
  /** Snapshots are always whole (the checkpointer then writes no deltas). */
  readonly fullOnly?: boolean;
  /** The state as of `time` (the batch just committed): every entry, or what changed since the last snapshot. */
  snapshot(self: GraphNode<T>, time: number, mode: "full" | "delta"): unknown[];
  /** How the state is partitioned now (recorded with each data checkpoint). */
  readonly partitioning: StatePartitioning;
  /**
   * Restores the state at `version` from, per partition, a full snapshot followed by deltas, written with the
   * partitioning `from` (default: as now). When that differs from now, every key moves to the partition that
   * owns its key group.
   */
  restore(self: GraphNode<T>, perPartition: unknown[][], version: number, from?: StatePartitioning): void;
  /**
   * Restores partition `partition` only (of the partitioning now), for state kept per partition: `read(q)` gives
   * partition `q` of the state as written with `from` (a full snapshot followed by deltas). When `from` differs
   * from now, only the old partitions whose key groups overlap this partition's are read, and only the keys of
   * its key groups kept.
   */
  restorePartition?(
    self: GraphNode<T>,
    partition: number,
    read: (oldPartition: number) => unknown[],
    version: number,
    from?: StatePartitioning,
  ): void;
  /**
   * Calls `visit` with every key and state the batch at `time` stored, as a checkpoint would write them (after
   * the operator's codec), before the batch commits, so that they are checked to be restorable; pairs of a
   * primitive key and a primitive state (other than a Symbol) may be left out.
   */
  written?(self: GraphNode<T>, time: number, visit: (key: unknown, state: unknown) => void): void;
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
  restore(data: unknown, self: GraphNode<any>): void | Promise<void>;
}

/** A per-operator codec of state in checkpoints (`StateSpec.codec`, `updateStateByKey`'s `codec`). */
export interface StateCodec<S> {
  /** The value to store in a checkpoint for state `s`. */
  encode(s: S): unknown;
  /** The state back from what `encode` returned. */
  decode(x: unknown): S;
}
