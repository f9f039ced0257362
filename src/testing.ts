/**
 * Test helpers for code built on spate (`import { checkStateBackend } from "spate/testing"`).
 *
 * @packageDocumentation
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { decodeValue, encodeValue } from "./checkpoint/format.js";
import type { StateBackend, StateSnapshot, StateStore, StateStoreProvider } from "./state/StateStore.js";

/** Options of {@link checkStateBackend}. */
export interface StateBackendCheckOptions {
  /** Random operation sequences to try (default 200). */
  numRuns?: number;
  /** The random seed, to replay a failure that a previous check reported. */
  seed?: number;
}

type Op =
  | { kind: "put"; key: number; state: number; object: boolean }
  | { kind: "remove"; key: number }
  | { kind: "timeouts"; idle: number }
  | { kind: "commit" }
  | { kind: "abort" }
  | { kind: "snapshot"; full: boolean }
  | { kind: "forEachPut"; add: number };

/** The keys the check uses: every kind of key spate accepts, with pairs that look alike but differ. */
const KEYS: readonly unknown[] = [
  "a",
  "b",
  "1",
  1,
  2.5,
  Number.NaN,
  10n,
  true,
  ["a", 1],
  ["a", "1"],
  { user: "u1", n: 2 },
  "x".repeat(3000),
];

const key = fc.nat({ max: KEYS.length - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("put" as const),
      key,
      state: fc.integer({ min: 0, max: 9 }),
      object: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), key }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("timeouts" as const), idle: fc.integer({ min: 1, max: 4 }) }),
  },
  { weight: 3, arbitrary: fc.constant({ kind: "commit" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "abort" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("snapshot" as const), full: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("forEachPut" as const), add: fc.integer({ min: 1, max: 3 }) }),
  },
);

/** Key index to its state and update time. */
type Model = Map<number, { state: unknown; updatedAt: number }>;

function indexOf(k: unknown): number {
  const i = KEYS.findIndex((x) => x === k || (Number.isNaN(x) && Number.isNaN(k)) || sameValue(x, k));
  ok(i >= 0, `the store returned a key it was never given: ${String(k)}`);
  return i;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  try {
    deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

function contents(store: StateStore<unknown, unknown>): Model {
  const out: Model = new Map();
  for (const e of store.entries()) {
    const i = indexOf(e.key);
    ok(!out.has(i), `entries() gave key ${String(e.key)} twice`);
    out.set(i, { state: e.state, updatedAt: e.updatedAt });
  }
  const seen: Model = new Map();
  store.forEach((state, k, updatedAt) => {
    seen.set(indexOf(k), { state, updatedAt });
  });
  deepStrictEqual(seen, out, "forEach() and entries() disagree");
  return out;
}

function sorted(m: Model): Array<[number, { state: unknown; updatedAt: number }]> {
  return [...m].sort((a, b) => a[0] - b[0]);
}

/**
 * The contract of a {@link StateBackend}'s stores, checked against a model (a Map per committed version) on random
 * sequences of puts, removes, commits, aborts, timeout queries, iteration with writes, and full and delta
 * snapshots restored into a fresh store, with every kind of key (strings, numbers, NaN, bigints, booleans, arrays,
 * plain objects, keys longer than a database key) and states that are numbers or objects. spate's own backends
 * pass it; run it on yours in a test. Rejects with the first sequence (shrunk) that breaks the contract, and the
 * seed to replay it.
 *
 * @example
 * ```ts
 * import { memoryStateBackend } from "spate";
 * import { checkStateBackend } from "spate/testing";
 *
 * await checkStateBackend(memoryStateBackend, { numRuns: 20 });
 * ```
 */
export async function checkStateBackend(
  backend: StateBackend,
  options: StateBackendCheckOptions = {},
): Promise<void> {
  let dir: string | undefined;
  const provider: StateStoreProvider = backend.createProvider({
    dir: () => {
      dir ??= mkdtempSync(path.join(tmpdir(), "spate-contract-"));
      return dir;
    },
    encode: (v) => encodeValue(v),
    decode: (b) => decodeValue(b),
  });
  provider.trackChanges = true;
  let run = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 80, size: "max" }), async (ops) => {
        run++;
        const store = provider.getStore<unknown, unknown>(`contract-${run}`, 0, { indexByTime: true });
        let committed: Model = new Map();
        let current: Model = new Map();
        let time = 1; // the batch being written
        const chain: StateSnapshot<unknown, unknown>[] = [];
        let chainModel: Model | undefined;
        for (const o of ops) {
          switch (o.kind) {
            case "put": {
              const state = o.object ? { n: o.state, tags: [o.state] } : o.state;
              store.put(KEYS[o.key], state, time);
              current.set(o.key, { state, updatedAt: time });
              break;
            }
            case "remove":
              store.remove(KEYS[o.key]);
              current.delete(o.key);
              break;
            case "timeouts": {
              // As mapWithState does: every key idle since before `time - idle`, as of the last commit, and not
              // written in this batch, times out and is removed.
              const expected = [...committed]
                .filter(([k, e]) => e.updatedAt < time - o.idle && current.get(k)?.updatedAt === e.updatedAt)
                .map(([k]) => k)
                .sort((a, b) => a - b);
              const found = store.updatedBefore(time - o.idle);
              deepStrictEqual(
                found.map((e) => indexOf(e.key)).sort((a, b) => a - b),
                expected,
                "updatedBefore()",
              );
              for (const e of found) {
                deepStrictEqual(
                  { state: e.state, updatedAt: e.updatedAt },
                  committed.get(indexOf(e.key)),
                  "updatedBefore() entry",
                );
                store.remove(e.key);
                current.delete(indexOf(e.key));
              }
              break;
            }
            case "forEachPut":
              // As updateStateByKey does: every key visited, each rewritten (and some removed) as it is visited.
              store.forEach((state, k) => {
                const i = indexOf(k);
                if (i % 3 === o.add) {
                  store.remove(k);
                  current.delete(i);
                } else {
                  const next = typeof state === "number" ? state + o.add : state;
                  store.put(k, next, time);
                  current.set(i, { state: next, updatedAt: time });
                }
              });
              break;
            case "commit":
              store.commit(time);
              ok(!store.dirty, "dirty after commit()");
              deepStrictEqual(store.version, time, "version after commit()");
              committed = new Map(current);
              time++;
              break;
            case "abort":
              store.abort();
              ok(!store.dirty, "dirty after abort()");
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
          deepStrictEqual(store.size, current.size, "size");
          deepStrictEqual(sorted(contents(store)), sorted(current), "contents");
          for (const [i, e] of current) deepStrictEqual(store.get(KEYS[i]), e, `get(${String(KEYS[i])})`);
        }
        if (chainModel) {
          const restored = provider.getStore<unknown, unknown>(`contract-${run}-restored`, 0, {
            indexByTime: true,
          });
          restored.restore(chain, 99);
          deepStrictEqual(sorted(contents(restored)), sorted(chainModel), "restored from snapshots");
          deepStrictEqual(restored.size, chainModel.size, "size after restore()");
          deepStrictEqual(restored.version, 99, "version after restore()");
        }
      }),
      { numRuns: options.numRuns ?? 200, ...(options.seed === undefined ? {} : { seed: options.seed }) },
    );
  } finally {
    await provider.close?.();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}
