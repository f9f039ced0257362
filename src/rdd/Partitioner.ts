import { hashKey } from "./keys.js";

/** Maps a key to one of `numPartitions` partitions (Spark's Partitioner). */
export interface Partitioner {
  readonly numPartitions: number;
  getPartition(key: unknown): number;
  /** Two partitioners are equal when they put every key in the same partition. */
  equals(other: Partitioner | undefined): boolean;
}

/** Partitions keys by a stable hash, so a key's partition is the same in every process. */
export class HashPartitioner implements Partitioner {
  constructor(readonly numPartitions: number) {}

  getPartition(key: unknown): number {
    return this.numPartitions === 1 ? 0 : hashKey(key) % this.numPartitions;
  }

  equals(other: Partitioner | undefined): boolean {
    return other instanceof HashPartitioner && other.numPartitions === this.numPartitions;
  }
}
