// KeyMap against a model Map keyed by a canonical string, with a primary Map small enough that keys overflow into
// the hashed Maps past it; and one KeyMap holding more keys than a V8 Map can (2^24).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KeyMap } from "../../src/rdd/keys.js";

type Key = string | number | boolean | [string, number] | { id: number };

const key: fc.Arbitrary<Key> = fc.oneof(
  fc.constantFrom("a", "b", "c", "1"),
  fc.constantFrom(1, 2, 0, -0, Number.NaN, 1.5),
  fc.boolean(),
  fc.tuple(fc.constantFrom("a", "b"), fc.integer({ min: 0, max: 2 })),
  fc.record({ id: fc.integer({ min: 0, max: 2 }) }),
);

/** Equal spate keys, equal strings (-0 is 0, NaN is NaN, "1" is not 1). */
const canonical = (k: Key): string =>
  typeof k === "number" ? `n${Object.is(k, -0) ? 0 : k}` : `${typeof k}:${JSON.stringify(k)}`;

type Op =
  | { kind: "set"; key: Key; value: number }
  | { kind: "delete"; key: Key }
  | { kind: "get"; key: Key }
  | { kind: "clear" };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("set" as const), key, value: fc.integer() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("delete" as const), key }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("get" as const), key }) },
  { weight: 1, arbitrary: fc.constant({ kind: "clear" as const }) },
);

describe("KeyMap", () => {
  it("agrees with a Map model whatever part of its keys overflows the primary Map", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.array(op, { maxLength: 80 }), (capacity, ops) => {
        const map = new KeyMap<Key, number>(capacity);
        const model = new Map<string, [Key, number]>();
        for (const o of ops) {
          switch (o.kind) {
            case "set":
              map.set(o.key, o.value);
              model.set(canonical(o.key), [o.key, o.value]);
              break;
            case "delete":
              expect(map.delete(o.key)).toBe(model.delete(canonical(o.key)));
              break;
            case "get":
              expect(map.get(o.key)).toBe(model.get(canonical(o.key))?.[1]);
              expect(map.has(o.key)).toBe(model.has(canonical(o.key)));
              break;
            case "clear":
              map.clear();
              model.clear();
              break;
          }
          expect(map.size).toBe(model.size);
        }
        const expected = [...model.values()].map(([k, v]) => [canonical(k), v]).sort();
        const canonicalEntries = (entries: Iterable<[Key, number]>) =>
          [...entries].map(([k, v]) => [canonical(k), v]).sort();
        expect(canonicalEntries(map.entries())).toEqual(expected);
        const visited: Array<[Key, number]> = [];
        map.forEach((v, k) => {
          visited.push([k, v]);
        });
        expect(canonicalEntries(visited)).toEqual(expected);
        expect([...map.values()].sort()).toEqual(expected.map(([, v]) => v).sort());
      }),
      { numRuns: 300 },
    );
  });

  it("lets forEach delete and replace the key it visits, in the primary Map and in the overflow", () => {
    const map = new KeyMap<number | string, number>(3);
    for (let i = 0; i < 20; i++) map.set(i % 2 === 0 ? i : `s${i}`, i);
    map.forEach((v, k) => {
      if (v % 3 === 0) map.delete(k);
      else map.set(k, v * 10);
    });
    expect(
      [...map.entries()].map(([, v]) => v).sort((a, b) => a - b),
      "every key visited once: deleted if a multiple of 3, else multiplied by 10",
    ).toEqual([10, 20, 40, 50, 70, 80, 100, 110, 130, 140, 160, 170, 190]);
  });

  it("holds more keys than V8's Map limit (2^24)", () => {
    // A plain Map throws RangeError: Map maximum size exceeded at 2^24 entries.
    const n = 2 ** 24 + 1000;
    const map = new KeyMap<number, number>();
    for (let i = 0; i < n; i++) map.set(i, i);
    expect(map.size).toBe(n);
    for (let i = 0; i < n; i += 9973) expect(map.get(i)).toBe(i);
    expect(map.get(n - 1)).toBe(n - 1);
    expect(map.has(n)).toBe(false);
    expect(map.delete(n - 1)).toBe(true);
    expect(map.delete(0)).toBe(true);
    expect(map.size).toBe(n - 2);
  }, 180_000);
});
