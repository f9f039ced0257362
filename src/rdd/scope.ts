import { AsyncLocalStorage } from "node:async_hooks";

/** An operator as errors and logs name it: its stable id, and `kind at file:line (id)` (Spark's callSite). */
export interface OperatorScope {
  readonly id: string;
  readonly name: string;
}

/** Code that runs on behalf of no operator (an RDD built by hand). */
export const DRIVER: OperatorScope = { id: "driver", name: "driver" };

/**
 * The operator on whose behalf code runs: set while a DStream computes its RDD for a batch and while an output
 * operation runs, so that a user function that throws is attributed to the operator that owns it.
 */
const storage = new AsyncLocalStorage<{ operator: OperatorScope; batchTime: number | undefined }>();

export function currentOperator(): OperatorScope | undefined {
  return storage.getStore()?.operator;
}

/** The batch whose RDD is computed now, if any (a record dropped under `skip` is counted in it). */
export function currentBatchTime(): number | undefined {
  return storage.getStore()?.batchTime;
}

export function runAs<R>(operator: OperatorScope, batchTime: number | undefined, fn: () => R): R {
  return storage.run({ operator, batchTime }, fn);
}
