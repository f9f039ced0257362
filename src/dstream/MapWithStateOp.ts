import { asyncResult, isThenable, SpateError } from "../errors.js";
import { oneToOne } from "../rdd/dependencies.js";
import { recordFailureHandler } from "../rdd/failures.js";
import type { HashPartitioner } from "../rdd/Partitioner.js";
import { RDD } from "../rdd/RDD.js";
import { StateHandle, type StateSpec } from "../State.js";
import type { StateStoreOptions } from "../state/StateStore.js";
import type { CheckpointableState, GraphNode, Operator } from "./Operator.js";
import { storeCheckpoint } from "./storeCheckpoint.js";

/**
 * `mapWithState` (Spark's MapWithStateDStream): the function runs once per record of the batch, then once per key
 * that timed out. A batch costs O(its records + keys timing out): state is updated in place in versioned stores,
 * and timed-out keys come from an index by update time, never from a scan of all keys.
 */
export class MapWithStateOp<K, V, S, M> implements Operator<M> {
  readonly kind = "mapWithState";
  readonly parents: readonly GraphNode<any>[];
  readonly stateful = true;
  /** The batch time each partition's store was last computed for (to catch stale snapshot reads). */
  private readonly computedAt: number[];
  readonly checkpointState: CheckpointableState<M>;

  constructor(
    private readonly parent: GraphNode<[K, V]>,
    private readonly spec: StateSpec<K, V, S, M>,
    readonly partitioner: HashPartitioner,
  ) {
    this.parents = [parent];
    this.computedAt = new Array(partitioner.numPartitions).fill(Number.NEGATIVE_INFINITY);
    this.checkpointState = storeCheckpoint(partitioner, this.storeOptions(), spec.getCodec());
  }

  get slideDuration(): number {
    return this.parent.slideDuration;
  }

  private storeOptions(): StateStoreOptions {
    return { indexByTime: this.spec.getTimeout() !== undefined, codec: this.spec.getCodec() };
  }

  initialize(self: GraphNode<M>, zeroTime: number, restoring: boolean): void {
    const initial = this.spec.getInitialState();
    if (!initial || restoring) return;
    const provider = self.env.stateStores;
    // As Spark, the initial state counts as updated at the first batch, so it cannot time out in that batch.
    const firstBatch = zeroTime + this.slideDuration;
    for (const [k, s] of initial) {
      provider
        .getStore<K, S>(self.id, this.partitioner.getPartition(k), this.storeOptions())
        .put(k, s, firstBatch);
    }
    for (let p = 0; p < this.partitioner.numPartitions; p++) {
      provider.getStore(self.id, p, this.storeOptions()).commit(zeroTime);
    }
  }

  compute(time: number, self: GraphNode<M>): RDD<M> {
    const data = this.parent.getOrCompute(time)?.partitionBy(this.partitioner);
    const provider = self.env.stateStores;
    const fn = this.spec.mappingFunction;
    const timeout = this.spec.getTimeout();
    const options = this.storeOptions();
    const computedAt = this.computedAt;
    // Under skip, a record the function throws on leaves its key's state as it was before that record: the
    // store is written only after the function returns.
    const failed = recordFailureHandler(self.env.recordFailures, self);
    return new RDD<M>(
      this.partitioner.numPartitions,
      (p, emit) => {
        const store = provider.getStore<K, S>(self.id, p, options);
        const state = new StateHandle<S>();
        computedAt[p] = time;
        // The memory store's handles save a second lookup per record; other stores are read with get().
        const fast = store.lookup !== undefined && store.stateAt !== undefined;
        data?.iterate(p, (kv) => {
          const key = kv[0];
          let handle: number | undefined;
          if (fast) {
            handle = store.lookup!(key);
            state.wrap(handle >= 0, handle >= 0 ? store.stateAt!(handle) : undefined);
          } else {
            const current = store.get(key);
            state.wrap(current !== undefined, current?.state);
          }
          let mapped: M | undefined;
          try {
            mapped = fn(key, kv[1], state, time);
          } catch (e) {
            failed(e, kv);
            return;
          }
          if (state.removed) store.remove(key);
          else if (state.updated || (state.exists() && (timeout !== undefined || state.holdsObject()))) {
            // Without update(), an object state may have been changed in place: it is put, so that it counts
            // as changed for delta checkpoints (and, with a timeout, a key with data counts as updated).
            store.put(key, state.getOption() as S, time, handle);
          }
          if (mapped !== undefined) {
            // Inline checks keep the call off the path of primitive and array (pair) results.
            if (typeof mapped === "object" && !Array.isArray(mapped) && isThenable(mapped)) {
              throw asyncResult(self, "mapWithState function", mapped);
            }
            emit(mapped);
          }
        });
        if (timeout !== undefined) {
          for (const entry of store.updatedBefore(time - timeout)) {
            state.wrapTimingOut(entry.state);
            let mapped: M | undefined;
            try {
              mapped = fn(entry.key, undefined, state, time);
            } catch (e) {
              // The key times out all the same; only what the function would have returned is lost.
              failed(e, [entry.key, undefined]);
              mapped = undefined;
            }
            if (typeof mapped === "object" && isThenable(mapped)) {
              throw asyncResult(self, "mapWithState function", mapped);
            }
            store.remove(entry.key);
            if (mapped !== undefined) emit(mapped);
          }
        }
      },
      self.env.rddEnv,
      undefined,
      undefined,
      oneToOne(data),
    ).persist();
  }

  /** The whole state of partition `p` after batch `time`, read from the store (valid only during that batch). */
  snapshot(self: GraphNode<M>, time: number, p: number, emit: (kv: [K, S]) => void): void {
    if (this.computedAt[p] !== time) {
      throw new SpateError(
        "SPATE_INVALID_ARGUMENT",
        `The state snapshot of batch ${time} was read when the state is at batch ${this.computedAt[p]}; ` +
          "read stateSnapshots() within its own batch, or persist() it to keep it.",
      );
    }
    const store = self.env.stateStores.getStore<K, S>(self.id, p, this.storeOptions());
    store.forEach((state, key) => {
      emit([key, state]);
    });
  }
}
