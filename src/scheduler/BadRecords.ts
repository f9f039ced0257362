import * as path from "node:path";
import type { UserFunctionError } from "../errors.js";
import { writeFileDurably } from "../io/durable.js";
import type { Logger } from "../log.js";
import type { RecordFailurePolicy, RecordFailureSink } from "../rdd/failures.js";
import { formatRecord } from "../rdd/keys.js";
import type { OperatorScope } from "../rdd/scope.js";

const PREVIEW = 200;

/** The dead-letter file of one batch: one JSON object a line, named so that files sort by batch time. */
export function deadLetterFileName(batchTime: number): string {
  return `batch-${String(batchTime).padStart(16, "0")}.jsonl`;
}

function recordJson(record: unknown): { record: unknown } | { recordText: string } {
  try {
    const text = JSON.stringify(record, (_k, v) => (typeof v === "bigint" ? `${v}` : v));
    if (text !== undefined) return { record: JSON.parse(text) };
  } catch {
    // a cycle, or a toJSON that throws: the record's text form below
  }
  return { recordText: formatRecord(record) };
}

/**
 * The records a batch dropped under `spate.errors.onRecordFailure` "skip" or "deadLetter" (Kafka Streams'
 * LogAndContinue handler): each is counted by operator and logged with the batch time, the operator's name and
 * call site and the error; under "deadLetter" the batch's records and errors are written, before the batch
 * counts as complete, to one file of the dead-letter folder per batch. The file of a batch is replaced whole, so a
 * batch run again after a crash writes the same file once more, never a second copy of its lines.
 */
export class BadRecords implements RecordFailureSink {
  /** By batch time: records dropped by operator id, and the dead letters. */
  private readonly batches = new Map<number, { counts: Map<string, number>; letters: string[] }>();
  /** Where "deadLetter" writes; set when the context starts. */
  deadLetterDir: string | undefined;

  constructor(
    readonly policy: RecordFailurePolicy,
    private readonly log: Logger,
  ) {}

  drop(
    operator: OperatorScope,
    batchTime: number | undefined,
    error: UserFunctionError,
    record: unknown,
  ): void {
    let batch = batchTime === undefined ? undefined : this.batches.get(batchTime);
    if (batchTime !== undefined && batch === undefined) {
      batch = { counts: new Map(), letters: [] };
      this.batches.set(batchTime, batch);
    }
    batch?.counts.set(operator.id, (batch.counts.get(operator.id) ?? 0) + 1);
    const cause = error.cause;
    const text = formatRecord(record);
    this.log.warn(
      {
        batchTime,
        operatorId: operator.id,
        operator: operator.name,
        record: text.length > PREVIEW ? `${text.slice(0, PREVIEW)}…` : text,
        error: cause,
      },
      `record dropped: the function of ${operator.name} threw (spate.errors.onRecordFailure is ${this.policy})`,
    );
    if (this.policy !== "deadLetter" || batch === undefined) return;
    batch.letters.push(
      JSON.stringify({
        batchTime,
        operatorId: operator.id,
        operator: operator.name,
        error:
          cause instanceof Error
            ? { name: cause.name, message: cause.message }
            : { name: typeof cause, message: String(cause) },
        ...recordJson(record),
      }),
    );
  }

  /**
   * Ends the batch: writes its dead letters durably (before the batch is checkpointed as complete) and returns the
   * records dropped by operator id, or undefined when none were.
   */
  async end(time: number): Promise<Record<string, number> | undefined> {
    const batch = this.batches.get(time);
    // Records of this or earlier batches computed again later (an RDD read again by a window) are not kept.
    for (const t of this.batches.keys()) if (t <= time) this.batches.delete(t);
    if (batch === undefined) return undefined;
    if (batch.letters.length > 0 && this.deadLetterDir !== undefined) {
      await writeFileDurably(
        path.join(this.deadLetterDir, deadLetterFileName(time)),
        `${batch.letters.join("\n")}\n`,
      );
    }
    return Object.fromEntries(batch.counts);
  }

  /** Forgets what a failed batch dropped (it runs again, and drops them again, after a restart). */
  discard(time: number): void {
    this.batches.delete(time);
  }
}
