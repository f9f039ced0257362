import { asyncResult, InvalidArgumentError, isThenable } from "../errors.js";
import { RDD } from "../rdd/RDD.js";
import type { GraphNode, Operator } from "./Operator.js";

/** `transform`, `transformWith` and `ssc.transform`: a user function of the parents' RDDs and the batch time. */
export class TransformedOp<T> implements Operator<T> {
  readonly kind = "transform";

  constructor(
    readonly parents: readonly GraphNode<any>[],
    private readonly fn: (rdds: RDD<any>[], time: number) => RDD<T>,
  ) {
    const slides = new Set(parents.map((p) => p.slideDuration));
    if (parents.length === 0) throw new InvalidArgumentError("transform needs at least one stream.");
    if (slides.size > 1) {
      throw new InvalidArgumentError(
        `transform needs streams with the same slide duration (got ${[...slides].join(", ")} ms); window them first.`,
      );
    }
  }

  get slideDuration(): number {
    return this.parents[0]!.slideDuration;
  }

  compute(time: number, self: GraphNode<T>): RDD<T> | undefined {
    const rdds = this.parents.map((p) => p.getOrCompute(time) ?? RDD.empty(self.env.rddEnv));
    const out = this.fn(rdds, time);
    if (isThenable(out)) throw asyncResult(self, "transform function", out);
    if (!(out instanceof RDD)) {
      throw new InvalidArgumentError(
        `The function of transform must return an RDD (got ${out === null ? "null" : typeof out}); return e.g. rdd.map(...).`,
      );
    }
    return out;
  }
}
