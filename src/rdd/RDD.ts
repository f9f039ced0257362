import { attribute, InvalidArgumentError } from "../errors.js";
import {
  AllToOneDependency,
  type Dependency,
  OneToOneDependency,
  RangeDependency,
  type ShuffleDependency,
} from "./dependencies.js";
import {
  attributed,
  failIfAsync,
  type RecordFailureHandler,
  type RecordFunction,
  type RecordFailureSink,
  recordFailureHandler,
} from "./failures.js";
import { type JoinKind, joinGroup } from "./joins.js";
import { KeyMap } from "./keys.js";
import {
  filterCompute,
  flatMapCompute,
  flatMapValuesCompute,
  glomCompute,
  mapCompute,
  mapPartitionsCompute,
  mapValuesCompute,
} from "./narrow.js";
import { HashPartitioner, type Partitioner } from "./Partitioner.js";
import { currentOperator, DRIVER, type OperatorScope } from "./scope.js";
import {
  cogroupCompute,
  combineDependency,
  partitionDependency,
  sortedCompute,
  spreadDependency,
} from "./shuffle.js";
import { LOCAL_SHUFFLE, type ShuffleService } from "./ShuffleService.js";
import type { Compute, Emit } from "./types.js";

export type { Compute, Emit } from "./types.js";

/** What every RDD of one context shares. */
export interface RDDEnv {
  /** `spate.default.parallelism`, when set. */
  readonly defaultParallelism: number | undefined;
  /** `spate.state.maxParallelism`: the key groups of hash partitioners (default 128). */
  readonly maxParallelism?: number;
  /** Where records go that a per-record function threw on, under `spate.errors.onRecordFailure`; unset: fail. */
  readonly recordFailures?: RecordFailureSink;
  /** How shuffled RDDs read their buckets; unset: in this process, map side on first read. */
  readonly shuffle?: ShuffleService;
}

const NO_ENV: RDDEnv = { defaultParallelism: undefined };

/** The compute function of an RDD whose partitions are all in memory: never called, since they are read from there. */
function materialized(): never {
  throw new Error("internal error: a materialized RDD was computed again");
}

/**
 * One batch of one stream: a fixed number of partitions of records and how to compute them (Spark's RDD).
 * Transformations are lazy; actions (`collect`, `count`, …) are asynchronous so that partitions may one day be
 * computed off the main thread.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock, StreamingContext } from "spate";
 *
 * const clock = new ManualClock(0);
 * const ssc = new StreamingContext({ batchDuration: 1000, clock });
 * let top: Array<[string, number]> = [];
 * ssc.queueStream([["b", "a", "b", "c", "b", "a"]])
 *   .map((w) => [w, 1] as [string, number])
 *   // transform: any RDD operation on each batch, here a sort Spark users reach for
 *   .transform((rdd) => rdd.reduceByKey((x, y) => x + y).sortBy(([, n]) => n, false))
 *   .foreachRDD(async (rdd) => {
 *     top = await rdd.take(2);
 *   });
 * await ssc.start();
 * clock.advance(1000);
 * await ssc.awaitIdle();
 * await ssc.stop();
 * assert.deepEqual(top, [["b", 3], ["a", 2]]);
 * ```
 */
export class RDD<T> {
  /** The operator this RDD was created for, to which its functions' errors are attributed. */
  readonly scope: OperatorScope;
  private cached: Array<T[] | undefined> | undefined;
  /** Partitions cached so far: once all are, the lineage (`computeFn` and what it holds) is let go. */
  private cachedCount = 0;
  private persisted = false;
  /** How many records each partition holds, when known without computing it (see {@link RDD.sized}). */
  private sizes: ((p: number) => number) | undefined;
  private deps: readonly Dependency[];

  constructor(
    readonly numPartitions: number,
    private computeFn: Compute<T>,
    readonly env: RDDEnv = NO_ENV,
    readonly partitioner?: Partitioner,
    scope?: OperatorScope,
    dependencies: readonly Dependency[] = [],
  ) {
    this.scope = scope ?? currentOperator() ?? DRIVER;
    this.deps = dependencies;
  }

  /**
   * @internal The RDDs this one is computed from and how (Spark's dependencies): narrow ones, computed in the same
   * task, and shuffles, whose map side is a stage of its own (see `planStages`). Empty once every partition is in
   * memory (the lineage is let go).
   */
  get dependencies(): readonly Dependency[] {
    return this.deps;
  }

  /** An RDD with no partitions. */
  static empty<T>(env: RDDEnv = NO_ENV): RDD<T> {
    return new RDD<T>(0, () => {}, env);
  }

  /** An RDD over records already in memory, one array per partition. */
  static fromPartitions<T>(partitions: T[][], env: RDDEnv = NO_ENV, partitioner?: Partitioner): RDD<T> {
    const rdd = new RDD<T>(
      partitions.length,
      (p, emit) => {
        const a = partitions[p]!;
        for (let i = 0; i < a.length; i++) emit(a[i]!);
      },
      env,
      partitioner,
    );
    rdd.cached = partitions;
    rdd.cachedCount = partitions.length;
    rdd.persisted = true;
    rdd.computeFn = materialized;
    rdd.deps = [];
    return rdd;
  }

  /**
   * @internal An RDD whose partitions' record counts are known without computing them (a receiver's blocks, which
   * hold their line count): `count` answers from `sizes`; `sizes(p)` must be exactly what `compute(p)` emits.
   */
  static sized<T>(
    numPartitions: number,
    compute: Compute<T>,
    sizes: (p: number) => number,
    env: RDDEnv = NO_ENV,
  ): RDD<T> {
    const rdd = new RDD<T>(numPartitions, compute, env);
    rdd.sizes = sizes;
    return rdd;
  }

  /** Slices `data` into `numSlices` contiguous partitions (Spark's parallelize). */
  static parallelize<T>(data: T[], numSlices = 1, env: RDDEnv = NO_ENV): RDD<T> {
    const n = Math.max(1, numSlices);
    if (n === 1) return RDD.fromPartitions([data], env);
    const parts: T[][] = [];
    for (let i = 0; i < n; i++) {
      parts.push(data.slice(Math.floor((i * data.length) / n), Math.floor(((i + 1) * data.length) / n)));
    }
    return RDD.fromPartitions(parts, env);
  }

  /** The union of `rdds`; keeps the partitioning when they all share one partitioner (Spark's PartitionerAwareUnionRDD). */
  static union<T>(rdds: RDD<T>[], env: RDDEnv = rdds[0]?.env ?? NO_ENV): RDD<T> {
    if (rdds.length === 0) return RDD.empty(env);
    if (rdds.length === 1) return rdds[0]!;
    const first = rdds[0]!.partitioner;
    if (first && rdds.every((r) => first.equals(r.partitioner))) {
      return new RDD<T>(
        first.numPartitions,
        (p, emit) => {
          for (const r of rdds) r.iterate(p, emit);
        },
        env,
        first,
        undefined,
        rdds.map((r) => new OneToOneDependency(r)),
      );
    }
    const offsets: number[] = [];
    const deps: Dependency[] = [];
    let total = 0;
    for (const r of rdds) {
      offsets.push(total);
      deps.push(new RangeDependency(r, 0, total, r.numPartitions));
      total += r.numPartitions;
    }
    return new RDD<T>(
      total,
      (p, emit) => {
        let i = rdds.length - 1;
        while (offsets[i]! > p) i--;
        rdds[i]!.iterate(p - offsets[i]!, emit);
      },
      env,
      undefined,
      undefined,
      deps,
    );
  }

  /** How many partitions the RDD has. */
  getNumPartitions(): number {
    return this.numPartitions;
  }

  /** Keeps computed partitions in memory, so that they are computed once (Spark's persist at MEMORY_ONLY). */
  persist(): this {
    this.persisted = true;
    return this;
  }

  /** The same as `persist()`. */
  cache(): this {
    return this.persist();
  }

  /**
   * Spark's `rdd.checkpoint()`, which Spark users call inside `transform` to cut a long lineage: marks the RDD so
   * that, once computed, it holds its records and lets go of its parents. spate keeps them in memory rather than
   * writing a file: a streaming job's fault tolerance comes from its metadata and state checkpoints, which replay
   * batches from their recorded input, so an RDD never has to be read back from a file. Every persisted RDD, the
   * windows' included, already lets go of its lineage once all its partitions are computed; this makes any RDD do so.
   */
  checkpoint(): void {
    this.persist();
  }

  /** Whether the RDD was marked with {@link RDD.checkpoint} (or persisted) and every partition is computed. */
  get isCheckpointed(): boolean {
    return this.persisted && this.cachedCount === this.numPartitions;
  }

  get isPersisted(): boolean {
    return this.persisted;
  }

  /** Pushes every record of partition `p` to `emit`. */
  iterate(p: number, emit: Emit<T>): void {
    if (this.persisted) {
      const a = this.partition(p);
      for (let i = 0; i < a.length; i++) emit(a[i]!);
    } else {
      this.computeFn(p, emit);
    }
  }

  /** The records of partition `p` as an array (computed once if persisted). */
  partition(p: number): T[] {
    const hit = this.cached?.[p];
    if (hit) return hit;
    const out: T[] = [];
    this.computeFn(p, (x) => out.push(x));
    if (this.persisted) {
      this.cached ??= new Array(this.numPartitions);
      this.cached[p] = out;
      // Every partition is in memory: the compute function, and with it the parent RDDs it reads (a window's
      // previous window, and so on back to the first batch), is never needed again. Letting it go cuts the
      // lineage as Spark's RDD checkpointing does, so a chain of windows does not keep every earlier batch alive.
      if (++this.cachedCount === this.numPartitions) {
        this.computeFn = materialized;
        this.deps = [];
      }
    }
    return out;
  }

  /** Computes every partition now; synchronous. */
  materialize(): T[][] {
    const parts: T[][] = [];
    for (let p = 0; p < this.numPartitions; p++) parts.push(this.partition(p));
    return parts;
  }

  /** Every record, partition after partition; synchronous. */
  collectSync(): T[] {
    if (this.numPartitions === 1) return this.partition(0);
    const out: T[] = [];
    for (let p = 0; p < this.numPartitions; p++) this.iterate(p, (x) => out.push(x));
    return out;
  }

  /** A child computed partition by partition from this RDD's same partition. */
  private derive<U>(compute: Compute<U>, partitioner?: Partitioner): RDD<U> {
    return new RDD<U>(this.numPartitions, compute, this.env, partitioner, undefined, [
      new OneToOneDependency(this),
    ]);
  }

  /** The RDD of a shuffle's reduce side: partition `p` reads bucket `p` through the environment's shuffle service. */
  private shuffled<R>(dep: ShuffleDependency<any, R>, partitioner?: Partitioner): RDD<R> {
    const env = this.env;
    return new RDD<R>(
      dep.numPartitions,
      (p, emit) => (env.shuffle ?? LOCAL_SHUFFLE).fetch(dep, p, emit),
      env,
      partitioner,
      undefined,
      [dep],
    );
  }

  private scopeOfNew(): OperatorScope {
    return currentOperator() ?? this.scope;
  }

  /** What the per-record functions of `scope` do with a record they throw on (fail, or drop it). */
  private onRecordFailure(scope: OperatorScope): RecordFailureHandler {
    return recordFailureHandler(this.env.recordFailures, scope);
  }

  /** How the per-record loops of a new RDD of the operator that runs now handle `kind`'s failures. */
  private recordFunction(kind: string): RecordFunction {
    const operator = this.scopeOfNew();
    return { operator, kind, failed: this.onRecordFailure(operator) };
  }

  // ---- narrow transformations -------------------------------------------------------------------------------

  /** An RDD of `fn` applied to every record. */
  map<U>(fn: (x: T) => U): RDD<U> {
    return this.derive(mapCompute(this, fn, this.recordFunction("map function")));
  }

  /** An RDD of the records `fn` returns for every record, flattened. */
  flatMap<U>(fn: (x: T) => Iterable<U>): RDD<U> {
    return this.derive(flatMapCompute(this, fn, this.recordFunction("flatMap function")));
  }

  /** An RDD of the records for which `fn` returns true. */
  filter(fn: (x: T) => boolean): RDD<T> {
    return this.derive(filterCompute(this, fn, this.recordFunction("filter function")), this.partitioner);
  }

  /** Calls `fn` once per partition with its records (an array) and the partition index. */
  mapPartitionsWithIndex<U>(
    fn: (index: number, records: T[]) => Iterable<U>,
    preservesPartitioning = false,
  ): RDD<U> {
    return this.derive(
      mapPartitionsCompute(this, attributed(fn, this.scopeOfNew(), "mapPartitions function")),
      preservesPartitioning ? this.partitioner : undefined,
    );
  }

  /** An RDD of what `fn` returns for the records of each partition. */
  mapPartitions<U>(fn: (records: T[]) => Iterable<U>, preservesPartitioning = false): RDD<U> {
    return this.mapPartitionsWithIndex((_i, records) => fn(records), preservesPartitioning);
  }

  /** One array per partition (Spark's glom). */
  glom(): RDD<T[]> {
    return this.derive(glomCompute(this));
  }

  /** The partitions of both RDDs. */
  union(other: RDD<T>): RDD<T> {
    return RDD.union([this, other], this.env);
  }

  /** Spreads records evenly over `numPartitions` partitions. */
  repartition(numPartitions: number): RDD<T> {
    return this.shuffled(spreadDependency(this, requirePartitions(numPartitions)));
  }

  /** Every record once (records compare as keys do). */
  distinct(numPartitions?: number): RDD<T> {
    return this.map((x) => [x, null] as [T, null])
      .reduceByKey((a) => a, numPartitions)
      .map(([x]) => x);
  }

  /** Sorts all records by `fn(record)`, then splits them in order over the same number of partitions. */
  sortBy<K>(fn: (x: T) => K, ascending = true, numPartitions = this.numPartitions): RDD<T> {
    const scope = this.scopeOfNew();
    const n = Math.max(1, numPartitions);
    // Every record gathered into one partition, sorted there, split in order.
    const gathered = this.shuffled(spreadDependency(this, 1));
    return new RDD<T>(
      n,
      sortedCompute(gathered, fn, ascending, n, scope, this.onRecordFailure(scope)),
      this.env,
      undefined,
      undefined,
      [new AllToOneDependency(gathered)],
    );
  }

  /** Pairs of `fn(record)` and the record. */
  keyBy<K>(fn: (x: T) => K): RDD<[K, T]> {
    const on = { operator: this.scopeOfNew(), kind: "keyBy function" };
    return this.map((x) => {
      const k = fn(x);
      if (typeof k === "object" && k !== null) failIfAsync(k, on);
      return [k, x] as [K, T];
    });
  }

  // ---- pair transformations (on RDD<[K, V]>) -----------------------------------------------------------------

  /** Pairs with `fn` applied to every value, keys and partitioning kept. */
  mapValues<K, V, U>(this: RDD<[K, V]>, fn: (v: V) => U): RDD<[K, U]> {
    return this.derive(
      mapValuesCompute(this, fn, this.recordFunction("mapValues function")),
      this.partitioner,
    );
  }

  /** Pairs with every value replaced by the values `fn` returns for it, keys kept. */
  flatMapValues<K, V, U>(this: RDD<[K, V]>, fn: (v: V) => Iterable<U>): RDD<[K, U]> {
    return this.derive(
      flatMapValuesCompute(this, fn, this.recordFunction("flatMapValues function")),
      this.partitioner,
    );
  }

  /** The keys of the pairs. */
  keys<K, V>(this: RDD<[K, V]>): RDD<K> {
    return this.map((kv) => kv[0]);
  }

  /** The values of the pairs. */
  values<K, V>(this: RDD<[K, V]>): RDD<V> {
    return this.map((kv) => kv[1]);
  }

  /** The partitioner of a shuffle: `numPartitions`, else `spate.default.parallelism`, else the largest parent's count. */
  defaultPartitioner(numPartitions: number | undefined, ...others: RDD<any>[]): HashPartitioner {
    const groups = this.env.maxParallelism;
    if (numPartitions !== undefined) return new HashPartitioner(requirePartitions(numPartitions), groups);
    if (this.env.defaultParallelism !== undefined)
      return new HashPartitioner(this.env.defaultParallelism, groups);
    return new HashPartitioner(
      Math.max(1, this.numPartitions, ...others.map((o) => o.numPartitions)),
      groups,
    );
  }

  /** Combines the values of each key (Spark's combineByKey). */
  combineByKey<K, V, C>(
    this: RDD<[K, V]>,
    createCombiner: (v: V) => C,
    mergeValue: (c: C, v: V) => C,
    mergeCombiners: (c1: C, c2: C) => C,
    numPartitionsOrPartitioner?: number | Partitioner,
  ): RDD<[K, C]> {
    const partitioner =
      typeof numPartitionsOrPartitioner === "object"
        ? numPartitionsOrPartitioner
        : this.defaultPartitioner(numPartitionsOrPartitioner);
    const scope = this.scopeOfNew();
    const failed = this.onRecordFailure(scope);
    const dep = combineDependency(this, partitioner, {
      createCombiner,
      mergeValue,
      mergeCombiners,
      scope,
      failed,
    });
    return this.shuffled(dep, partitioner);
  }

  /** Every key with its values reduced by the associative function `fn`. */
  reduceByKey<K, V>(
    this: RDD<[K, V]>,
    fn: (a: V, b: V) => V,
    numPartitions?: number | Partitioner,
  ): RDD<[K, V]> {
    return this.combineByKey((v) => v, fn, fn, numPartitions);
  }

  /** Every key with all its values. */
  groupByKey<K, V>(this: RDD<[K, V]>, numPartitions?: number | Partitioner): RDD<[K, V[]]> {
    return this.combineByKey(
      (v) => [v],
      (c, v) => {
        c.push(v);
        return c;
      },
      (a, b) => a.concat(b),
      numPartitions,
    );
  }

  /** Moves each record to its key's partition. */
  partitionBy<K, V>(this: RDD<[K, V]>, partitioner: Partitioner): RDD<[K, V]> {
    if (partitioner.equals(this.partitioner)) return this;
    return this.shuffled(partitionDependency(this, partitioner), partitioner);
  }

  /** Groups the values of each key in this and `others`: `[k, [values of this, values of others[0], …]]`. */
  cogroupMany<K>(
    this: RDD<[K, any]>,
    others: RDD<[K, any]>[],
    numPartitions?: number | Partitioner,
  ): RDD<[K, any[][]]> {
    const partitioner =
      typeof numPartitions === "object" ? numPartitions : this.defaultPartitioner(numPartitions, ...others);
    const deps = [this, ...others].map((rdd) => partitionDependency(rdd, partitioner));
    const env = this.env;
    return new RDD<[K, any[][]]>(
      partitioner.numPartitions,
      cogroupCompute(deps, () => env.shuffle ?? LOCAL_SHUFFLE),
      env,
      partitioner,
      undefined,
      deps,
    );
  }

  /** Every key of either RDD with its values in each. */
  cogroup<K, V, W>(
    this: RDD<[K, V]>,
    other: RDD<[K, W]>,
    numPartitions?: number | Partitioner,
  ): RDD<[K, [V[], W[]]]> {
    return this.cogroupMany([other], numPartitions) as unknown as RDD<[K, [V[], W[]]]>;
  }

  private joinOf<K, V, W, L, R>(
    kind: JoinKind,
    other: RDD<[K, W]>,
    numPartitions: number | Partitioner | undefined,
  ): RDD<[K, [L, R]]> {
    const self = this as unknown as RDD<[K, V]>;
    return self
      .cogroup(other, numPartitions)
      .flatMap(joinGroup<K, V, W>(kind) as (g: [K, [V[], W[]]]) => Array<[K, [L, R]]>);
  }

  /** Inner join on keys. */
  join<K, V, W>(
    this: RDD<[K, V]>,
    other: RDD<[K, W]>,
    numPartitions?: number | Partitioner,
  ): RDD<[K, [V, W]]> {
    return this.joinOf<K, V, W, V, W>("inner", other, numPartitions);
  }

  /** Left outer join on keys: a missing right value is `undefined` (Spark's None). */
  leftOuterJoin<K, V, W>(
    this: RDD<[K, V]>,
    other: RDD<[K, W]>,
    numPartitions?: number | Partitioner,
  ): RDD<[K, [V, W | undefined]]> {
    return this.joinOf<K, V, W, V, W | undefined>("left", other, numPartitions);
  }

  /** Right outer join on keys: a missing left value is `undefined` (Spark's None). */
  rightOuterJoin<K, V, W>(
    this: RDD<[K, V]>,
    other: RDD<[K, W]>,
    numPartitions?: number | Partitioner,
  ): RDD<[K, [V | undefined, W]]> {
    return this.joinOf<K, V, W, V | undefined, W>("right", other, numPartitions);
  }

  /** Full outer join on keys: a missing value on either side is `undefined` (Spark's None). */
  fullOuterJoin<K, V, W>(
    this: RDD<[K, V]>,
    other: RDD<[K, W]>,
    numPartitions?: number | Partitioner,
  ): RDD<[K, [V | undefined, W | undefined]]> {
    return this.joinOf<K, V, W, V | undefined, W | undefined>("full", other, numPartitions);
  }

  // ---- actions (asynchronous) ---------------------------------------------------------------------------------

  /** Every record, partition by partition. */
  async collect(): Promise<T[]> {
    return this.collectSync();
  }

  /** How many records the RDD has. */
  async count(): Promise<number> {
    let n = 0;
    for (let p = 0; p < this.numPartitions; p++) n += this.partitionCount(p);
    return n;
  }

  /**
   * @internal How many records partition `p` holds: known (see {@link RDD.sized}), else its records in memory, else
   * counted while computing it (the records are not kept).
   */
  partitionCount(p: number): number {
    if (this.sizes) return this.sizes(p);
    if (this.persisted) return this.partition(p).length;
    let n = 0;
    this.computeFn(p, () => n++);
    return n;
  }

  /** The first `n` records, computing partitions only until there are enough. */
  async take(n: number): Promise<T[]> {
    return this.takeSync(n);
  }

  /** The first `n` records, computed synchronously (`take` without the promise). */
  takeSync(n: number): T[] {
    const out: T[] = [];
    for (let p = 0; p < this.numPartitions && out.length < n; p++) {
      const a = this.partition(p);
      for (let i = 0; i < a.length && out.length < n; i++) out.push(a[i]!);
    }
    return out;
  }

  /** The first record; rejects when the RDD is empty. */
  async first(): Promise<T> {
    const found = this.takeSync(1);
    if (found.length === 0)
      throw new InvalidArgumentError("first() was called on an empty RDD; check isEmpty() first.");
    return found[0] as T;
  }

  /** Whether the RDD has no record. */
  async isEmpty(): Promise<boolean> {
    return this.takeSync(1).length === 0;
  }

  /** The records reduced by the associative function `fn`; rejects when the RDD is empty. */
  async reduce(fn: (a: T, b: T) => T): Promise<T> {
    const on = { operator: this.scopeOfNew(), kind: "reduce function" };
    let acc: T | undefined;
    let seen = false;
    for (let p = 0; p < this.numPartitions; p++) {
      this.iterate(p, (x) => {
        if (!seen) {
          acc = x;
          seen = true;
          return;
        }
        try {
          acc = fn(acc as T, x);
        } catch (e) {
          throw attribute(on.operator, e);
        }
        if (typeof acc === "object" && acc !== null) failIfAsync(acc, on);
      });
    }
    if (!seen)
      throw new InvalidArgumentError(
        "reduce() was called on an empty RDD; use fold() with a zero value instead.",
      );
    return acc as T;
  }

  /** The records folded with `fn`, starting from `zero` in each partition. */
  async fold(zero: T, fn: (a: T, b: T) => T): Promise<T> {
    let acc = zero;
    for (let p = 0; p < this.numPartitions; p++) this.iterate(p, (x) => (acc = fn(acc, x)));
    return acc;
  }

  /** Calls `fn` on every record. */
  async foreach(fn: (x: T) => void): Promise<void> {
    for (let p = 0; p < this.numPartitions; p++) this.iterate(p, fn);
  }

  /** Calls `fn` with the records of each partition and its index (write a sink keyed by batch time and partition). */
  async foreachPartition(fn: (records: T[], index: number) => void | Promise<void>): Promise<void> {
    for (let p = 0; p < this.numPartitions; p++) await fn(this.partition(p), p);
  }

  /** Counts of each distinct record, as pairs. */
  async countByValue(): Promise<Array<[T, number]>> {
    const counts = new KeyMap<T, [T, number]>();
    for (let p = 0; p < this.numPartitions; p++) {
      this.iterate(p, (x) => {
        const e = counts.get(x);
        if (e) e[1]++;
        else counts.set(x, [x, 1]);
      });
    }
    return Array.from(counts.values());
  }
}

export function requirePartitions(n: unknown): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n <= 0) {
    throw new InvalidArgumentError(`The number of partitions must be a whole number > 0 (got ${String(n)}).`);
  }
  return n;
}
