import { asyncResult, isThenable } from "../errors.js";
import { oneToOne } from "../rdd/dependencies.js";
import { recordFailureHandler } from "../rdd/failures.js";
import { KeyMap } from "../rdd/keys.js";
import type { HashPartitioner } from "../rdd/Partitioner.js";
import { RDD } from "../rdd/RDD.js";
import type { StateStoreOptions } from "../state/StateStore.js";
import type { CheckpointableState, GraphNode, Operator, StateCodec } from "./Operator.js";
import { storeCheckpoint } from "./storeCheckpoint.js";

/** The function of `updateStateByKey`: the new state of a key, or undefined to remove it. */
export type UpdateFunction<K, V, S> = (
  values: V[],
  state: S | undefined,
  key: K,
  time: number,
) => S | undefined;

/**
 * `updateStateByKey` (Spark's StateDStream): every batch, the function runs for every key with new values or
 * state, and the stream's RDD is the whole state. Cost grows with the keys held, as in Spark.
 */
export class StateOp<K, V, S> implements Operator<[K, S]> {
  readonly kind = "updateStateByKey";
  readonly parents: readonly GraphNode<any>[];
  readonly stateful = true;
  readonly checkpointState: CheckpointableState<[K, S]>;
  private readonly storeOptions: StateStoreOptions;

  constructor(
    private readonly parent: GraphNode<[K, V]>,
    private readonly updateFn: UpdateFunction<K, V, S>,
    readonly partitioner: HashPartitioner,
    private readonly initialState: Array<[K, S]> | undefined,
    codec?: StateCodec<S>,
  ) {
    this.parents = [parent];
    this.storeOptions = { codec };
    this.checkpointState = storeCheckpoint(partitioner, this.storeOptions, codec);
  }

  get slideDuration(): number {
    return this.parent.slideDuration;
  }

  initialize(self: GraphNode<[K, S]>, zeroTime: number, restoring: boolean): void {
    if (!this.initialState || restoring) return;
    const provider = self.env.stateStores;
    for (const [k, s] of this.initialState) {
      provider
        .getStore<K, S>(self.id, this.partitioner.getPartition(k), this.storeOptions)
        .put(k, s, zeroTime);
    }
    for (let p = 0; p < this.partitioner.numPartitions; p++)
      provider.getStore(self.id, p, this.storeOptions).commit(zeroTime);
  }

  compute(time: number, self: GraphNode<[K, S]>): RDD<[K, S]> {
    const data = this.parent.getOrCompute(time)?.partitionBy(this.partitioner);
    const provider = self.env.stateStores;
    const { updateFn, storeOptions: options } = this;
    // Under skip, a key whose function throws keeps the state it had before this batch's values.
    const failed = recordFailureHandler(self.env.recordFailures, self);
    return new RDD<[K, S]>(
      this.partitioner.numPartitions,
      (p, emit) => {
        const store = provider.getStore<K, S>(self.id, p, options);
        const grouped = new KeyMap<K, V[]>();
        data?.iterate(p, ([k, v]) => {
          const vs = grouped.get(k);
          if (vs) vs.push(v);
          else grouped.set(k, [v]);
        });
        const apply = (k: K, values: V[], state: S | undefined) => {
          let next: S | undefined;
          try {
            next = updateFn(values, state, k, time);
          } catch (e) {
            failed(e, [k, values]);
            if (state !== undefined) emit([k, state]);
            return;
          }
          // A state returned even unchanged (mutated in place) is put: it counts as changed for checkpoints.
          if (next === undefined) store.remove(k);
          else if (typeof next === "object" && isThenable(next))
            throw asyncResult(self, "updateStateByKey function", next);
          else {
            store.put(k, next, time);
            emit([k, next]);
          }
        };
        // Replacing or deleting visited keys while iterating a Map is safe; new keys are added after the loop.
        store.forEach((state, key) => {
          const values = grouped.get(key);
          if (values) grouped.delete(key);
          apply(key, values ?? [], state);
        });
        grouped.forEach((values, k) => {
          apply(k, values, undefined);
        });
      },
      self.env.rddEnv,
      this.partitioner,
      undefined,
      oneToOne(data),
    ).persist();
  }
}
