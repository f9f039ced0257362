import { SETTINGS } from "../config.js";
import { InvalidArgumentError, SpateError } from "../errors.js";
import type { Logger } from "../log.js";
import { CheckpointLease } from "./CheckpointLease.js";
import type { CheckpointStore } from "./CheckpointStore.js";
import { encodeCheckpointFile } from "./format.js";
import { countTimes, type MetadataCheckpoint, metadataName, pendingOf, withoutTime } from "./metadata.js";
import { readNewestCheckpoint } from "./recovery.js";

/** What skipping a batch drops: per input stream, the input the batch was given. */
export interface SkipBatchPlan {
  location: string;
  batchTime: number;
  /** The checkpoint the skip is written over. */
  checkpoint: string;
  /** How many batches are still to run after the skipped one. */
  pendingAfter: number;
  inputs: Array<{ streamId: string; kind: string; dropped: number; unit: string; items: string[] }>;
}

/**
 * Empties one batch's allocation in an input log, in place. Every replayable input (files, receivers with the
 * write-ahead log, NATS JetStream) records `batches` as `[batch time, …]` tuples: `[t, names or blocks]` or
 * `[t, first sequence, last sequence, messages]`. What the input reads next (remembered files, the blocks or
 * sequences allocated so far) is recorded apart, so the dropped input is never given to another batch.
 */
function dropAllocation(
  log: unknown,
  time: number,
): { dropped: number; unit: string; items: string[] } | undefined {
  const batches = (log as { batches?: unknown } | null)?.batches;
  if (!Array.isArray(batches)) return undefined;
  const i = batches.findIndex((b) => Array.isArray(b) && b[0] === time);
  if (i < 0) return undefined;
  const entry = batches[i] as unknown[];
  if (entry.length === 2 && Array.isArray(entry[1])) {
    const given = entry[1] as unknown[];
    batches[i] = [time, []];
    const files = given.every((g) => typeof g === "string");
    return {
      dropped: given.length,
      unit: files ? "files" : "blocks",
      items: files ? (given as string[]) : given.map((g) => JSON.stringify(g)),
    };
  }
  if (entry.length === 4 && entry.every((x) => typeof x === "number")) {
    const [, from, to, count] = entry as number[];
    batches[i] = [time, 0, 0, 0];
    return { dropped: count!, unit: "messages", items: count ? [`sequences ${from} to ${to}`] : [] };
  }
  throw new SpateError(
    "SPATE_CHECKPOINT_CORRUPT",
    `The input log of batch ${time} has a form this build does not know (${JSON.stringify(entry).slice(0, 80)}); ` +
      "skip the batch with the spate version that wrote the checkpoint.",
  );
}

/**
 * `spate checkpoint skip-batch`: records a batch that fails for good (a poison record under
 * `spate.errors.onRecordFailure` "fail") as completed with its input dropped, so that a restart goes on with the
 * next batch. Written as an owner of the location (its lease, and a metadata checkpoint named with its epoch, which
 * sorts after every earlier owner's), so it refuses while a job runs on the folder (SPATE_CHECKPOINT_LOCKED).
 * State is untouched: it is at the batch before, and a restart replays the skipped batch into it with no input.
 * Returns the plan, and whether `confirm` let it be written.
 */
export async function skipBatch(
  store: CheckpointStore,
  batchTime: number,
  options: { log: Logger; confirm: (plan: SkipBatchPlan) => Promise<boolean> },
): Promise<{ plan: SkipBatchPlan; written: string | undefined }> {
  const lease = await CheckpointLease.acquire(store, {
    appName: "spate checkpoint skip-batch",
    lockTimeout: SETTINGS["spate.checkpoint.lockTimeout"].default,
    log: options.log,
  });
  try {
    const restored = await readNewestCheckpoint(store, options.log);
    if (!restored) {
      throw new InvalidArgumentError(`There is no checkpoint in ${store.location}: no batch to skip.`);
    }
    const md = restored.metadata;
    const ranges = pendingOf(md);
    const holds = ranges.some(
      ([first, last, step]) => batchTime >= first && batchTime <= last && (batchTime - first) % step === 0,
    );
    const next = ranges.length === 0 ? undefined : Math.min(...ranges.map((r) => r[0]));
    const shown = ranges.map(([f, l, st]) => (f === l ? `${f}` : `${f} to ${l} every ${st} ms`)).join(", ");
    if (!holds) {
      throw new InvalidArgumentError(
        `Batch ${batchTime} is not pending in the checkpoint ${restored.name} of ${store.location} ` +
          `(last completed batch: ${md.completedTime ?? "none"}; pending: ${shown || "none"}). ` +
          "Give the time of the batch that fails, as its error says (Batch <time> failed).",
      );
    }
    if (next !== batchTime) {
      throw new InvalidArgumentError(
        `Batch ${batchTime} is not the next batch to run: ${next} runs before it. Skip ${next} first, ` +
          "or restart the job to see which batch fails.",
      );
    }
    const inputs = structuredClone(md.inputs);
    const kinds = new Map(md.operators.map((o) => [o.id, o.kind]));
    const plan: SkipBatchPlan = {
      location: store.location,
      batchTime,
      checkpoint: restored.name,
      pendingAfter: countTimes(ranges) - 1,
      inputs: [],
    };
    for (const [streamId, log] of Object.entries(inputs)) {
      const dropped = dropAllocation(log, batchTime);
      if (dropped) plan.inputs.push({ streamId, kind: kinds.get(streamId) ?? "input", ...dropped });
    }
    if (!(await options.confirm(plan))) return { plan, written: undefined };
    const { pendingTimes: _old, ...current } = md;
    const skipped: MetadataCheckpoint = {
      ...current,
      completedTime: batchTime,
      pending: withoutTime(ranges, batchTime),
      inputs,
      writtenAt: Date.now(),
    };
    const name = metadataName(batchTime, 1, lease?.epoch);
    await lease?.check();
    await store.write(name, encodeCheckpointFile("metadata", skipped));
    options.log.warn(
      { location: store.location, batchTime, checkpoint: name, inputs: plan.inputs.map((i) => i.streamId) },
      "batch skipped: recorded complete with its input dropped",
    );
    return { plan, written: name };
  } finally {
    await lease?.release();
  }
}
