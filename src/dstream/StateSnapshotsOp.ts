import { oneToOne } from "../rdd/dependencies.js";
import { RDD } from "../rdd/RDD.js";
import type { MapWithStateOp } from "./MapWithStateOp.js";
import type { GraphNode, Operator } from "./Operator.js";

/** `stateSnapshots()` of a `mapWithState` stream: all its state after each batch. */
export class StateSnapshotsOp<K, S> implements Operator<[K, S]> {
  readonly kind = "stateSnapshots";
  readonly parents: readonly GraphNode<any>[];

  constructor(
    private readonly mapped: GraphNode<any>,
    private readonly op: MapWithStateOp<K, any, S, any>,
  ) {
    this.parents = [mapped];
  }

  get slideDuration(): number {
    return this.mapped.slideDuration;
  }

  compute(time: number, self: GraphNode<[K, S]>): RDD<[K, S]> | undefined {
    const mappedRDD = this.mapped.getOrCompute(time);
    if (!mappedRDD) return undefined;
    return new RDD<[K, S]>(
      this.op.partitioner.numPartitions,
      (p, emit) => {
        mappedRDD.partition(p);
        this.op.snapshot(this.mapped, time, p, emit);
      },
      self.env.rddEnv,
      this.op.partitioner,
      undefined,
      oneToOne(mappedRDD),
    );
  }
}
