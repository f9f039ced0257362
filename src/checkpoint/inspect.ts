import { holderRunning, readOwnerRecord } from "./CheckpointLease.js";
import type { CheckpointStore } from "./CheckpointStore.js";
import { keyGroupRange } from "../rdd/Partitioner.js";
import { expandImages } from "../state/LmdbStateStore.js";
import type { StateSnapshot } from "../state/StateStore.js";
import { decodeCheckpointFile, decodeValue, encodeValue } from "./format.js";
import {
  countTimes,
  isMetadataName,
  pendingOf,
  type TimeRange,
  type MetadataCheckpoint,
} from "./metadata.js";

/** One file of a checkpoint folder and whether it verifies. */
export interface FileReport {
  name: string;
  kind: "metadata" | "state" | "other";
  bytes: number;
  verifies: boolean;
  problem?: string;
}

/** What `spate checkpoint inspect` shows. */
export interface CheckpointReport {
  location: string;
  files: FileReport[];
  /** The newest metadata checkpoint that verifies, with every state file it needs. */
  newest?: {
    name: string;
    restores: boolean;
    appName: string;
    batchDuration: number;
    zeroTime: number;
    completedBatch: number | undefined;
    /** How many batches were generated and not completed. */
    pendingBatches: number;
    /** Those batches, as ranges `[first, last, step]`. */
    pendingRanges: TimeRange[];
    operators: Array<{
      id: string;
      kind: string;
      stateful: boolean;
      stateVersion?: number;
      keys?: number;
      bytes?: number;
      files?: string[];
      /**
       * The files of each partition, full snapshot first, then deltas, with the keys each partition holds (format
       * version 3, one file per operator and partition; absent for older checkpoints, whose files hold every
       * partition).
       */
      partitions?: Array<{ partition: number; files: string[]; keys: number; bytes: number }>;
      /**
       * How the state files are partitioned: partition count, key groups (absent: written before key groups,
       * keys placed by hash modulo the partition count) and the range of groups each partition owns.
       */
      partitioning?: {
        numPartitions: number;
        maxParallelism?: number;
        keyGroups?: Array<[number, number]>;
      };
    }>;
    /** `spate.state.maxParallelism` recorded at the first start (absent before key groups). */
    maxParallelism?: number;
  };
  /** Whether the newest metadata checkpoint in the folder restores (metadata and state verify). */
  newestRestores: boolean;
  /**
   * Who owns the location (a running job, or one that died and whose lease has not been taken over), the epoch of
   * the last owner, and whether the store keeps an owner record at all.
   */
  owner: {
    supported: boolean;
    epoch?: number;
    holder?: {
      host: string;
      pid: number;
      appName: string;
      since: number;
      renewedAt: number;
      lockTimeout: number;
      /** Whether its process runs; unknown (absent) for a holder on another host. */
      running?: boolean;
    };
  };
}

/** One partition's snapshot in a state file, of whichever format version. */
interface PartitionSnapshot {
  mode?: string;
  keys?: unknown[];
  entries?: Array<[unknown, unknown, number]>;
  removed?: unknown[];
  records?: unknown[];
  image?: { format: string; bytes: Uint8Array };
}

/** A state file: every partition (format versions 1 and 2), or one (`partition` and `state`, version 3). */
interface StateBody {
  partitions?: PartitionSnapshot[];
  partition?: number;
  state?: PartitionSnapshot;
}

/** Reads and verifies every file of a checkpoint folder. */
export async function inspectCheckpoint(store: CheckpointStore): Promise<CheckpointReport> {
  const names = (await store.list()).sort();
  const files: FileReport[] = [];
  const decoded = new Map<string, unknown>();
  for (const name of names) {
    const kind = isMetadataName(name) ? "metadata" : name.startsWith("state-") ? "state" : "other";
    const bytes = kind === "other" ? undefined : await store.read(name);
    const report: FileReport = { name, kind, bytes: bytes?.length ?? 0, verifies: kind === "other" };
    if (bytes && kind !== "other") {
      try {
        decoded.set(name, decodeCheckpointFile(bytes, kind, name));
        report.verifies = true;
      } catch (e) {
        report.problem = (e as Error).message;
      }
    }
    files.push(report);
  }
  const byName = new Map(files.map((f) => [f.name, f]));
  const metadataNames = files
    .filter((f) => f.kind === "metadata")
    .map((f) => f.name)
    .reverse();
  const restores = (name: string): boolean => {
    const md = decoded.get(name) as MetadataCheckpoint | undefined;
    return (
      md !== undefined && Object.values(md.state).every((s) => s.files.every((f) => byName.get(f)?.verifies))
    );
  };
  const owned = await readOwnerRecord(store);
  const holder = owned?.record.holder;
  const report: CheckpointReport = {
    location: store.location,
    files,
    newestRestores: metadataNames.length > 0 && restores(metadataNames[0]!),
    owner: {
      supported: store.readRecord !== undefined,
      ...(owned ? { epoch: owned.record.epoch } : {}),
      ...(holder
        ? {
            holder: {
              host: holder.host,
              pid: holder.pid,
              appName: holder.appName,
              since: holder.since,
              renewedAt: holder.renewedAt,
              lockTimeout: holder.lockTimeout,
              ...(holderRunning(holder) === undefined ? {} : { running: holderRunning(holder) }),
            },
          }
        : {}),
    },
  };
  const newest = metadataNames.find((n) => decoded.has(n));
  if (newest) {
    const md = decoded.get(newest) as MetadataCheckpoint;
    report.newest = {
      name: newest,
      restores: restores(newest),
      appName: md.appName,
      batchDuration: md.batchDuration,
      zeroTime: md.zeroTime,
      completedBatch: md.completedTime,
      pendingBatches: countTimes(pendingOf(md)),
      pendingRanges: pendingOf(md),
      ...(md.maxParallelism !== undefined && { maxParallelism: md.maxParallelism }),
      operators: md.operators.map((op) => {
        const state = md.state[op.id];
        if (!state) return { ...op };
        // Every partition's snapshots in order (full, then deltas), from one file per partition or from files
        // holding every partition.
        const snaps: Array<[number, PartitionSnapshot]> = [];
        for (const f of state.files) {
          const body = decoded.get(f) as StateBody | undefined;
          if (body?.state && body.partition !== undefined) snaps.push([body.partition, body.state]);
          body?.partitions?.forEach((p, i) => {
            snaps.push([i, p]);
          });
        }
        const keys = new Set<string>();
        for (const [i, saved] of snaps) {
          // A full snapshot that is an image of the lmdb backend's database is read into keys first.
          const p: PartitionSnapshot = saved.image
            ? expandImages(
                [saved as StateSnapshot<unknown, unknown>],
                { encode: encodeValue, decode: decodeValue },
                {},
              )[0]!
            : saved;
          if (p.mode === "full") for (const k of keys) if (k.startsWith(`${i}:`)) keys.delete(k);
          for (const k of p.removed ?? []) keys.delete(`${i}:${keyText(k)}`);
          for (const k of p.keys ?? []) keys.add(`${i}:${keyText(k)}`);
          for (const e of p.entries ?? []) keys.add(`${i}:${keyText(e[0])}`);
          for (const r of (p.records ?? []) as Array<[unknown, unknown]>) keys.add(`${i}:${keyText(r[0])}`);
        }
        const numPartitions =
          state.numPartitions ?? state.partitionFiles?.length ?? Math.max(0, ...snaps.map(([i]) => i + 1));
        const bytesOf = (files: string[]) => files.reduce((n, f) => n + (byName.get(f)?.bytes ?? 0), 0);
        const maxParallelism = state.maxParallelism;
        return {
          ...op,
          stateVersion: state.version,
          keys: keys.size,
          bytes: bytesOf(state.files),
          files: state.files,
          ...(state.partitionFiles && {
            partitions: state.partitionFiles.map((files, partition) => ({
              partition,
              files,
              keys: [...keys].filter((k) => k.startsWith(`${partition}:`)).length,
              bytes: bytesOf(files),
            })),
          }),
          partitioning: {
            numPartitions,
            ...(maxParallelism !== undefined && {
              maxParallelism,
              keyGroups: Array.from({ length: numPartitions }, (_, p): [number, number] => {
                const r = keyGroupRange(p, numPartitions, maxParallelism);
                return [r.start, r.end];
              }),
            }),
          },
        };
      }),
    };
  }
  return report;
}

const keyText = (k: unknown): string =>
  JSON.stringify(k, (_key, v) => (typeof v === "bigint" ? `${v}n` : v)) ?? String(k);
