import type { RDD } from "../rdd/RDD.js";
import type { GraphNode, Operator } from "./Operator.js";

/**
 * A stream whose RDD is a function of its parent's RDD for the same batch: map, filter, flatMap, mapValues,
 * reduceByKey, … (each of Spark's one-parent DStreams, told apart by `kind`).
 */
export class MappedOp<T, U> implements Operator<U> {
  readonly parents: readonly GraphNode<any>[];

  constructor(
    readonly kind: string,
    private readonly parent: GraphNode<T>,
    private readonly fn: (rdd: RDD<T>) => RDD<U>,
  ) {
    this.parents = [parent];
  }

  get slideDuration(): number {
    return this.parent.slideDuration;
  }

  compute(time: number): RDD<U> | undefined {
    const rdd = this.parent.getOrCompute(time);
    return rdd && this.fn(rdd);
  }
}
