import { asyncResult, attribute, InvalidArgumentError, isThenable } from "../errors.js";
import { oneToOne } from "../rdd/dependencies.js";
import { KeyMap } from "../rdd/keys.js";
import { type HashPartitioner, type StatePartitioning, samePartitioning } from "../rdd/Partitioner.js";
import { RDD } from "../rdd/RDD.js";
import { requireMultiple } from "../time.js";
import type { CheckpointableState, GraphNode, Operator } from "./Operator.js";
import { logRedistributed } from "./storeCheckpoint.js";

interface Merge<V> {
  prev: V | undefined;
  hasPrev: boolean;
  old: V | undefined;
  hasOld: boolean;
  added: V | undefined;
  hasAdded: boolean;
}

/**
 * `reduceByKeyAndWindow` with an inverse function (Spark's ReducedWindowedDStream): each window is the previous
 * window, minus the batches that left it (inverse function), plus the batches that entered it. Its RDDs are
 * computed every slide, in order, because each depends on the one before.
 */
export class ReducedWindowedOp<K, V> implements Operator<[K, V]> {
  readonly kind = "reduceByKeyAndWindow";
  readonly parents: readonly GraphNode<any>[];
  readonly slideDuration: number;
  readonly parentRememberExtra: number;
  readonly stateful = true;

  constructor(
    private readonly reduced: GraphNode<[K, V]>,
    private readonly reduceFn: (a: V, b: V) => V,
    private readonly invFn: (a: V, b: V) => V,
    private readonly filterFn: ((kv: [K, V]) => boolean) | undefined,
    readonly windowDuration: number,
    slideDuration: number,
    private readonly partitioner: HashPartitioner,
  ) {
    requireMultiple(
      "The window duration",
      windowDuration,
      "the parent's slide duration",
      reduced.slideDuration,
    );
    requireMultiple(
      "The slide duration",
      slideDuration,
      "the parent's slide duration",
      reduced.slideDuration,
    );
    this.parents = [reduced];
    this.slideDuration = slideDuration;
    this.parentRememberExtra = windowDuration;
    reduced.persist();
    this.checkpointState = this.windowCheckpoint();
  }

  initialize(self: GraphNode<[K, V]>): void {
    self.persist();
  }

  /**
   * The state of a reduced window is the window itself: the next one is computed from it. Restored into another
   * partition count, each record goes to the partition that owns its key's group.
   */
  readonly checkpointState: CheckpointableState<[K, V]>;

  private windowCheckpoint(): CheckpointableState<[K, V]> {
    const partitioner = this.partitioner;
    const partitioning: StatePartitioning = {
      numPartitions: partitioner.numPartitions,
      maxParallelism: partitioner.maxParallelism,
    };
    return {
      fullOnly: true,
      partitioning,
      snapshot: (self, time) =>
        (self.getOrCompute(time)?.materialize() ?? []).map((records) => ({ records })),
      restore: (self, perPartition, version, from) => {
        const saved = perPartition.map(
          (snaps) => (snaps as Array<{ records: Array<[K, V]> }>).at(-1)?.records ?? [],
        );
        let parts: Array<Array<[K, V]>>;
        if (!from || samePartitioning(from, partitioning)) {
          parts = Array.from({ length: partitioner.numPartitions }, (_, p) => saved[p] ?? []);
        } else {
          parts = Array.from({ length: partitioner.numPartitions }, () => []);
          for (const records of saved)
            for (const kv of records) parts[partitioner.getPartition(kv[0])]!.push(kv);
          logRedistributed(
            self,
            from,
            partitioning,
            parts.reduce((n, p) => n + p.length, 0),
          );
        }
        self.seed(version, RDD.fromPartitions(parts, self.env.rddEnv, partitioner));
      },
      written: (self, time, visit) => {
        const rdd = self.getOrCompute(time);
        if (!rdd) return;
        for (let p = 0; p < rdd.numPartitions; p++) rdd.iterate(p, (kv) => visit(kv[0], kv[1]));
      },
    };
  }

  compute(time: number, self: GraphNode<[K, V]>): RDD<[K, V]> {
    const parentSlide = this.reduced.slideDuration;
    const currentBegin = time - this.windowDuration + parentSlide;
    const previousBegin = currentBegin - this.slideDuration;
    const previousEnd = time - this.slideDuration;
    // The batches that left (in the previous window, not in this one) and those that entered (in this window, not
    // in the previous one). Spark takes everything between the two windows' starts and ends, which for a window
    // shorter than its slide counts the batches between two windows as both leaving and entering: when there is
    // no previous window it then adds batches that are not in this one. spate takes the two windows' own batches.
    const oldRDDs = this.reduced.slice(previousBegin, Math.min(currentBegin - parentSlide, previousEnd));
    const newRDDs = this.reduced.slice(Math.max(previousEnd + parentSlide, currentBegin), time);
    const previous = self.getOrCompute(previousEnd);
    const partitioner = this.partitioner;
    const align = (r: RDD<[K, V]>) => r.partitionBy(partitioner);
    const prev = previous && align(previous);
    const olds = oldRDDs.map(align);
    const news = newRDDs.map(align);
    const { invFn, filterFn } = this;
    const reduce = this.reduceFn;
    const reduceFn = (a: V, b: V): V => {
      const r = reduce(a, b);
      if (isThenable(r)) throw asyncResult(self, "reduce function", r);
      return r;
    };
    return new RDD<[K, V]>(
      partitioner.numPartitions,
      (p, emit) => {
        const merges = new KeyMap<K, Merge<V>>();
        const slot = (k: K): Merge<V> => {
          let m = merges.get(k);
          if (!m) {
            m = {
              prev: undefined,
              hasPrev: false,
              old: undefined,
              hasOld: false,
              added: undefined,
              hasAdded: false,
            };
            merges.set(k, m);
          }
          return m;
        };
        try {
          prev?.iterate(p, ([k, v]) => {
            const m = slot(k);
            m.prev = v;
            m.hasPrev = true;
          });
          for (const r of olds) {
            r.iterate(p, ([k, v]) => {
              const m = slot(k);
              m.old = m.hasOld ? reduceFn(m.old as V, v) : v;
              m.hasOld = true;
            });
          }
          for (const r of news) {
            r.iterate(p, ([k, v]) => {
              const m = slot(k);
              m.added = m.hasAdded ? reduceFn(m.added as V, v) : v;
              m.hasAdded = true;
            });
          }
          merges.forEach((m, k) => {
            let value: V;
            if (!m.hasPrev) {
              if (!m.hasAdded) {
                throw new InvalidArgumentError(
                  `reduceByKeyAndWindow at ${time}: key ${JSON.stringify(k)} has values leaving the window but none in ` +
                    "the previous window; the reduce and inverse functions (or filterFn) are inconsistent.",
                );
              }
              value = m.added as V;
            } else {
              value = m.prev as V;
              if (m.hasOld) value = invFn(value, m.old as V);
              if (isThenable(value)) throw asyncResult(self, "inverse reduce function", value);
              if (m.hasAdded) value = reduceFn(value, m.added as V);
            }
            const kv: [K, V] = [k, value];
            if (!filterFn) emit(kv);
            else {
              const keep = filterFn(kv);
              if (isThenable(keep)) throw asyncResult(self, "filter function", keep);
              if (keep) emit(kv);
            }
          });
        } catch (e) {
          throw attribute(self, e);
        }
      },
      self.env.rddEnv,
      partitioner,
      undefined,
      oneToOne(prev, ...olds, ...news),
    );
  }
}
