import { asyncResult, attribute, isThenable, UserFunctionError } from "../errors.js";
import { currentBatchTime, type OperatorScope } from "./scope.js";

/** `spate.errors.onRecordFailure`: what happens to a record whose per-record user function throws. */
export type RecordFailurePolicy = "fail" | "skip" | "deadLetter";

/** Where records dropped under `skip` or `deadLetter` go (the context's, for the batch that runs). */
export interface RecordFailureSink {
  readonly policy: RecordFailurePolicy;
  /** Counts, logs and (for `deadLetter`) keeps `record`, which `error` (naming `operator`) was thrown on. */
  drop(
    operator: OperatorScope,
    batchTime: number | undefined,
    error: UserFunctionError,
    record: unknown,
  ): void;
}

/**
 * What a per-record `catch` calls with the error and the record: throws the error attributed to `operator` (policy
 * `fail`, or anything that is not the user function's own error), or hands the record to the sink and returns, so
 * that the caller drops it and goes on. Built once per RDD, so the per-record path is a plain call.
 *
 * An RDD that is not persisted is computed again by each of its readers (several outputs, a window over past
 * batches): `position` (the partition and the failure's rank in it) lets a record dropped by one computation
 * be dropped silently by the next, so that it is counted, logged and dead-lettered once.
 */
export type RecordFailureHandler = (error: unknown, record: unknown, position?: string) => void;

export function recordFailureHandler(
  sink: RecordFailureSink | undefined,
  operator: OperatorScope,
  batchTime: number | undefined = currentBatchTime(),
): RecordFailureHandler {
  if (sink === undefined || sink.policy === "fail") {
    return (error) => {
      throw attribute(operator, error);
    };
  }
  const seen = new Set<string>();
  return (e, record, position) => {
    const error = attribute(operator, e);
    if (!(error instanceof UserFunctionError)) throw error;
    if (position !== undefined) {
      if (seen.has(position)) return;
      seen.add(position);
    }
    sink.drop(operator, batchTime, error, record);
  };
}

/** What a guarded per-record function returns for a record it threw on and the policy dropped. */
export const DROPPED: unique symbol = Symbol("dropped");

/** A guarded per-record function: `fn(arg)`, or {@link DROPPED}; `record` is what a dropped record reports. */
export type Guarded<A, R> = (arg: A, record: unknown) => R | typeof DROPPED;

/**
 * The one place where a per-record user function's failures are handled: `guard(fn, …)(p)` gives, for partition
 * `p`, a function that calls `fn`, hands a record it throws on to `failed` (which throws the attributed error, or
 * drops the record and lets the loop go on: {@link DROPPED}), and fails the batch with an AsyncFunctionError when
 * `fn` returned a Promise (it runs synchronously). Built once per partition, so
 * that the loop over records calls one small function V8 inlines.
 */
export function guard<A, R>(
  fn: (arg: A) => R,
  operator: OperatorScope,
  kind: string,
  failed: RecordFailureHandler,
): (p: number) => Guarded<A, R> {
  return (p) => {
    let failures = 0;
    return (arg, record) => {
      let r: R;
      try {
        r = fn(arg);
      } catch (e) {
        failed(e, record, `${p}:${failures++}`);
        return DROPPED;
      }
      // Inline checks keep the call off the path of primitive and array (pair) results.
      if (typeof r === "object" && r !== null && !Array.isArray(r) && isThenable(r))
        throw asyncResult(operator, kind, r);
      return r;
    };
  };
}

/**
 * `fn` with what it throws attributed to `operator`, and a Promise it returns failing the batch: for functions
 * called once per partition or per action (mapPartitions, reduce), where a failure fails the batch.
 */
export function attributed<A, B, R>(
  fn: (a: A, b: B) => R,
  operator: OperatorScope,
  kind: string,
): (a: A, b: B) => R {
  return (a, b) => {
    let r: R;
    try {
      r = fn(a, b);
    } catch (e) {
      throw attribute(operator, e);
    }
    if (typeof r === "object" && r !== null && !Array.isArray(r) && isThenable(r))
      throw asyncResult(operator, kind, r);
    return r;
  };
}
