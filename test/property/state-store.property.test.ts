// The in-memory state store against a model: a Map per committed version. Random puts, removes, commits, aborts,
// timeout queries, and delta/full snapshots restored into a fresh store must all agree with the model. Then the
// contract every backend passes (spate/testing's checkStateBackend, the same model grown: every kind of key, object
// states, iteration with writes), on each of spate's backends.
import fc from "fast-check";
import { lmdbStateBackend, memoryStateBackend, type StateBackend } from "spate";
import { checkStateBackend } from "spate/testing";
import { describe, expect, it } from "vitest";
import { MemoryStateStore, type StateSnapshot } from "../../src/state/StateStore.js";

type Op =
  | { kind: "put"; key: string; state: number }
  | { kind: "remove"; key: string }
  | { kind: "timeouts"; idle: number }
  | { kind: "commit" }
  | { kind: "abort" }
  | { kind: "snapshot"; full: boolean };

const key = fc.constantFrom("a", "b", "c", "d", "e", "f");
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant("put" as const), key, state: fc.integer({ min: 0, max: 9 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), key }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("timeouts" as const), idle: fc.integer({ min: 1, max: 4 }) }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "commit" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "abort" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("snapshot" as const), full: fc.boolean() }) },
);

type Model = Map<string, { state: number; updatedAt: number }>;

const contents = (store: MemoryStateStore<string, number>) =>
  new Map([...store.entries()].map((e) => [e.key, { state: e.state, updatedAt: e.updatedAt }]));

describe("MemoryStateStore", () => {
  it("agrees with a versioned Map model through commits, aborts, timeouts, snapshots and restores", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const store = new MemoryStateStore<string, number>("op", 0, { indexByTime: true });
        let committed: Model = new Map();
        let current: Model = new Map();
        let time = 1; // the batch being written
        const chain: StateSnapshot<string, number>[] = [];
        let chainModel: Model | undefined;
        for (const o of ops) {
          switch (o.kind) {
            case "put":
              store.put(o.key, o.state, time);
              current.set(o.key, { state: o.state, updatedAt: time });
              break;
            case "remove":
              store.remove(o.key);
              current.delete(o.key);
              break;
            case "timeouts": {
              // As mapWithState does: every key idle since before `time - idle`, as of the last commit, and not
              // written in this batch, times out and is removed.
              const expected = [...committed]
                .filter(([k, e]) => e.updatedAt < time - o.idle && current.get(k)?.updatedAt === e.updatedAt)
                .map(([k]) => k)
                .sort();
              const found = store.updatedBefore(time - o.idle).map((e) => e.key);
              expect([...found].sort()).toEqual(expected);
              for (const k of found) {
                store.remove(k);
                current.delete(k);
              }
              break;
            }
            case "commit":
              store.commit(time);
              committed = new Map(current);
              time++;
              break;
            case "abort":
              store.abort();
              current = new Map(committed);
              break;
            case "snapshot": {
              // Snapshots read the committed state; only taken between batches, as the checkpointer does.
              store.abort();
              current = new Map(committed);
              const snap = store.snapshot(o.full ? "full" : "delta");
              if (o.full) chain.splice(0, chain.length, snap);
              else if (chain.length > 0) chain.push(snap);
              if (chain.length > 0) chainModel = new Map(committed);
              break;
            }
          }
          expect(store.size).toBe(current.size);
          expect(contents(store)).toEqual(current);
        }
        if (chainModel) {
          const restored = new MemoryStateStore<string, number>("op", 0, { indexByTime: true });
          restored.restore(chain, 99);
          expect(contents(restored)).toEqual(chainModel);
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe.each<[string, StateBackend, number]>([
  ["memory", memoryStateBackend, 300],
  ["lmdb", lmdbStateBackend, 200],
])("the %s state backend", (_name, backend, numRuns) => {
  it("passes the state store contract (spate/testing)", async () => {
    await checkStateBackend(backend, { numRuns });
  });
});
