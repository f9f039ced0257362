import { AsyncLocalStorage } from "node:async_hooks";

/**
 * The operator on whose behalf code runs: set while a DStream computes its RDD for a batch and while an output
 * operation runs, so that a user function that throws is attributed to the operator that owns it.
 */
const storage = new AsyncLocalStorage<string>();

export function currentOperator(): string | undefined {
  return storage.getStore();
}

export function runAs<R>(operatorId: string, fn: () => R): R {
  return storage.run(operatorId, fn);
}
