import { attribute, UserFunctionError } from "../errors.js";
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
