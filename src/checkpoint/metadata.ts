/** One operator of the graph, as a checkpoint records it. */
export interface OperatorRecord {
  id: string;
  kind: string;
  stateful: boolean;
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
  /** Batches generated but not completed. */
  pendingTimes: number[];
  operators: OperatorRecord[];
  /** Input logs by input stream id. */
  inputs: Record<string, unknown>;
  /** State by operator id: the batch time it is at and its files (a full snapshot, then deltas). */
  state: Record<string, { kind: string; version: number; files: string[] }>;
  /** Wall-clock time of writing, for people reading `checkpoint inspect`. */
  writtenAt: number;
}

const pad = (t: number) => String(t).padStart(16, "0");

/** Metadata files sort by name in the order they were written: batch time, then phase (0 started, 1 completed). */
export function metadataName(time: number, phase: 0 | 1): string {
  return `metadata-${pad(time)}-${phase}`;
}

export function isMetadataName(name: string): boolean {
  return /^metadata-\d{16}-[01]$/.test(name);
}

export function stateFileName(operatorId: string, time: number, mode: "full" | "delta"): string {
  return `state-${encodeURIComponent(operatorId)}-${pad(time)}.${mode}`;
}
