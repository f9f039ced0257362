/** The batch times `first, first + step, …, last` (`last` is one of them). */
export type TimeRange = [first: number, last: number, step: number];

/** One operator of the graph, as a checkpoint records it. */
export interface OperatorRecord {
  id: string;
  kind: string;
  stateful: boolean;
}

/** Where one stateful operator's state is in a checkpoint. */
export interface StateRecord {
  kind: string;
  version: number;
  /** Every state file of the operator (of all partitions). */
  files: string[];
  /**
   * The files of each partition, its full snapshot first, then deltas (format version 3: one file per operator
   * and partition). Absent in checkpoints written before: then each of `files` holds every partition.
   */
  partitionFiles?: string[][];
  /** Partitions of its files. */
  numPartitions?: number;
  /** Key groups its keys were partitioned by. */
  maxParallelism?: number;
}

/**
 * A metadata checkpoint (Spark's Checkpoint): the configuration, the graph's operators, the batches generated and
 * completed, what each input gave each batch still needed, and where each stateful operator's state is.
 */
export interface MetadataCheckpoint {
  appName: string;
  batchDuration: number;
  zeroTime: number;
  /** The latest batch time generated. */
  checkpointTime: number;
  /** The latest batch whose outputs all ran and whose state is committed. */
  completedTime: number | undefined;
  /**
   * Batches generated but not completed, as ranges: a day of down time is one range, so the file does not grow
   * with the number of batches pending. Absent in files written by spate 0.1.0, which have `pendingTimes`.
   */
  pending?: TimeRange[];
  /** spate 0.1.0: the batches generated but not completed, as a list (read, never written any more). */
  pendingTimes?: number[];
  operators: OperatorRecord[];
  /** Input logs by input stream id. */
  inputs: Record<string, unknown>;
  /**
   * State by operator id: the batch time it is at, its files (a full snapshot, then deltas), and how those files
   * are partitioned (absent in checkpoints written before key groups: then the files tell the partition count).
   */
  state: Record<string, StateRecord>;
  /** `spate.state.maxParallelism` since the first start (absent in checkpoints written before key groups). */
  maxParallelism?: number;
  /** Wall-clock time of writing, for people reading `checkpoint inspect`. */
  writtenAt: number;
}

const pad = (t: number) => String(t).padStart(16, "0");
const EPOCH = /-e(\d{10})-\d{16}(?:-[01]|\.full|\.delta)$/;

/**
 * Metadata files sort by name in the order they were written: owner epoch, batch time, then phase (0 started,
 * 1 completed). The epoch is the fencing token of the context that owned the location when it wrote the file
 * (see CheckpointLease): a file of an earlier owner never sorts after one of a later owner, whatever its batch
 * time. Names without an epoch (spate 0.1.0, or a store without records) sort before every name with one.
 */
export function metadataName(time: number, phase: 0 | 1, epoch?: number): string {
  return epoch === undefined
    ? `metadata-${pad(time)}-${phase}`
    : `metadata-e${padEpoch(epoch)}-${pad(time)}-${phase}`;
}

export function isMetadataName(name: string): boolean {
  return /^metadata-(?:e\d{10}-)?\d{16}-[01]$/.test(name);
}

/**
 * State files carry their writer's epoch too, so that two owners never write a file of the same name. With a
 * `partition` (format version 3), the file holds that partition only; without (earlier versions), every partition.
 */
export function stateFileName(
  operatorId: string,
  time: number,
  mode: "full" | "delta",
  epoch?: number,
  partition?: number,
): string {
  const owner = epoch === undefined ? "" : `e${padEpoch(epoch)}-`;
  const part = partition === undefined ? "" : `p${partition}-`;
  return `state-${encodeURIComponent(operatorId)}-${part}${owner}${pad(time)}.${mode}`;
}

/** The owner epoch in a metadata or state file's name, if it has one. */
export function epochOfName(name: string): number | undefined {
  const m = EPOCH.exec(name);
  return m && (name.startsWith("metadata-") || name.startsWith("state-")) ? Number(m[1]) : undefined;
}

function padEpoch(epoch: number): string {
  return String(epoch).padStart(10, "0");
}

/** Appends `time` to ranges of step `step`, extending the last range when `time` follows it. */
export function appendTime(ranges: TimeRange[], time: number, step: number): void {
  const last = ranges.at(-1);
  if (last && last[2] === step && last[1] + step === time) last[1] = time;
  else ranges.push([time, time, step]);
}

/** Appends the range `[first, last, step]`, merged into the last one when it follows it. */
export function appendRange(ranges: TimeRange[], first: number, last: number, step: number): void {
  const prev = ranges.at(-1);
  if (prev && prev[2] === step && prev[1] + step === first) prev[1] = last;
  else ranges.push([first, last, step]);
}

/** How many batch times the ranges hold. */
export function countTimes(ranges: readonly TimeRange[]): number {
  let n = 0;
  for (const [first, last, step] of ranges) n += Math.floor((last - first) / step) + 1;
  return n;
}

/** The ranges without `time` (a range holding it is split). */
export function withoutTime(ranges: readonly TimeRange[], time: number): TimeRange[] {
  const out: TimeRange[] = [];
  for (const [first, last, step] of ranges) {
    const holds = time >= first && time <= last && (time - first) % step === 0;
    if (!holds) out.push([first, last, step]);
    else {
      if (time > first) out.push([first, time - step, step]);
      if (time < last) out.push([time + step, last, step]);
    }
  }
  return out;
}

/** The batches a metadata checkpoint records as pending, as ranges, whichever build wrote it. */
export function pendingOf(metadata: MetadataCheckpoint): TimeRange[] {
  if (metadata.pending) return metadata.pending;
  const ranges: TimeRange[] = [];
  for (const t of metadata.pendingTimes ?? []) appendTime(ranges, t, metadata.batchDuration);
  return ranges;
}
