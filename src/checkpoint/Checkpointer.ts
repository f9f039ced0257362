import type { SpateConf } from "../config.js";
import { StateNotSerializableError } from "../errors.js";
import type { DStreamGraph, GraphStream } from "../graph/DStreamGraph.js";
import type { Logger } from "../log.js";
import { DEFAULT_MAX_PARALLELISM, type StatePartitioning, samePartitioning } from "../rdd/Partitioner.js";
import type { ListenerBus } from "../scheduler/StreamingListener.js";
import type { CheckpointLease } from "./CheckpointLease.js";
import type { CheckpointStore } from "./CheckpointStore.js";
import { type ClassRegistry, findUnrestorable } from "./classes.js";
import { encodeCheckpointFile } from "./format.js";
import {
  type MetadataCheckpoint,
  metadataName,
  type OperatorRecord,
  stateFileName,
  type TimeRange,
  withoutTime,
} from "./metadata.js";

/** Where one stateful operator's state stands in the checkpoint. */
interface StateChain {
  version: number;
  /** Every file of the chain. */
  files: string[];
  /**
   * The files of each partition, full snapshot first, then deltas (an empty list: the partition holds nothing);
   * undefined for a chain restored from files holding every partition (format versions 1 and 2), which the next
   * data checkpoint replaces by a full one.
   */
  partitionFiles: string[][] | undefined;
  /** Deltas since the last full snapshot. */
  deltas: number;
  /** How its files are partitioned; undefined for files written before key groups. */
  partitioning: StatePartitioning | undefined;
}

const TEN_SECONDS = 10_000;
/** While batches are queued, a batch that needs no metadata checkpoint of its own waits at most this long for one. */
const COALESCE_MS = 1000;

/** A stateful stream's data checkpoint interval: its own, the setting, or Spark's default (>= 10 s). */
export function checkpointIntervalOf(stream: GraphStream, conf: SpateConf): number {
  const slide = stream.slideDuration;
  const own = stream.checkpointInterval ?? conf.getNumber("spate.checkpoint.interval");
  if (own !== undefined) return Math.max(slide, Math.ceil(own / slide) * slide);
  return slide * Math.ceil(TEN_SECONDS / slide);
}

/** The data checkpoints written after one batch. */
export interface DataCheckpointSummary {
  files: number;
  bytes: number;
  ms: number;
}

/*
 * Fencing. A context that lost its lease (it paused past spate.checkpoint.lockTimeout and another one took over)
 * must not write a checkpoint that the new owner, or a later restart, could take for the newest. Checking the
 * lease before each write (free while the last renewal is recent, one small read of the owner record otherwise:
 * CheckpointLease.check) stops it at its next write, but not in the window between the check and the write, and
 * a process can pause in that window as anywhere else; a file store has no conditional write of a whole file to
 * close it (an object store's or NATS KV's could, at the cost of a round trip per file). So the window
 * is made harmless instead: every file name carries the writer's epoch (one more than every earlier owner's), and
 * recovery orders metadata by epoch before batch time. A late write of a fenced owner therefore has a name no
 * newer owner uses (nothing of the new owner is overwritten) and sorts before every metadata file of the new
 * owner. Until the new owner wrote its first one, such a late file can be the newest: it is then a complete
 * checkpoint of the old owner's own progress (its state files are written before it, under its epoch), which the
 * new owner has not touched yet, so a restart from it is still exact. The one deletion a fenced owner may still
 * make in that window (retention, after its last write) drops only files older than the checkpoint the new owner
 * restored from, which the old owner's newer retained checkpoints still need.
 */
/**
 * Writes checkpoints as batches run (Spark's CheckpointWriter and DoCheckpoint): a metadata checkpoint before a
 * batch's outputs run (recording its input, so a re-run reads the same) and after it completes; data checkpoints
 * of every stateful operator at its interval, as deltas with a full snapshot every so often; then deletes what no
 * retained checkpoint needs. State files are written before the metadata that points at them.
 *
 * A metadata checkpoint costs the same however many batches are pending: pending batches are ranges, and input
 * logs list only batches that got input (see `InputLog`). Metadata writes that would record nothing new are
 * skipped, so that catching up a day of empty batches does not pay two fsyncs per batch:
 *
 * - Before a batch (phase 0), the write is needed only if some batch was generated (its input allocated) since the
 *   last metadata checkpoint on disk. Allocation happens once per batch time, in time order, when the batch is
 *   generated, and is never redone in a process. Every metadata write saves the input logs and reads the pending
 *   batches in one synchronous step, so the file holds the allocation of every batch up to the latest one
 *   generated then; `recordedThrough` is that time, set only once the write is durable (batches run one at a time
 *   and these hooks are awaited, so no two writes overlap). If no batch was generated since, this batch's
 *   allocation is on disk already: after a crash it is read back and the batch re-runs with the same input. The
 *   batches of a down time are all allocated at the restart (the first takes what arrived meanwhile, the rest
 *   nothing), so the first of them writes and the rest skip; a live batch generated meanwhile makes the next one
 *   write again.
 * - After a batch (phase 1), the write records it complete. It is written when the batch wrote data checkpoints,
 *   read input, or is the last one queued (a job keeping up writes it every batch, as before), and otherwise at
 *   least once a second while batches are queued. Skipping it is exact: a batch not recorded complete runs again
 *   after a crash, with the input recorded for it, from state restored from the last data checkpoint on disk and
 *   replayed from recorded input, which is Spark's contract for every batch not recorded complete (state exactly
 *   once, outputs at least once). The once-a-second write bounds what runs again to about a second of catching up.
 * - Nothing else changes between the metadata of two batches: the state chains change only when a data checkpoint
 *   is written, and then the metadata is written too.
 * - Skipping a data checkpoint is always exact: a recovery restores the previous one and replays the batches since
 *   from their recorded input (input logs keep the input of every batch from the oldest state version recorded),
 *   and the changes since stay in the next delta. So a delta with nothing in it (no key changed) is not written,
 *   and while batches are queued an operator writes at most one data checkpoint a second: catching up a day of
 *   1 s batches writes about one state file per operator per second of catching up, not 8,640.
 */
export class Checkpointer {
  private readonly chains = new Map<string, StateChain>();
  /** Metadata files written or found, oldest first, with the state files each one needs. */
  private readonly retained: Array<{ name: string; files: string[] }> = [];
  private completed: number | undefined;
  private readonly retain: number;
  private readonly fullEvery: number;
  /** The latest batch generated when the last metadata checkpoint on disk was written: its input is recorded. */
  private recordedThrough: number | undefined;
  /** When (performance.now) the last metadata checkpoint was written. */
  private lastWrite = Number.NEGATIVE_INFINITY;
  /** When (performance.now) each operator's last data checkpoint was written. */
  private readonly lastData = new Map<string, number>();
  /** Operators whose due data checkpoint was skipped while catching up. */
  private readonly skippedData = new Set<string>();
  private readonly maxParallelism: number;

  constructor(
    readonly store: CheckpointStore,
    private readonly graph: DStreamGraph,
    private readonly conf: SpateConf,
    private readonly appName: string,
    private readonly batchDuration: number,
    private readonly log: Logger,
    private readonly bus: ListenerBus,
    /** The ownership of the location, when the store supports it: checked before each write, epoch in names. */
    private readonly lease?: CheckpointLease,
    private readonly classes?: ClassRegistry,
  ) {
    this.retain = conf.getNumber("spate.checkpoint.retain") ?? 10;
    this.fullEvery = conf.getNumber("spate.checkpoint.fullSnapshotEvery") ?? 10;
    this.maxParallelism = conf.getNumber("spate.state.maxParallelism") ?? DEFAULT_MAX_PARALLELISM;
  }

  /** Continues from a restored checkpoint: its state chains and completed batch. */
  resume(metadata: MetadataCheckpoint, name: string, restored: ReadonlyMap<string, number>): void {
    this.completed = metadata.completedTime;
    for (const [id, s] of Object.entries(metadata.state)) {
      if (!restored.has(id)) continue;
      const partitioning =
        s.numPartitions === undefined
          ? undefined
          : { numPartitions: s.numPartitions, maxParallelism: s.maxParallelism };
      const now = this.graph.streams.find((x) => x.id === id)?.op.checkpointState?.partitioning;
      // State restored into another partitioning: deltas of the new stores cannot follow the old files.
      const rescaled = !partitioning || !now || !samePartitioning(partitioning, now);
      const partitionFiles = s.partitionFiles?.map((files) => [...files]);
      this.chains.set(id, {
        version: s.version,
        files: s.files,
        partitionFiles,
        // Files of a format that held every partition in one: the next data checkpoint is a full one.
        deltas:
          rescaled || !partitionFiles
            ? this.fullEvery
            : Math.max(0, ...partitionFiles.map((f) => f.length - 1)),
        partitioning,
      });
    }
    this.retained.push({ name, files: Object.values(metadata.state).flatMap((s) => s.files) });
  }

  get lastCompleted(): number | undefined {
    return this.completed;
  }

  /**
   * Records a batch's input before any of its outputs runs, unless a metadata checkpoint on disk has it already.
   * `pending` gives the batches generated and not completed, this one first.
   */
  async beforeBatch(time: number, pending: () => TimeRange[]): Promise<void> {
    if (this.recordedThrough !== undefined && latestOf(time, pending()) <= this.recordedThrough) return;
    await this.writeMetadata(time, 0, pending);
  }

  /**
   * Before a batch's outputs run: every key and state its stateful operators stored must come back from a
   * checkpoint as it is; if one would not, the batch fails with SPATE_STATE_NOT_SERIALIZABLE (and rolls back).
   * Only what the batch stored is checked, and primitives at the cost of a typeof.
   */
  verifyBatch(time: number): void {
    const classes = this.classes;
    for (const s of this.graph.streams) {
      const written = s.op.checkpointState?.written;
      if (!written || !s.isTimeValid(time)) continue;
      written(s, time, (key, state) => {
        const ks = typeof key;
        const ss = typeof state;
        if (ks !== "object" && ss !== "object" && ss !== "function" && ss !== "symbol") return;
        const bad = findUnrestorable(key, classes, "key") ?? findUnrestorable(state, classes, "state");
        if (bad) throw new StateNotSerializableError(s.id, key, bad.path, bad.type, time);
      });
    }
  }

  /**
   * After a batch committed: data checkpoints that are due, then the metadata that records the batch complete (see
   * the class comment for when it waits for a later batch). `records` is what the batch read.
   */
  async afterBatch(
    time: number,
    zeroTime: number,
    pending: () => TimeRange[],
    records = 0,
  ): Promise<DataCheckpointSummary> {
    const summary: DataCheckpointSummary = { files: 0, bytes: 0, ms: 0 };
    const backlog = withoutTime(pending(), time).length > 0;
    for (const s of this.graph.streams) {
      const cp = s.op.checkpointState;
      if (!cp || !s.isTimeValid(time)) continue;
      // A data checkpoint skipped while catching up is written with the first batch after the catch-up, due or
      // not, so that the state on disk does not stay behind (a graceful stop right after a catch-up included).
      const owed = !backlog && this.skippedData.has(s.id);
      if (!owed && (time - zeroTime) % checkpointIntervalOf(s, this.conf) !== 0) continue;
      // Catching up, data checkpoints are at most one a second per operator: skipping one is exact (a recovery
      // replays from the previous one), and the changes since stay in the next delta.
      if (
        backlog &&
        performance.now() - (this.lastData.get(s.id) ?? Number.NEGATIVE_INFINITY) < COALESCE_MS
      ) {
        this.skippedData.add(s.id);
        continue;
      }
      this.skippedData.delete(s.id);
      const chain = this.chains.get(s.id);
      const full = cp.fullOnly === true || !chain?.partitionFiles || chain.deltas + 1 >= this.fullEvery;
      const mode = full ? "full" : "delta";
      const started = performance.now();
      const partitions = cp.snapshot(s, time, mode);
      // One file per partition (format version 3), so that one partition can be restored, moved or written on its
      // own. A partition whose delta is empty writes nothing, and one that holds nothing at a full snapshot either
      // (its list of files is then empty). Nothing changed at all since the last data checkpoint (the empty
      // batches of a catch-up): the state on disk is this state, and a recovery replays the batches since from
      // their recorded input to the same state.
      if (mode === "delta" && partitions.every(isEmptyStore)) continue;
      const epoch = this.lease?.epoch;
      const writes: Array<{ partition: number; name: string; bytes: Uint8Array; entries: number }> = [];
      partitions.forEach((state, partition) => {
        if (isEmptyStore(state)) return;
        const body: StatePartitionFileBody = {
          operatorId: s.id,
          kind: s.op.kind,
          version: time,
          mode,
          partition,
          numPartitions: partitions.length,
          state,
        };
        writes.push({
          partition,
          name: stateFileName(s.id, time, mode, epoch, partition),
          bytes: encodeCheckpointFile("state", body, this.classes),
          entries: countEntries([state]),
        });
      });
      await this.lease?.check();
      await Promise.all(writes.map((w) => this.store.write(w.name, w.bytes)));
      this.lastData.set(s.id, performance.now());
      const partitionFiles = partitions.map((_, p) => (full ? [] : [...(chain!.partitionFiles![p] ?? [])]));
      for (const w of writes) partitionFiles[w.partition]!.push(w.name);
      this.chains.set(s.id, {
        version: time,
        files: partitionFiles.flat(),
        partitionFiles,
        deltas: full ? 0 : chain!.deltas + 1,
        partitioning: full ? cp.partitioning : chain!.partitioning,
      });
      const durationMs = performance.now() - started;
      const entries = writes.reduce((n, w) => n + w.entries, 0);
      const bytes = writes.reduce((n, w) => n + w.bytes.length, 0);
      summary.files += writes.length;
      summary.bytes += bytes;
      summary.ms += durationMs;
      this.log.debug(
        {
          operatorId: s.id,
          batchTime: time,
          mode,
          entries,
          files: writes.length,
          bytes,
          ms: Math.round(durationMs),
        },
        "data checkpoint written",
      );
      this.bus.post("onCheckpointWritten", () => ({
        checkpointInfo: {
          operatorId: s.id,
          kind: s.op.kind,
          batchTime: time,
          mode,
          entries,
          bytes,
          durationMs,
        },
      }));
    }
    this.completed = time;
    if (
      summary.files > 0 ||
      records > 0 ||
      !backlog ||
      this.recordedThrough === undefined ||
      performance.now() - this.lastWrite >= COALESCE_MS
    ) {
      await this.writeMetadata(time, 1, pending);
    }
    return summary;
  }

  private operators(): OperatorRecord[] {
    return this.graph.streams.map((s) => ({
      id: s.id,
      kind: s.op.kind,
      stateful: s.op.checkpointState !== undefined,
    }));
  }

  /** The oldest batch whose input a recovery may need: state is replayed from its last data checkpoint. */
  private keepInputFrom(zeroTime: number): number {
    let from = this.completed ?? zeroTime;
    for (const s of this.graph.streams) {
      if (!s.op.checkpointState) continue;
      // Before its first data checkpoint, a stateful operator is rebuilt from zero time.
      from = Math.min(from, this.chains.get(s.id)?.version ?? zeroTime);
    }
    return from;
  }

  private async writeMetadata(time: number, phase: 0 | 1, pendingNow: () => TimeRange[]): Promise<void> {
    const zeroTime = this.graph.streams[0]?.zeroTime ?? 0;
    const inputs: Record<string, unknown> = {};
    for (const s of this.graph.inputs) {
      const log = s.op.inputLog;
      if (log) inputs[s.id] = log.save(this.keepInputFrom(zeroTime) - s.rememberDuration);
    }
    const state: MetadataCheckpoint["state"] = {};
    for (const [id, chain] of this.chains) {
      const stream = this.graph.streams.find((s) => s.id === id);
      if (!stream) continue;
      state[id] = { kind: stream.op.kind, version: chain.version, files: chain.files };
      if (chain.partitionFiles) state[id].partitionFiles = chain.partitionFiles;
      if (chain.partitioning) {
        state[id].numPartitions = chain.partitioning.numPartitions;
        if (chain.partitioning.maxParallelism !== undefined)
          state[id].maxParallelism = chain.partitioning.maxParallelism;
      }
    }
    // Read in the same synchronous step as the input logs: every batch generated up to `checkpointTime` has its
    // allocation in `inputs`.
    const generated = pendingNow();
    const checkpointTime = latestOf(time, generated);
    const metadata: MetadataCheckpoint = {
      appName: this.appName,
      batchDuration: this.batchDuration,
      zeroTime,
      checkpointTime,
      completedTime: this.completed,
      pending: this.completed === undefined ? generated : withoutTime(generated, this.completed),
      operators: this.operators(),
      inputs,
      state,
      maxParallelism: this.maxParallelism,
      writtenAt: Date.now(),
    };
    const name = metadataName(time, phase, this.lease?.epoch);
    const bytes = encodeCheckpointFile("metadata", metadata);
    await this.lease?.check();
    await this.store.write(name, bytes);
    this.recordedThrough = Math.max(this.recordedThrough ?? Number.NEGATIVE_INFINITY, checkpointTime);
    this.lastWrite = performance.now();
    this.retained.push({ name, files: Object.values(state).flatMap((s) => s.files) });
    await this.clean();
  }

  /** Deletes metadata beyond the retained count, and state files no retained metadata needs. */
  private async clean(): Promise<void> {
    if (this.retained.length <= this.retain) return;
    const dropped = this.retained.splice(0, this.retained.length - this.retain);
    const needed = new Set(this.retained.flatMap((r) => r.files));
    const candidates = new Set(dropped.flatMap((r) => r.files));
    for (const r of dropped) await this.store.delete(r.name);
    for (const f of candidates) if (!needed.has(f)) await this.store.delete(f);
  }
}

/** The latest of `time` and the pending batches. */
function latestOf(time: number, pending: readonly TimeRange[]): number {
  let latest = time;
  for (const r of pending) if (r[1] > latest) latest = r[1];
  return latest;
}

/** Whether a partition's snapshot is a store snapshot with no key put and none removed. */
function isEmptyStore(partition: unknown): boolean {
  // A full snapshot that is an image of a store's files (the lmdb backend's) has no keys in columns: not empty.
  const p = partition as { keys?: unknown; removed?: unknown; image?: unknown };
  return (
    p.image === undefined &&
    Array.isArray(p.keys) &&
    Array.isArray(p.removed) &&
    p.keys.length === 0 &&
    p.removed.length === 0
  );
}

/** What a state file of format version 3 holds: one partition of one operator's state at `version`. */
export interface StatePartitionFileBody {
  operatorId: string;
  kind: string;
  version: number;
  mode: "full" | "delta";
  partition: number;
  numPartitions: number;
  state: unknown;
}

/** Entries in a snapshot's partitions: store snapshots have `keys` and `removed`, window snapshots `records`. */
function countEntries(partitions: unknown[]): number {
  let n = 0;
  for (const p of partitions as Array<{ keys?: unknown[]; removed?: unknown[]; records?: unknown[] }>) {
    n += (p.keys?.length ?? 0) + (p.removed?.length ?? 0) + (p.records?.length ?? 0);
  }
  return n;
}
