import {
  type HashPartitioner,
  keyGroupRange,
  partitionOfKeyGroup,
  type StatePartitioning,
  samePartitioning,
} from "../rdd/Partitioner.js";
import { decodeValue, encodeValue } from "../checkpoint/format.js";
import { expandImages, LmdbStateStore } from "../state/LmdbStateStore.js";
import { MemoryStateStore, type StateSnapshot, type StateStoreOptions } from "../state/StateStore.js";
import { attribute } from "../errors.js";
import type { CheckpointableState, GraphNode, StateCodec } from "./Operator.js";

/**
 * Data checkpoints of an operator whose state lives in one state store per partition; with a codec, states are
 * written as `codec.encode(state)` and restored through `codec.decode`.
 */
export function storeCheckpoint<T>(
  partitioner: HashPartitioner,
  options: StateStoreOptions = {},
  codec?: StateCodec<any>,
): CheckpointableState<T> {
  const numPartitions = partitioner.numPartitions;
  const partitioning: StatePartitioning = { numPartitions, maxParallelism: partitioner.maxParallelism };
  const coded = (self: GraphNode<T>, fn: (x: unknown) => unknown, x: unknown): unknown => {
    try {
      return fn(x);
    } catch (e) {
      throw attribute(self, e);
    }
  };
  // With a codec, every snapshot's states are decoded first (columnar() leaves a columnar snapshot as it is).
  const decoded = (self: GraphNode<T>, snaps: unknown[]): StateSnapshot<unknown, unknown>[] =>
    snaps.map((x) => {
      const snap = columnar(x);
      if (codec) snap.states = snap.states.map((s) => coded(self, codec.decode, s));
      return snap;
    });
  // A full snapshot that is an image of the lmdb backend's database goes as it is into an lmdb store of the same
  // partition; anywhere else it is read into keys and states first.
  const columns = (self: GraphNode<T>, snaps: StateSnapshot<unknown, unknown>[]) => {
    const classes = self.env.classes;
    const env = {
      encode: (v: unknown) => encodeValue(v, classes),
      decode: (b: Uint8Array) => decodeValue(b, classes),
    };
    return expandImages(snaps, env, options);
  };
  const intoStore = (self: GraphNode<T>, store: unknown, snaps: StateSnapshot<unknown, unknown>[]) =>
    store instanceof LmdbStateStore ? snaps : columns(self, snaps);
  return {
    partitioning,
    snapshot(self: GraphNode<T>, _time: number, mode: "full" | "delta"): unknown[] {
      const out: unknown[] = [];
      for (let p = 0; p < numPartitions; p++) {
        const snap = self.env.stateStores.getStore(self.id, p, options).snapshot(mode);
        if (codec) snap.states = snap.states.map((s) => coded(self, codec.encode, s));
        out.push(snap);
      }
      return out;
    },
    written(self: GraphNode<T>, _time: number, visit: (key: unknown, state: unknown) => void): void {
      for (let p = 0; p < numPartitions; p++) {
        const store = self.env.stateStores.getStore(self.id, p, options);
        if (codec) store.forEachWritten((s, k) => visit(k, coded(self, codec.encode, s)));
        else store.forEachWritten((s, k) => visit(k, s), true);
      }
    },
    restore(self: GraphNode<T>, saved: unknown[][], version: number, from?: StatePartitioning): void {
      const perPartition = saved.map((snaps) => decoded(self, snaps));
      const stores = self.env.stateStores;
      if (!from || samePartitioning(from, partitioning)) {
        for (let p = 0; p < numPartitions; p++) {
          const store = stores.getStore(self.id, p, options);
          store.restore(intoStore(self, store, perPartition[p] ?? []), version);
        }
        return;
      }
      const moved = redistribute(
        perPartition.map((snaps) => columns(self, snaps)),
        version,
        partitioner,
        options,
      );
      for (let p = 0; p < numPartitions; p++)
        stores.getStore(self.id, p, options).restore([moved[p]!], version);
      logRedistributed(
        self,
        from,
        partitioning,
        moved.reduce((n, s) => n + s.keys.length, 0),
      );
    },
    restorePartition(
      self: GraphNode<T>,
      partition: number,
      read: (oldPartition: number) => unknown[],
      version: number,
      from?: StatePartitioning,
    ): void {
      const store = self.env.stateStores.getStore(self.id, partition, options);
      if (!from || samePartitioning(from, partitioning)) {
        store.restore(intoStore(self, store, decoded(self, read(partition))), version);
        return;
      }
      const snap = emptySnapshot(version, options);
      for (const q of sourcePartitions(partition, from, partitioner)) {
        const old = new MemoryStateStore<unknown, unknown>("redistribute", q, options);
        old.restore(columns(self, decoded(self, read(q))), version);
        old.forEach((state, key, updatedAt) => {
          if (partitioner.getPartition(key) !== partition) return;
          snap.keys.push(key);
          snap.states.push(state);
          snap.updatedAt?.push(updatedAt);
        });
      }
      store.restore([snap], version);
    },
  };
}

/**
 * State written with another partitioning, as one full snapshot per partition of `partitioner`: each old
 * partition is rebuilt (its full snapshot and deltas applied), then every key goes to the partition that owns its
 * key group, with its state and update time.
 */
export function redistribute(
  perPartition: unknown[][],
  version: number,
  partitioner: HashPartitioner,
  options: StateStoreOptions,
): StateSnapshot<unknown, unknown>[] {
  const n = partitioner.numPartitions;
  const out = Array.from({ length: n }, () => emptySnapshot(version, options));
  for (let p = 0; p < perPartition.length; p++) {
    const old = new MemoryStateStore<unknown, unknown>("redistribute", p, options);
    old.restore((perPartition[p] ?? []).map(columnar), version);
    old.forEach((state, key, updatedAt) => {
      const to = out[partitioner.getPartition(key)]!;
      to.keys.push(key);
      to.states.push(state);
      to.updatedAt?.push(updatedAt);
    });
  }
  return out;
}

function emptySnapshot(version: number, options: StateStoreOptions): StateSnapshot<unknown, unknown> {
  const snap: StateSnapshot<unknown, unknown> = { mode: "full", version, keys: [], states: [], removed: [] };
  if (options.indexByTime) snap.updatedAt = [];
  return snap;
}

/**
 * The partitions of state written with `from` that may hold keys of partition `p` of `partitioner`: those whose
 * key groups overlap its own when both divide the same key groups, else (checkpoints written before key groups,
 * or more partitions than key groups) every one.
 */
export function sourcePartitions(p: number, from: StatePartitioning, partitioner: HashPartitioner): number[] {
  const all = Array.from({ length: from.numPartitions }, (_, q) => q);
  if (from.numPartitions === 1) return [0];
  const groups = from.maxParallelism;
  if (groups === undefined || groups !== partitioner.keyGroups || from.numPartitions > groups) return all;
  const { start, end } = keyGroupRange(p, partitioner.numPartitions, groups);
  if (start > end) return [];
  const first = partitionOfKeyGroup(start, groups, from.numPartitions);
  const last = partitionOfKeyGroup(end, groups, from.numPartitions);
  return all.slice(first, last + 1);
}

/** Logs that an operator's state moved to another partition count. */
export function logRedistributed(
  self: GraphNode<any>,
  from: StatePartitioning,
  to: StatePartitioning,
  keys: number,
): void {
  self.env.log.info(
    {
      operatorId: self.id,
      kind: self.op.kind,
      fromPartitions: from.numPartitions,
      toPartitions: to.numPartitions,
      fromMaxParallelism: from.maxParallelism ?? "none (written before key groups)",
      maxParallelism: to.maxParallelism,
      keys,
    },
    `state redistributed from ${from.numPartitions} to ${to.numPartitions} partitions`,
  );
}

/** Snapshots written before state went columnar held `entries: [key, state, updatedAt][]`. */
function columnar(snap: unknown): StateSnapshot<unknown, unknown> {
  const s = snap as StateSnapshot<unknown, unknown> & { entries?: Array<[unknown, unknown, number]> };
  if (!s.entries) return s;
  return {
    mode: s.mode,
    version: s.version,
    keys: s.entries.map((e) => e[0]),
    states: s.entries.map((e) => e[1]),
    updatedAt: s.entries.map((e) => e[2]),
    removed: s.removed,
  };
}
