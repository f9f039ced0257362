import { asyncResult, attribute, InvalidArgumentError, isThenable } from "../errors.js";
import { type RecordFailureHandler, type RecordFailureSink, recordFailureHandler } from "./failures.js";
import { compareValues, KeyMap } from "./keys.js";
import { HashPartitioner, type Partitioner } from "./Partitioner.js";
import { currentOperator, DRIVER, type OperatorScope } from "./scope.js";

/** Receives one record of a partition. Partitions are computed by pushing records, so narrow operations fuse. */
export type Emit<T> = (record: T) => void;
type Compute<T> = (partition: number, emit: Emit<T>) => void;

/** What every RDD of one context shares. */
export interface RDDEnv {
  /** `spate.default.parallelism`, when set. */
  readonly defaultParallelism: number | undefined;
  /** `spate.state.maxParallelism`: the key groups of hash partitioners (default 128). */
  readonly maxParallelism?: number;
  /** Where records go that a per-record function threw on, under `spate.errors.onRecordFailure`; unset: fail. */
  readonly recordFailures?: RecordFailureSink;
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

  constructor(
    readonly numPartitions: number,
    private computeFn: Compute<T>,
    readonly env: RDDEnv = NO_ENV,
    readonly partitioner?: Partitioner,
    scope?: OperatorScope,
  ) {
    this.scope = scope ?? currentOperator() ?? DRIVER;
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
      );
    }
    const offsets: number[] = [];
    let total = 0;
    for (const r of rdds) {
      offsets.push(total);
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
      if (++this.cachedCount === this.numPartitions) this.computeFn = materialized;
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

  private derive<U>(
    compute: Compute<U>,
    partitioner?: Partitioner,
    numPartitions = this.numPartitions,
  ): RDD<U> {
    return new RDD<U>(numPartitions, compute, this.env, partitioner);
  }

  private scopeOfNew(): OperatorScope {
    return currentOperator() ?? this.scope;
  }

  /** What the per-record functions of `scope` do with a record they throw on (fail, or drop it). */
  private onRecordFailure(scope: OperatorScope): RecordFailureHandler {
    return recordFailureHandler(this.env.recordFailures, scope);
  }

  // ---- narrow transformations -------------------------------------------------------------------------------

  /** An RDD of `fn` applied to every record. */
  map<U>(fn: (x: T) => U): RDD<U> {
    const scope = this.scopeOfNew();
    const failed = this.onRecordFailure(scope);
    return this.derive((p, emit) => {
      let failures = 0;
      this.iterate(p, (x) => {
        let y: U;
        try {
          y = fn(x);
        } catch (e) {
          failed(e, x, `${p}:${failures++}`);
          return;
        }
        if (typeof y === "object" && !Array.isArray(y) && isThenable(y))
          throw asyncResult(scope, "map function", y);
        emit(y);
      });
    });
  }

  /** An RDD of the records `fn` returns for every record, flattened. */
  flatMap<U>(fn: (x: T) => Iterable<U>): RDD<U> {
    const scope = this.scopeOfNew();
    const failed = this.onRecordFailure(scope);
    return this.derive((p, emit) => {
      let failures = 0;
      this.iterate(p, (x) => {
        let ys: Iterable<U>;
        try {
          ys = fn(x);
        } catch (e) {
          failed(e, x, `${p}:${failures++}`);
          return;
        }
        if (Array.isArray(ys)) for (let i = 0; i < ys.length; i++) emit(ys[i]);
        else if (isThenable(ys)) throw asyncResult(scope, "flatMap function", ys);
        else for (const y of ys) emit(y);
      });
    });
  }

  /** An RDD of the records for which `fn` returns true. */
  filter(fn: (x: T) => boolean): RDD<T> {
    const scope = this.scopeOfNew();
    const failed = this.onRecordFailure(scope);
    return this.derive((p, emit) => {
      let failures = 0;
      this.iterate(p, (x) => {
        let keep: boolean;
        try {
          keep = fn(x);
        } catch (e) {
          failed(e, x, `${p}:${failures++}`);
          return;
        }
        if (keep === true) emit(x);
        else if (isThenable(keep)) throw asyncResult(scope, "filter function", keep);
        else if (keep) emit(x);
      });
    }, this.partitioner);
  }

  /** Calls `fn` once per partition with its records (an array) and the partition index. */
  mapPartitionsWithIndex<U>(
    fn: (index: number, records: T[]) => Iterable<U>,
    preservesPartitioning = false,
  ): RDD<U> {
    const scope = this.scopeOfNew();
    return this.derive(
      (p, emit) => {
        let ys: Iterable<U>;
        try {
          ys = fn(p, this.partition(p));
        } catch (e) {
          throw attribute(scope, e);
        }
        if (Array.isArray(ys)) for (let i = 0; i < ys.length; i++) emit(ys[i]);
        else if (isThenable(ys)) throw asyncResult(scope, "mapPartitions function", ys);
        else for (const y of ys) emit(y);
      },
      preservesPartitioning ? this.partitioner : undefined,
    );
  }

  /** An RDD of what `fn` returns for the records of each partition. */
  mapPartitions<U>(fn: (records: T[]) => Iterable<U>, preservesPartitioning = false): RDD<U> {
    return this.mapPartitionsWithIndex((_i, records) => fn(records), preservesPartitioning);
  }

  /** One array per partition (Spark's glom). */
  glom(): RDD<T[]> {
    return this.derive((p, emit) => emit(this.partition(p).slice()));
  }

  /** The partitions of both RDDs. */
  union(other: RDD<T>): RDD<T> {
    return RDD.union([this, other], this.env);
  }

  /** Spreads records evenly over `numPartitions` partitions. */
  repartition(numPartitions: number): RDD<T> {
    requirePartitions(numPartitions);
    let buckets: T[][] | undefined;
    return this.derive(
      (p, emit) => {
        buckets ??= this.spread(numPartitions);
        const a = buckets[p]!;
        for (let i = 0; i < a.length; i++) emit(a[i]!);
      },
      undefined,
      numPartitions,
    );
  }

  private spread(n: number): T[][] {
    const buckets: T[][] = Array.from({ length: n }, () => []);
    for (let p = 0; p < this.numPartitions; p++) {
      let target = p % n;
      this.iterate(p, (x) => {
        buckets[target]!.push(x);
        target = target + 1 === n ? 0 : target + 1;
      });
    }
    return buckets;
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
    const failed = this.onRecordFailure(scope);
    let sorted: T[][] | undefined;
    const n = Math.max(1, numPartitions);
    return this.derive(
      (p, emit) => {
        if (!sorted) {
          const keyed: Array<[K, T]> = [];
          for (const x of this.collectSync()) {
            try {
              keyed.push([fn(x), x]);
            } catch (e) {
              failed(e, x);
            }
          }
          for (const [k] of keyed) if (isThenable(k)) throw asyncResult(scope, "sortBy key function", k);
          const sign = ascending ? 1 : -1;
          keyed.sort((a, b) => sign * compareValues(a[0], b[0]));
          sorted = [];
          for (let i = 0; i < n; i++) {
            sorted.push(
              keyed
                .slice(Math.floor((i * keyed.length) / n), Math.floor(((i + 1) * keyed.length) / n))
                .map((e) => e[1]),
            );
          }
        }
        for (const x of sorted[p]!) emit(x);
      },
      undefined,
      n,
    );
  }

  /** Pairs of `fn(record)` and the record. */
  keyBy<K>(fn: (x: T) => K): RDD<[K, T]> {
    const scope = this.scopeOfNew();
    return this.map((x) => {
      const k = fn(x);
      if (isThenable(k)) throw asyncResult(scope, "keyBy function", k);
      return [k, x] as [K, T];
    });
  }

  // ---- pair transformations (on RDD<[K, V]>) -----------------------------------------------------------------

  /** Pairs with `fn` applied to every value, keys and partitioning kept. */
  mapValues<K, V, U>(this: RDD<[K, V]>, fn: (v: V) => U): RDD<[K, U]> {
    const scope = this.scopeOfNew();
    const failed = this.onRecordFailure(scope);
    return this.derive((p, emit) => {
      let failures = 0;
      this.iterate(p, (kv) => {
        let u: U;
        try {
          u = fn(kv[1]);
        } catch (e) {
          failed(e, kv, `${p}:${failures++}`);
          return;
        }
        if (typeof u === "object" && isThenable(u)) throw asyncResult(scope, "mapValues function", u);
        emit([kv[0], u]);
      });
    }, this.partitioner);
  }

  /** Pairs with every value replaced by the values `fn` returns for it, keys kept. */
  flatMapValues<K, V, U>(this: RDD<[K, V]>, fn: (v: V) => Iterable<U>): RDD<[K, U]> {
    const scope = this.scopeOfNew();
    const failed = this.onRecordFailure(scope);
    return this.derive((p, emit) => {
      let failures = 0;
      this.iterate(p, (kv) => {
        let us: Iterable<U>;
        try {
          us = fn(kv[1]);
        } catch (e) {
          failed(e, kv, `${p}:${failures++}`);
          return;
        }
        if (isThenable(us)) throw asyncResult(scope, "flatMapValues function", us);
        for (const u of us) emit([kv[0], u]);
      });
    }, this.partitioner);
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
    void mergeCombiners; // in one process every value is merged straight into its key's combiner
    const partitioner =
      typeof numPartitionsOrPartitioner === "object"
        ? numPartitionsOrPartitioner
        : this.defaultPartitioner(numPartitionsOrPartitioner);
    const scope = this.scopeOfNew();
    const failed = this.onRecordFailure(scope);
    let buckets: Array<Array<[K, C]>> | undefined;
    const shuffle = (): Array<Array<[K, C]>> => {
      const n = partitioner.numPartitions;
      const maps: Array<KeyMap<K, [K, C]>> = Array.from({ length: n }, () => new KeyMap());
      for (let p = 0; p < this.numPartitions; p++) {
        this.iterate(p, (kv) => {
          const k = kv[0];
          const m = maps[n === 1 ? 0 : partitioner.getPartition(k)]!;
          const entry = m.get(k);
          // A value the functions throw on is dropped (under skip): its key's combiner stays as it was.
          try {
            if (entry === undefined) {
              const c = createCombiner(kv[1]);
              if (isThenable(c)) throw asyncResult(scope, "reduce function", c);
              m.set(k, [k, c]);
            } else entry[1] = mergeValue(entry[1], kv[1]);
          } catch (e) {
            failed(e, kv);
          }
        });
      }
      // An async merge function returns a Promise from every call, so each key's final combiner shows it: checked
      // once per key rather than once per record.
      for (const m of maps) {
        m.forEach((entry) => {
          if (isThenable(entry[1])) throw asyncResult(scope, "reduce function", entry[1]);
        });
      }
      return maps.map((m) => Array.from(m.values()));
    };
    return this.derive(
      (p, emit) => {
        buckets ??= shuffle();
        const a = buckets[p]!;
        for (let i = 0; i < a.length; i++) emit(a[i]!);
      },
      partitioner,
      partitioner.numPartitions,
    );
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
    if (partitioner.numPartitions === 1) {
      // Everything goes to the one partition: stream the parent's partitions through, nothing to bucket.
      return this.derive(
        (_p, emit) => {
          for (let q = 0; q < this.numPartitions; q++) this.iterate(q, emit);
        },
        partitioner,
        1,
      );
    }
    let buckets: Array<Array<[K, V]>> | undefined;
    return this.derive(
      (p, emit) => {
        if (!buckets) {
          const b: Array<Array<[K, V]>> = Array.from({ length: partitioner.numPartitions }, () => []);
          for (let q = 0; q < this.numPartitions; q++)
            this.iterate(q, (kv) => b[partitioner.getPartition(kv[0])]!.push(kv));
          buckets = b;
        }
        const a = buckets[p]!;
        for (let i = 0; i < a.length; i++) emit(a[i]!);
      },
      partitioner,
      partitioner.numPartitions,
    );
  }

  /** Groups the values of each key in this and `others`: `[k, [values of this, values of others[0], …]]`. */
  cogroupMany<K>(
    this: RDD<[K, any]>,
    others: RDD<[K, any]>[],
    numPartitions?: number | Partitioner,
  ): RDD<[K, any[][]]> {
    const all = [this, ...others];
    const partitioner =
      typeof numPartitions === "object" ? numPartitions : this.defaultPartitioner(numPartitions, ...others);
    let buckets: Array<Array<[K, any[][]]>> | undefined;
    const shuffle = () => {
      const n = partitioner.numPartitions;
      const maps: Array<KeyMap<K, [K, any[][]]>> = Array.from({ length: n }, () => new KeyMap());
      all.forEach((rdd, i) => {
        for (let p = 0; p < rdd.numPartitions; p++) {
          rdd.iterate(p, (kv) => {
            const m = maps[partitioner.getPartition(kv[0])]!;
            let entry = m.get(kv[0]);
            if (!entry) {
              entry = [kv[0], all.map(() => [])];
              m.set(kv[0], entry);
            }
            entry[1][i]!.push(kv[1]);
          });
        }
      });
      return maps.map((m) => Array.from(m.values()));
    };
    return this.derive(
      (p, emit) => {
        buckets ??= shuffle();
        for (const e of buckets[p]!) emit(e);
      },
      partitioner,
      partitioner.numPartitions,
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

  /** Inner join on keys. */
  join<K, V, W>(
    this: RDD<[K, V]>,
    other: RDD<[K, W]>,
    numPartitions?: number | Partitioner,
  ): RDD<[K, [V, W]]> {
    return this.cogroup(other, numPartitions).flatMap(([k, [vs, ws]]) => {
      const out: Array<[K, [V, W]]> = [];
      for (const v of vs) for (const w of ws) out.push([k, [v, w]]);
      return out;
    });
  }

  /** Left outer join on keys: a missing right value is `undefined` (Spark's None). */
  leftOuterJoin<K, V, W>(
    this: RDD<[K, V]>,
    other: RDD<[K, W]>,
    numPartitions?: number | Partitioner,
  ): RDD<[K, [V, W | undefined]]> {
    return this.cogroup(other, numPartitions).flatMap(([k, [vs, ws]]) => {
      const out: Array<[K, [V, W | undefined]]> = [];
      for (const v of vs) {
        if (ws.length === 0) out.push([k, [v, undefined]]);
        else for (const w of ws) out.push([k, [v, w]]);
      }
      return out;
    });
  }

  /** Right outer join on keys: a missing left value is `undefined` (Spark's None). */
  rightOuterJoin<K, V, W>(
    this: RDD<[K, V]>,
    other: RDD<[K, W]>,
    numPartitions?: number | Partitioner,
  ): RDD<[K, [V | undefined, W]]> {
    return this.cogroup(other, numPartitions).flatMap(([k, [vs, ws]]) => {
      const out: Array<[K, [V | undefined, W]]> = [];
      for (const w of ws) {
        if (vs.length === 0) out.push([k, [undefined, w]]);
        else for (const v of vs) out.push([k, [v, w]]);
      }
      return out;
    });
  }

  /** Full outer join on keys: a missing value on either side is `undefined` (Spark's None). */
  fullOuterJoin<K, V, W>(
    this: RDD<[K, V]>,
    other: RDD<[K, W]>,
    numPartitions?: number | Partitioner,
  ): RDD<[K, [V | undefined, W | undefined]]> {
    return this.cogroup(other, numPartitions).flatMap(([k, [vs, ws]]) => {
      const out: Array<[K, [V | undefined, W | undefined]]> = [];
      if (vs.length === 0) for (const w of ws) out.push([k, [undefined, w]]);
      else if (ws.length === 0) for (const v of vs) out.push([k, [v, undefined]]);
      else for (const v of vs) for (const w of ws) out.push([k, [v, w]]);
      return out;
    });
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
    const scope = this.scopeOfNew();
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
          throw attribute(scope, e);
        }
        if (typeof acc === "object" && isThenable(acc)) throw asyncResult(scope, "reduce function", acc);
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
