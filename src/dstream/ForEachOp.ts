import type { RDD } from "../rdd/RDD.js";
import type { OperatorScope } from "../rdd/scope.js";
import type { GraphNode, Operator } from "./Operator.js";

/** A job of one output operation for one batch. */
export interface Job {
  readonly time: number;
  readonly outputId: string;
  /** The output operation's name in logs and the UI: the one given to foreachRDD, or its kind. */
  readonly name: string;
  /** The output operation, as errors and logs name it. */
  readonly output: OperatorScope;
  run(): Promise<void>;
}

/** An output operation (Spark's ForEachDStream): runs a function on the parent's RDD of each batch. */
export class ForEachOp<T> implements Operator<T> {
  readonly parents: readonly GraphNode<any>[];

  constructor(
    readonly kind: string,
    private readonly parent: GraphNode<T>,
    private readonly fn: (rdd: RDD<T>, time: number) => void | Promise<void>,
    /** The name given by the user (`foreachRDD(fn, { name })`); the kind when none. */
    readonly name: string = kind,
  ) {
    this.parents = [parent];
  }

  get slideDuration(): number {
    return this.parent.slideDuration;
  }

  compute(time: number): RDD<T> | undefined {
    return this.parent.getOrCompute(time);
  }

  generateJob(time: number, self: GraphNode<T>): Job | undefined {
    const rdd = self.getOrCompute(time);
    if (!rdd) return undefined;
    const fn = this.fn;
    return { time, outputId: self.id, name: this.name, output: self, run: async () => fn(rdd, time) };
  }
}
