import { RDD } from "../rdd/RDD.js";
import type { GraphNode, Operator } from "./Operator.js";

/** What `queueStream` reads from: an array of batches, or anything with `shift()` and `length`. */
export interface Queue<T> {
  /** Takes the next batch out of the queue. */
  shift(): T | undefined;
  readonly length: number;
}

/** `queueStream`: one queued array per batch (or all of them), Spark's QueueInputDStream. */
export class QueueInputOp<T> implements Operator<T> {
  readonly kind = "queueStream";
  readonly parents: readonly GraphNode<any>[] = [];
  readonly input = true;

  constructor(
    readonly slideDuration: number,
    private readonly queue: Queue<T[]>,
    private readonly oneAtATime: boolean,
    private readonly defaultRDD: T[] | undefined,
  ) {}

  compute(_time: number, self: GraphNode<T>): RDD<T> {
    let records: T[] | undefined;
    if (this.oneAtATime) {
      records = this.queue.length > 0 ? this.queue.shift() : undefined;
    } else if (this.queue.length > 0) {
      records = [];
      while (this.queue.length > 0) records.push(...(this.queue.shift() ?? []));
    }
    const env = self.env.rddEnv;
    return RDD.parallelize(records ?? this.defaultRDD ?? [], env.defaultParallelism ?? 1, env);
  }
}
