import { concatBuckets, type ShuffleDependency } from "./dependencies.js";
import type { Emit } from "./types.js";

/**
 * Moves a shuffle's buckets from its map side to its reduce side: partition `p` of a shuffled RDD reads its records
 * only through `fetch(dep, p, emit)`. The in-process service ({@link LocalShuffleService}) runs the map side over
 * every parent partition on the first fetch; a service across workers runs it for the partitions a worker owns and
 * exchanges buckets with the others.
 */
export interface ShuffleService {
  /** Pushes the records of reduce partition `p` of `dep` to `emit`, merged from every map output. */
  fetch<R>(dep: ShuffleDependency<any, R>, p: number, emit: Emit<R>): void;
}

/**
 * Every shuffle in this process: the first fetch of a shuffle runs its map side over all parent partitions at once
 * (one pass, combining into one map per bucket) and keeps the buckets while the shuffle is reachable. A shuffle
 * into one partition that does not combine streams its parent's partitions through without keeping them.
 */
export class LocalShuffleService implements ShuffleService {
  private readonly outputs = new WeakMap<ShuffleDependency<any, any>, unknown[][]>();

  fetch<R>(dep: ShuffleDependency<any, R>, p: number, emit: Emit<R>): void {
    if (!dep.combines && dep.numPartitions === 1) {
      const parent = dep.rdd;
      for (let q = 0; q < parent.numPartitions; q++) parent.iterate(q, emit as Emit<unknown>);
      return;
    }
    let buckets = this.outputs.get(dep) as R[][] | undefined;
    if (!buckets) {
      buckets = dep.map(allPartitions(dep.rdd.numPartitions));
      this.outputs.set(dep, buckets);
    }
    // One map output over every parent partition: its bucket is already merged.
    concatBuckets([buckets[p]!], emit);
  }
}

function allPartitions(n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/** The service of RDDs whose environment names none. */
export const LOCAL_SHUFFLE: ShuffleService = new LocalShuffleService();
