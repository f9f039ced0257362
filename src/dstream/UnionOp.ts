import { InvalidArgumentError } from "../errors.js";
import { RDD } from "../rdd/RDD.js";
import type { GraphNode, Operator } from "./Operator.js";

/** The union of streams with the same slide duration. */
export class UnionOp<T> implements Operator<T> {
  readonly kind = "union";

  constructor(readonly parents: readonly GraphNode<T>[]) {
    if (parents.length === 0) throw new InvalidArgumentError("union needs at least one stream.");
    const slides = new Set(parents.map((p) => p.slideDuration));
    if (slides.size > 1) {
      throw new InvalidArgumentError(
        `union needs streams with the same slide duration (got ${[...slides].join(", ")} ms); window them first.`,
      );
    }
  }

  get slideDuration(): number {
    return this.parents[0]!.slideDuration;
  }

  compute(time: number, self: GraphNode<T>): RDD<T> | undefined {
    const rdds: RDD<T>[] = [];
    for (const p of this.parents) {
      const rdd = p.getOrCompute(time);
      if (rdd) rdds.push(rdd);
    }
    return RDD.union(rdds, self.env.rddEnv);
  }
}
