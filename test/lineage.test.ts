// An RDD whose partitions are all in memory lets go of the RDDs it was computed from (Spark cuts lineage the same
// way with rdd.checkpoint()): otherwise each window, computed from the previous one, keeps every earlier window
// and batch alive, and a long-running job's heap grows without end (test/soak/ measures the whole job).
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { RDD } from "spate";
import { describe, expect, it } from "vitest";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** A parent RDD reachable only through `child`, and a weak reference to it. */
function chain(mark: (rdd: RDD<number>) => void) {
  const parent = RDD.parallelize([1, 2, 3, 4], 2).map((x) => x * 10);
  const child = parent.map((x) => x + 1);
  mark(child);
  return { child, parent: new WeakRef(parent) };
}

async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 0));
    gc();
    if (ref.deref() === undefined) return true;
  }
  return false;
}

describe("lineage", () => {
  it("rdd.checkpoint(): once computed, the RDD keeps its records and lets go of its parents", async () => {
    const { child, parent } = chain((r) => r.checkpoint());
    expect(child.isCheckpointed).toBe(false);
    expect(await child.collect()).toEqual([11, 21, 31, 41]);
    expect(child.isCheckpointed).toBe(true);
    expect(await collected(parent)).toBe(true);
    expect(await child.collect()).toEqual([11, 21, 31, 41]);
    expect(await child.count()).toBe(4);
  });

  it("a persisted RDD does the same once every partition is computed, not before", async () => {
    const { child, parent } = chain((r) => r.persist());
    child.partition(0);
    expect(await collected(parent)).toBe(false);
    expect(await child.collect()).toEqual([11, 21, 31, 41]);
    expect(await collected(parent)).toBe(true);
  });

  it("an RDD that is not persisted keeps its lineage: it is computed again by every action", async () => {
    const { child, parent } = chain(() => {});
    expect(await child.collect()).toEqual([11, 21, 31, 41]);
    expect(await collected(parent)).toBe(false);
    expect(child.isCheckpointed).toBe(false);
  });
});
