// Rescalable state: state checkpointed from any partition count (key groups, or the hash modulo partitions of
// checkpoints written before key groups), as a full snapshot followed by deltas, restores into any other partition
// count with exactly the same key -> state map, update times included (mapWithState's timeouts), and every key in
// the partition that owns its key group.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { GraphNode } from "../../src/dstream/Operator.js";
import { storeCheckpoint } from "../../src/dstream/storeCheckpoint.js";
import { hashKey } from "../../src/rdd/keys.js";
import {
  HashPartitioner,
  keyGroupOf,
  keyGroupRange,
  partitionOfKeyGroup,
  type StatePartitioning,
} from "../../src/rdd/Partitioner.js";
import {
  MemoryStateStore,
  MemoryStateStoreProvider,
  type StateSnapshot,
} from "../../src/state/StateStore.js";

type Key = string | number | [string, number];
type Write = { kind: "put"; key: Key; state: number } | { kind: "remove"; key: Key };

const key: fc.Arbitrary<Key> = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.integer({ min: -1000, max: 1000 }),
  fc.tuple(fc.constantFrom("a", "b"), fc.integer({ min: 0, max: 5 })),
);
const write: fc.Arbitrary<Write> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("put" as const), key, state: fc.integer() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("remove" as const), key }) },
);
/** A batch: its writes, then whether a data checkpoint follows it (full or delta). */
const batch = fc.record({
  writes: fc.array(write, { maxLength: 12 }),
  checkpoint: fc.constantFrom(undefined, "full" as const, "delta" as const),
});

const text = (k: Key) => JSON.stringify(k);

function fakeStream(): GraphNode<unknown> {
  return {
    id: "op",
    op: { kind: "mapWithState" },
    env: { stateStores: new MemoryStateStoreProvider(), log: { info() {} } },
  } as unknown as GraphNode<unknown>;
}

describe("rescalable state", () => {
  it("restores any checkpointed state into any partition count with the same key -> state map", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom(8, 13, 128),
        fc.boolean(),
        fc.boolean(),
        fc.array(batch, { minLength: 1, maxLength: 8 }),
        (from, to, maxParallelism, legacy, indexByTime, batches) => {
          // Where the writing job put each key: by key group, or (before key groups) by hash modulo partitions.
          const place = legacy
            ? (k: Key) => hashKey(k) % from
            : (k: Key) => new HashPartitioner(from, maxParallelism).getPartition(k);
          const stores = Array.from(
            { length: from },
            (_, p) => new MemoryStateStore<Key, number>("op", p, { indexByTime }),
          );
          const chains: StateSnapshot<Key, number>[][] = stores.map(() => []);
          const model = new Map<string, { key: Key; state: number; updatedAt: number }>();
          let checkpointed: typeof model | undefined;
          let version = 0;
          batches.forEach((b, i) => {
            const time = (i + 1) * 100;
            for (const w of b.writes) {
              const store = stores[place(w.key)]!;
              if (w.kind === "put") {
                store.put(w.key, w.state, time);
                model.set(text(w.key), { key: w.key, state: w.state, updatedAt: time });
              } else {
                store.remove(w.key);
                model.delete(text(w.key));
              }
            }
            for (const s of stores) s.commit(time);
            const mode = b.checkpoint === "delta" && !checkpointed ? "full" : b.checkpoint;
            if (mode) {
              stores.forEach((s, p) => {
                const snap = s.snapshot(mode);
                if (mode === "full") chains[p] = [snap];
                else chains[p]!.push(snap);
              });
              checkpointed = new Map(model);
              version = time;
            }
          });
          if (!checkpointed) return;

          const partitioner = new HashPartitioner(to, maxParallelism);
          const recorded: StatePartitioning = legacy
            ? { numPartitions: from }
            : { numPartitions: from, maxParallelism };
          const self = fakeStream();
          storeCheckpoint(partitioner, { indexByTime }).restore(self, chains, version, recorded);

          const provider = self.env.stateStores;
          const restored = new Map<string, { key: Key; state: number; updatedAt: number }>();
          for (let p = 0; p < to; p++) {
            const store = provider.getStore<Key, number>("op", p, { indexByTime });
            expect(store.version).toBe(version);
            const range = keyGroupRange(p, to, maxParallelism);
            for (const e of store.entries()) {
              // Every key sits in the partition that owns its key group.
              const group = keyGroupOf(e.key, maxParallelism);
              expect(partitionOfKeyGroup(group, maxParallelism, to)).toBe(p);
              expect(group >= range.start && group <= range.end).toBe(true);
              expect(restored.has(text(e.key))).toBe(false);
              restored.set(text(e.key), { key: e.key, state: e.state, updatedAt: e.updatedAt });
            }
          }
          const expected = new Map(
            [...checkpointed].map(([k, e]) => [k, { ...e, updatedAt: indexByTime ? e.updatedAt : 0 }]),
          );
          expect(restored).toEqual(expected);
          if (indexByTime) {
            // Timeout bookkeeping: the keys idle since before each time are exactly those the model says.
            for (const t of [100, 300, 500, version + 1]) {
              const idle: string[] = [];
              for (let p = 0; p < to; p++)
                for (const e of provider.getStore<Key, number>("op", p, { indexByTime }).updatedBefore(t))
                  idle.push(text(e.key));
              const want = [...checkpointed].filter(([, e]) => e.updatedAt < t).map(([k]) => k);
              expect(idle.sort()).toEqual(want.sort());
              for (let p = 0; p < to; p++) provider.getStore("op", p, { indexByTime }).abort();
            }
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("gives partitions contiguous ranges of key groups that cover them all once", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 4096 }),
        (n, maxParallelism) => {
          fc.pre(n <= maxParallelism);
          let next = 0;
          for (let p = 0; p < n; p++) {
            const { start, end } = keyGroupRange(p, n, maxParallelism);
            expect(start).toBe(next);
            for (const g of [start, end])
              if (g >= start && g <= end) expect(partitionOfKeyGroup(g, maxParallelism, n)).toBe(p);
            next = end + 1;
          }
          expect(next).toBe(maxParallelism);
        },
      ),
      { numRuns: 500 },
    );
  });
});
