// The shuffles of RDD operations: what each one's map side buckets and its reduce side merges (see
// dependencies.ts), and the reduce-side computations of cogroup and sortBy.
import { concatBuckets, type ParentRDD, ShuffleDependency } from "./dependencies.js";
import { failIfAsync, type RecordFailureHandler } from "./failures.js";
import { compareValues, KeyMap } from "./keys.js";
import type { Partitioner } from "./Partitioner.js";
import type { Compute, Emit } from "./types.js";
import type { OperatorScope } from "./scope.js";
import type { ShuffleService } from "./ShuffleService.js";

/** The functions of a combineByKey, with what its errors are attributed to. */
export interface Combiner<V, C> {
  createCombiner(v: V): C;
  mergeValue(c: C, v: V): C;
  mergeCombiners(c1: C, c2: C): C;
  scope: OperatorScope;
  failed: RecordFailureHandler;
}

/**
 * combineByKey's shuffle: the map side combines the values of each key into one combiner per bucket, the reduce
 * side merges combiners of one key with `mergeCombiners`.
 */
export function combineDependency<K, V, C>(
  parent: ParentRDD<[K, V]>,
  partitioner: Partitioner,
  combiner: Combiner<V, C>,
): ShuffleDependency<[K, V], [K, C]> {
  const { createCombiner, mergeValue, mergeCombiners, scope, failed } = combiner;
  const on = { operator: scope, kind: "reduce function" };
  const n = partitioner.numPartitions;
  return new ShuffleDependency<[K, V], [K, C]>(parent, n, partitioner, true, {
    map(partitions) {
      const maps: Array<KeyMap<K, [K, C]>> = new Array(n);
      for (let i = 0; i < n; i++) maps[i] = new KeyMap();
      const single = maps[0]!;
      const add = (kv: [K, V]) => {
        const k = kv[0];
        const m = n === 1 ? single : maps[partitioner.getPartition(k)]!;
        const entry = m.get(k);
        // A value the functions throw on is dropped (under skip): its key's combiner stays as it was.
        try {
          if (entry === undefined) {
            const c = createCombiner(kv[1]);
            if (typeof c === "object" && c !== null) failIfAsync(c, on);
            m.set(k, [k, c]);
          } else entry[1] = mergeValue(entry[1], kv[1]);
        } catch (e) {
          failed(e, kv);
        }
      };
      for (const q of partitions) parent.iterate(q, add);
      // An async merge function returns a Promise from every call, so each key's final combiner shows it: checked
      // once per key rather than once per record.
      const buckets: Array<Array<[K, C]>> = new Array(n);
      for (let i = 0; i < n; i++) {
        const out: Array<[K, C]> = [];
        maps[i]!.forEach((entry) => {
          const c = entry[1];
          if (typeof c === "object" && c !== null) failIfAsync(c, on);
          out.push(entry);
        });
        buckets[i] = out;
      }
      return buckets;
    },
    merge(buckets, emit) {
      if (buckets.length === 1) {
        concatBuckets(buckets, emit);
        return;
      }
      const merged = new KeyMap<K, [K, C]>();
      for (const b of buckets) {
        for (let i = 0; i < b.length; i++) {
          const kc = b[i]!;
          const entry = merged.get(kc[0]);
          if (entry === undefined) merged.set(kc[0], [kc[0], kc[1]]);
          else {
            try {
              const c = mergeCombiners(entry[1], kc[1]);
              if (typeof c === "object" && c !== null) failIfAsync(c, on);
              entry[1] = c;
            } catch (e) {
              failed(e, kc);
            }
          }
        }
      }
      merged.forEach((entry) => {
        emit(entry);
      });
    },
  });
}

/** partitionBy's shuffle: each record to its key's bucket, as it is. */
export function partitionDependency<K, V>(
  parent: ParentRDD<[K, V]>,
  partitioner: Partitioner,
): ShuffleDependency<[K, V]> {
  const n = partitioner.numPartitions;
  return new ShuffleDependency<[K, V]>(parent, n, partitioner, false, {
    map(partitions) {
      const buckets: Array<Array<[K, V]>> = Array.from({ length: n }, () => []);
      for (const q of partitions)
        parent.iterate(q, (kv) => buckets[partitioner.getPartition(kv[0])]!.push(kv));
      return buckets;
    },
    merge: concatBuckets,
  });
}

/**
 * repartition's shuffle: the records of parent partition `q` go round-robin to the buckets, starting at `q % n`,
 * so records spread evenly whatever their keys (sortBy gathers records into one bucket the same way).
 */
export function spreadDependency<T>(parent: ParentRDD<T>, n: number): ShuffleDependency<T> {
  return new ShuffleDependency<T>(parent, n, undefined, false, {
    map(partitions) {
      const buckets: T[][] = Array.from({ length: n }, () => []);
      for (const q of partitions) {
        let target = q % n;
        parent.iterate(q, (x) => {
          buckets[target]!.push(x);
          target = target + 1 === n ? 0 : target + 1;
        });
      }
      return buckets;
    },
    merge: concatBuckets,
  });
}

/**
 * The reduce side of a cogroup of `deps` (one shuffle per input, into the same partitioner): the keys of partition
 * `p` in order of first appearance (input by input), each with its values from every input.
 */
export function cogroupCompute<K>(
  deps: readonly ShuffleDependency<[K, any]>[],
  shuffle: () => ShuffleService,
): Compute<[K, any[][]]> {
  return (p, emit) => {
    const groups = new KeyMap<K, [K, any[][]]>();
    const service = shuffle();
    deps.forEach((dep, i) => {
      service.fetch(dep, p, (kv) => {
        let entry = groups.get(kv[0]);
        if (!entry) {
          entry = [kv[0], deps.map(() => [])];
          groups.set(kv[0], entry);
        }
        entry[1][i]!.push(kv[1]);
      });
    });
    groups.forEach((entry) => {
      emit(entry);
    });
  };
}

/**
 * sortBy over its records gathered into one partition: keys them with `fn` (a record `fn` throws on goes to
 * `failed`), sorts stably by key and splits the result in order into `n` partitions; sorted once, on the first
 * partition read.
 */
export function sortedCompute<T, K>(
  gathered: ParentRDD<T>,
  fn: (x: T) => K,
  ascending: boolean,
  n: number,
  scope: OperatorScope,
  failed: RecordFailureHandler,
): Compute<T> {
  let sorted: T[][] | undefined;
  return (p: number, emit: Emit<T>) => {
    if (!sorted) {
      const keyed: Array<[K, T]> = [];
      for (const x of gathered.partition(0)) {
        try {
          keyed.push([fn(x), x]);
        } catch (e) {
          failed(e, x);
        }
      }
      const on = { operator: scope, kind: "sortBy key function" };
      for (const [k] of keyed) if (typeof k === "object" && k !== null) failIfAsync(k, on);
      const sign = ascending ? 1 : -1;
      keyed.sort((a, b) => sign * compareValues(a[0], b[0]));
      const slices: T[][] = [];
      for (let i = 0; i < n; i++) {
        slices.push(
          keyed
            .slice(Math.floor((i * keyed.length) / n), Math.floor(((i + 1) * keyed.length) / n))
            .map((e) => e[1]),
        );
      }
      sorted = slices;
    }
    for (const x of sorted[p]!) emit(x);
  };
}
