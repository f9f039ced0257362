import { RDD } from "../rdd/RDD.js";
import { requireMultiple } from "../time.js";
import type { GraphNode, Operator } from "./Operator.js";

/** All records of the parent's batches in `(t - window, t]`, at every slide (Spark's WindowedDStream). */
export class WindowedOp<T> implements Operator<T> {
  readonly kind = "window";
  readonly parents: readonly GraphNode<any>[];
  readonly slideDuration: number;
  readonly parentRememberExtra: number;

  constructor(
    private readonly parent: GraphNode<T>,
    readonly windowDuration: number,
    slideDuration: number,
  ) {
    requireMultiple(
      "The window duration",
      windowDuration,
      "the parent's slide duration",
      parent.slideDuration,
    );
    requireMultiple("The slide duration", slideDuration, "the parent's slide duration", parent.slideDuration);
    this.parents = [parent];
    this.slideDuration = slideDuration;
    this.parentRememberExtra = windowDuration;
    // The parent's batches are read again by later windows: keep them computed once.
    parent.persist();
  }

  compute(time: number, self: GraphNode<T>): RDD<T> {
    const rdds = this.parent.slice(time - this.windowDuration + this.parent.slideDuration, time);
    return RDD.union(rdds, self.env.rddEnv);
  }
}
