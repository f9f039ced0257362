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
        const snaps = (perPartition[p] ?? []) as StateSnapshot<unknown, unknown>[];
        self.context.stateStores.getStore(self.id, p, options).restore(snaps, version);
      }
    },
  };
}
