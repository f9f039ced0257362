import { CheckpointCorruptError, GraphMismatchError } from "../errors.js";
import type { DStreamGraph } from "../graph/DStreamGraph.js";
import type { Logger } from "../log.js";
import type { StatePartitioning } from "../rdd/Partitioner.js";
import type { CheckpointStore } from "./CheckpointStore.js";
import type { ClassRegistry } from "./classes.js";
import {
  decodeCheckpointFile,
  decodeVerified,
  type VerifiedCheckpointFile,
  verifyCheckpointFile,
} from "./format.js";
import type { StatePartitionFileBody } from "./Checkpointer.js";
import { isMetadataName, type MetadataCheckpoint } from "./metadata.js";

/** A checkpoint read back: its metadata, and the state bodies of each operator per partition (full, then deltas). */
export interface RestoredCheckpoint {
  name: string;
  metadata: MetadataCheckpoint;
  /** The state files of each operator, verified (header and checksum), decoded by {@link decodeState}. */
  stateFiles: Map<string, { version: number; files: VerifiedCheckpointFile[] }>;
  /** Newer checkpoints that did not verify and were passed over. */
  skipped: Array<{ name: string; reason: string }>;
}

/** A state file of format versions 1 and 2: every partition of one operator. */
interface StateFileBody {
  operatorId: string;
  kind: string;
  version: number;
  mode: "full" | "delta";
  partitions: unknown[];
}

/** One stateful operator's state in a restored checkpoint, decoded partition by partition on demand. */
export interface SavedState {
  /** The batch time the state is at. */
  version: number;
  /** How it was partitioned when written. */
  partitioning: StatePartitioning;
  /**
   * Partition `partition` of the state as written (a full snapshot, then deltas): only its own files are decoded
   * (format version 3), once. From files of format versions 1 and 2, which hold every partition, each file is
   * decoded once for all partitions.
   */
  read(partition: number): unknown[];
}

async function load(
  store: CheckpointStore,
  name: string,
  metadata: MetadataCheckpoint,
  log: Logger,
): Promise<RestoredCheckpoint> {
  const state: RestoredCheckpoint["stateFiles"] = new Map();
  const total = Object.values(metadata.state).reduce((n, s) => n + s.files.length, 0);
  let read = 0;
  for (const [id, s] of Object.entries(metadata.state)) {
    const files: VerifiedCheckpointFile[] = [];
    for (const file of s.files) {
      const started = performance.now();
      const bytes = await store.read(file);
      if (!bytes)
        throw new CheckpointCorruptError(`The state file ${file} of checkpoint ${name} is missing.`, file);
      files.push(verifyCheckpointFile(bytes, "state", file));
      read++;
      log.info(
        {
          operatorId: id,
          file,
          bytes: bytes.length,
          ms: Math.round(performance.now() - started),
          read,
          of: total,
        },
        "state checkpoint file read",
      );
    }
    state.set(id, { version: s.version, files });
  }
  return { name, metadata, stateFiles: state, skipped: [] };
}

/**
 * The state of each operator of a restored checkpoint, decoded per partition on demand with the job's registered
 * classes (a class the job does not register fails with SPATE_GRAPH_MISMATCH), and how it is partitioned
 * (`maxParallelism` absent: written before key groups).
 */
export function decodeState(restored: RestoredCheckpoint, classes: ClassRegistry): Map<string, SavedState> {
  const out = new Map<string, SavedState>();
  for (const [id, s] of restored.stateFiles) {
    const recorded = restored.metadata.state[id];
    const byName = new Map(s.files.map((f) => [f.name, f]));
    const partitionFiles = recorded?.partitionFiles;
    let read: (partition: number) => unknown[];
    let numPartitions: number;
    if (partitionFiles) {
      numPartitions = recorded?.numPartitions ?? partitionFiles.length;
      const cache = new Map<number, unknown[]>();
      read = (p) => {
        let snaps = cache.get(p);
        if (!snaps) {
          snaps = (partitionFiles[p] ?? []).map((name) => {
            const body = decodeVerified(byName.get(name)!, classes) as StatePartitionFileBody;
            return body.state;
          });
          cache.set(p, snaps);
        }
        return snaps;
      };
    } else {
      // Format versions 1 and 2: each file holds every partition.
      const perPartition: unknown[][] = [];
      for (const file of s.files) {
        const body = decodeVerified(file, classes) as StateFileBody;
        body.partitions.forEach((part, p) => {
          (perPartition[p] ??= []).push(part);
        });
      }
      numPartitions = recorded?.numPartitions ?? perPartition.length;
      read = (p) => perPartition[p] ?? [];
    }
    out.set(id, {
      version: s.version,
      read,
      partitioning: {
        numPartitions,
        ...(recorded?.maxParallelism !== undefined && { maxParallelism: recorded.maxParallelism }),
      },
    });
  }
  return out;
}

/**
 * Reads the newest checkpoint that verifies, newest first (Spark's CheckpointReader). A torn or corrupt newest one
 * is passed over, and the log says so; a store holding checkpoint files none of which verifies fails with
 * SPATE_CHECKPOINT_CORRUPT rather than starting from scratch. An empty store gives undefined.
 */
export async function readNewestCheckpoint(
  store: CheckpointStore,
  log: Logger,
): Promise<RestoredCheckpoint | undefined> {
  const names = await store.list();
  const metadataNames = names.filter(isMetadataName).sort().reverse();
  const skipped: RestoredCheckpoint["skipped"] = [];
  for (const name of metadataNames) {
    try {
      const bytes = await store.read(name);
      if (!bytes) continue;
      const metadata = decodeCheckpointFile(bytes, "metadata", name) as MetadataCheckpoint;
      const restored = await load(store, name, metadata, log);
      restored.skipped = skipped;
      if (skipped.length > 0) {
        log.warn(
          { location: store.location, used: name, skipped },
          "newest checkpoint did not verify: fell back to an older one",
        );
      }
      return restored;
    } catch (e) {
      if (!(e instanceof CheckpointCorruptError)) throw e;
      skipped.push({ name, reason: e.message });
    }
  }
  const ours = names.filter((n) => isMetadataName(n) || n.startsWith("state-"));
  if (ours.length > 0) {
    throw new CheckpointCorruptError(
      `No valid checkpoint in ${store.location}: ${metadataNames.length} metadata file(s) and ` +
        `${ours.length - metadataNames.length} state file(s), none restorable` +
        (skipped.length > 0 ? ` (newest: ${skipped[0]!.reason})` : "") +
        ". Restore the directory from a backup, or point the job at an empty directory to start from scratch.",
    );
  }
  return undefined;
}

/**
 * Matches the rebuilt graph against a checkpoint by operator id: an operator holding state in the checkpoint
 * must still exist with the same kind, and no recorded id may now name another kind. Returns the ids whose state
 * is dropped (with `allowNonRestoredState`); throws SPATE_GRAPH_MISMATCH otherwise.
 */
export function matchGraph(
  graph: DStreamGraph,
  metadata: MetadataCheckpoint,
  batchDuration: number,
  allowNonRestoredState: boolean,
): string[] {
  if (metadata.batchDuration !== batchDuration) {
    throw new GraphMismatchError(
      `The checkpoint was written with a batch duration of ${metadata.batchDuration} ms, the job now has ` +
        `${batchDuration} ms; batch times would not line up. Use the same batch duration, or a new checkpoint directory.`,
      [],
    );
  }
  const byId = new Map(graph.streams.map((s) => [s.id, s]));
  // Key groups are fixed at the first start: a key's group is its hash modulo their number.
  const recorded = new Map<number, string[]>();
  if (metadata.maxParallelism !== undefined) recorded.set(metadata.maxParallelism, []);
  for (const [id, s] of Object.entries(metadata.state)) {
    if (s.maxParallelism === undefined) continue;
    if (!recorded.has(s.maxParallelism)) recorded.set(s.maxParallelism, []);
    recorded.get(s.maxParallelism)!.push(id);
  }
  for (const s of graph.streams) {
    const now = s.op.checkpointState?.partitioning.maxParallelism;
    if (now === undefined) continue;
    for (const [then, ids] of recorded) {
      if (then === now) continue;
      throw new GraphMismatchError(
        `The checkpoint was written with spate.state.maxParallelism ${then}, the job now has ${now}: keyed state ` +
          `is divided into ${then} key groups at the first start and cannot be divided otherwise. Set ` +
          `spate.state.maxParallelism to ${then} (any partition count up to it restores), or use a new checkpoint directory.`,
        ids.length > 0 ? ids : [s.id],
      );
    }
  }
  const problems: string[] = [];
  const ids: string[] = [];
  for (const op of metadata.operators) {
    const now = byId.get(op.id);
    if (now && now.op.kind !== op.kind) {
      problems.push(`"${op.id}" was a ${op.kind} and is now a ${now.op.kind}`);
      ids.push(op.id);
    } else if (!now && metadata.state[op.id]) {
      problems.push(`"${op.id}" (${op.kind}) holds state in the checkpoint and is not in the job any more`);
      ids.push(op.id);
    }
  }
  if (ids.length === 0) return [];
  if (allowNonRestoredState) return ids;
  throw new GraphMismatchError(
    `The job does not match its checkpoint: ${problems.join("; ")}. Pin the ids of stateful operators with ` +
      'uid("name") so that edits elsewhere keep them, or set spate.checkpoint.allowNonRestoredState to drop that state.',
    ids,
  );
}
