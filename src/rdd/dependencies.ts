import type { Partitioner } from "./Partitioner.js";
import type { Emit } from "./types.js";

/**
 * What the dependencies, shuffles and narrow loops read of an RDD (the `RDD` class is one): its partition count,
 * its records partition by partition, and its own dependencies.
 */
export interface ParentRDD<T> {
  readonly numPartitions: number;
  /** Pushes every record of partition `p` to `emit`. */
  iterate(p: number, emit: Emit<T>): void;
  /** The records of partition `p` as an array. */
  partition(p: number): T[];
  readonly dependencies: readonly Dependency[];
}

/**
 * How the partitions of an RDD depend on those of a parent (Spark's Dependency): narrow (each partition reads a
 * known few parent partitions, so the two fuse into one task) or a shuffle (each partition reads a bucket of every
 * parent partition, so the parent's partitions are a stage of their own).
 */
export type Dependency = NarrowDependency | ShuffleDependency<any, any>;

/** A dependency on a few partitions of `rdd`, known in advance: the child's partition is computed in the same task. */
export interface NarrowDependency {
  readonly kind: "one-to-one" | "range" | "all-to-one";
  readonly rdd: ParentRDD<any>;
  /** The partitions of `rdd` that partition `p` of the child reads. */
  parents(p: number): number[];
}

/** Partition `p` of the child reads partition `p` of `rdd` (map, filter, a stateful operator over its input). */
export class OneToOneDependency implements NarrowDependency {
  readonly kind = "one-to-one";
  constructor(readonly rdd: ParentRDD<any>) {}

  parents(p: number): number[] {
    return [p];
  }
}

/**
 * Partitions `[outStart, outStart + length)` of the child are partitions `[inStart, inStart + length)` of `rdd`
 * (a union's parents, laid end to end).
 */
export class RangeDependency implements NarrowDependency {
  readonly kind = "range";
  constructor(
    readonly rdd: ParentRDD<any>,
    readonly inStart: number,
    readonly outStart: number,
    readonly length: number,
  ) {}

  parents(p: number): number[] {
    return p >= this.outStart && p < this.outStart + this.length ? [p - this.outStart + this.inStart] : [];
  }
}

/** Every partition of the child reads partition 0 of `rdd` (a sort splitting its one gathered partition). */
export class AllToOneDependency implements NarrowDependency {
  readonly kind = "all-to-one";
  constructor(readonly rdd: ParentRDD<any>) {}

  parents(): number[] {
    return [0];
  }
}

/** How a shuffle's map side buckets records and its reduce side merges the buckets. */
export interface ShuffleFunctions<R> {
  /**
   * Buckets the records of the parent partitions `partitions` (read in that order) into `numPartitions` buckets,
   * combining the values of one key when the shuffle combines (map-side pre-combine).
   */
  map(partitions: readonly number[]): R[][];
  /**
   * Pushes to `emit` the records of reduce partition `p`, merged from bucket `p` of several map outputs, given in
   * the order of their first parent partition. Merging the outputs of `map([q])` for every parent partition `q` in
   * order gives what `map([0, …, n-1])` puts in bucket `p` (up to the associativity of the combine functions); a
   * shuffle that does not combine concatenates.
   */
  merge(buckets: readonly (readonly R[])[], emit: Emit<R>): void;
}

let nextShuffleId = 0;

/**
 * A shuffle (Spark's ShuffleDependency): every partition of the child reads one bucket of every partition of `rdd`.
 * The map side ({@link ShuffleFunctions.map}) runs over parent partitions, the reduce side
 * ({@link ShuffleFunctions.merge}) over the buckets of one child partition; a `ShuffleService` moves the buckets.
 * A shuffle that does not combine moves the parent's records as they are (`R` is then `T`).
 */
export class ShuffleDependency<T, R = T> {
  /** Unique in this process (Spark's shuffleId), for naming a shuffle's map outputs; not stable across processes. */
  readonly id = nextShuffleId++;

  constructor(
    readonly rdd: ParentRDD<T>,
    /** How many reduce partitions (buckets) the map side fills. */
    readonly numPartitions: number,
    /** How records are placed by key, when they are (a key-less spread or a sort has none). */
    readonly partitioner: Partitioner | undefined,
    /** Whether the map side combines the values of a key (then `R` is `[K, combiner]`), else `R` is `T`. */
    readonly combines: boolean,
    private readonly functions: ShuffleFunctions<R>,
  ) {}

  /** The map side over the given parent partitions: see {@link ShuffleFunctions.map}. */
  map(partitions: readonly number[]): R[][] {
    return this.functions.map(partitions);
  }

  /** The reduce side of one partition: see {@link ShuffleFunctions.merge}. */
  merge(buckets: readonly (readonly R[])[], emit: Emit<R>): void {
    this.functions.merge(buckets, emit);
  }
}

/** Concatenates buckets in order: the merge of a shuffle that does not combine. */
export function concatBuckets<R>(buckets: readonly (readonly R[])[], emit: Emit<R>): void {
  for (const b of buckets) for (let i = 0; i < b.length; i++) emit(b[i]!);
}

/**
 * Every shuffle dependency reachable from `rdds`, parents' before children's, each once, in an order that depends
 * only on the RDDs and their dependency lists (Spark's DAGScheduler stages): the map stages a batch runs, so that
 * every executor runs the same stages in the same order, even those over partitions it does not own. Lineage that
 * was let go (an RDD whose partitions are all in memory has no dependencies) is not walked.
 */
export function planStages(rdds: readonly ParentRDD<any>[]): ShuffleDependency<any, any>[] {
  const out: ShuffleDependency<any, any>[] = [];
  const visited = new Set<ParentRDD<any>>();
  const planned = new Set<ShuffleDependency<any, any>>();
  // An explicit stack (depth-first, post-order) rather than recursion: a lineage may be thousands of RDDs deep.
  type Frame = { rdd: ParentRDD<any>; deps: readonly Dependency[]; next: number };
  for (const root of rdds) {
    if (visited.has(root)) continue;
    visited.add(root);
    const stack: Frame[] = [{ rdd: root, deps: root.dependencies, next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next > 0) {
        // The dependency visited last is done: a shuffle is planned once its parent's lineage is.
        const done = top.deps[top.next - 1]!;
        if (done instanceof ShuffleDependency && !planned.has(done)) {
          planned.add(done);
          out.push(done);
        }
      }
      if (top.next === top.deps.length) {
        stack.pop();
        continue;
      }
      const dep = top.deps[top.next++]!;
      if (!visited.has(dep.rdd)) {
        visited.add(dep.rdd);
        stack.push({ rdd: dep.rdd, deps: dep.rdd.dependencies, next: 0 });
      }
    }
  }
  return out;
}

/** One-to-one dependencies on the RDDs given (those that exist): an operator's RDD computed from its inputs'. */
export function oneToOne(...rdds: Array<ParentRDD<any> | undefined>): OneToOneDependency[] {
  const out: OneToOneDependency[] = [];
  for (const r of rdds) if (r !== undefined) out.push(new OneToOneDependency(r));
  return out;
}
