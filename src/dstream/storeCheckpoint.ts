import type { DStream } from "../DStream.js";
import type { StateSnapshot, StateStoreOptions } from "../state/StateStore.js";
import type { CheckpointableState } from "./Operator.js";

/** Data checkpoints of an operator whose state lives in one state store per partition. */
export function storeCheckpoint<T>(
  numPartitions: number,
  options: StateStoreOptions = {},
): CheckpointableState<T> {
  return {
    snapshot(self: DStream<T>, _time: number, mode: "full" | "delta"): unknown[] {
      const out: unknown[] = [];
      for (let p = 0; p < numPartitions; p++)
        out.push(self.context.stateStores.getStore(self.id, p, options).snapshot(mode));
      return out;
    },
    restore(self: DStream<T>, perPartition: unknown[][], version: number): void {
      for (let p = 0; p < numPartitions; p++) {
        const snaps = (perPartition[p] ?? []).map(columnar);
        self.context.stateStores.getStore(self.id, p, options).restore(snaps, version);
      }
    },
  };
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
