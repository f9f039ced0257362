import { hashKey } from "./keys.js";

/** Maps a key to one of `numPartitions` partitions (Spark's Partitioner). */
export interface Partitioner {
  readonly numPartitions: number;
  /** The partition of `key`, in `[0, numPartitions)`. */
  getPartition(key: unknown): number;
  /** Two partitioners are equal when they put every key in the same partition. */
  equals(other: Partitioner | undefined): boolean;
}

/** Key groups when `spate.state.maxParallelism` is not set (Flink's default for small jobs). */
export const DEFAULT_MAX_PARALLELISM = 128;

/** The largest number of key groups (Flink's upper bound, 2^15). */
export const MAX_MAX_PARALLELISM = 32768;

/** The key group of a key: its stable hash modulo the number of key groups (Flink's assignToKeyGroup). */
export function keyGroupOf(key: unknown, maxParallelism: number): number {
  return hashKey(key) % maxParallelism;
}

/**
 * The partition that owns a key group: partitions own contiguous ranges of groups, so that a change of partition
 * count moves whole ranges (Flink's computeOperatorIndexForKeyGroup).
 */
export function partitionOfKeyGroup(group: number, maxParallelism: number, numPartitions: number): number {
  return Math.floor((group * numPartitions) / maxParallelism);
}

/** The key groups `[start, end]` (inclusive) partition `p` of `numPartitions` owns; empty when start > end. */
export function keyGroupRange(
  p: number,
  numPartitions: number,
  maxParallelism: number,
): { start: number; end: number } {
  return {
    start: Math.ceil((p * maxParallelism) / numPartitions),
    end: Math.ceil(((p + 1) * maxParallelism) / numPartitions) - 1,
  };
}

/**
 * How a stateful operator's state is laid out in partitions, as a checkpoint records it. `maxParallelism` is
 * absent in checkpoints written before key groups (keys were then placed by hash modulo the partition count).
 */
export interface StatePartitioning {
  numPartitions: number;
  maxParallelism?: number;
}

/** Whether state laid out as `from` can be restored partition by partition into `to` (no key moves). */
export function samePartitioning(from: StatePartitioning, to: StatePartitioning): boolean {
  if (from.numPartitions !== to.numPartitions) return false;
  return to.numPartitions === 1 || from.maxParallelism === to.maxParallelism;
}

/**
 * Partitions keys by key group (Flink's KeyGroupRangeAssignment): a key's group is its stable hash modulo
 * `maxParallelism`, and each of the `numPartitions` partitions owns a contiguous range of groups. A key's
 * partition is the same in every process, and state restores into any partition count by moving whole groups.
 * With more partitions than key groups (a plain shuffle), each partition is a group of its own: hash modulo
 * partitions.
 */
export class HashPartitioner implements Partitioner {
  /** The number of key groups keys are hashed into. */
  readonly keyGroups: number;

  constructor(
    readonly numPartitions: number,
    readonly maxParallelism: number = DEFAULT_MAX_PARALLELISM,
  ) {
    this.keyGroups = Math.max(maxParallelism, numPartitions);
  }

  /** The partition of `key`: a stable hash of it (the same in every process) modulo the partition count. */
  getPartition(key: unknown): number {
    if (this.numPartitions === 1) return 0;
    // partitionOfKeyGroup, inlined: faster than a table of owners (exact: group * partitions < 2^53).
    return (((hashKey(key) % this.keyGroups) * this.numPartitions) / this.keyGroups) | 0;
  }

  equals(other: Partitioner | undefined): boolean {
    return (
      other instanceof HashPartitioner &&
      other.numPartitions === this.numPartitions &&
      (this.numPartitions === 1 || other.keyGroups === this.keyGroups)
    );
  }
}
