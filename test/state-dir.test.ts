// spate.state.dir: the lmdb backend keeps its files in a fresh folder per context under it, removed at stop; an
// unknown backend name is refused.
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ManualClock, type State, StateSpec, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";

describe("spate.state.dir", () => {
  it("holds a folder per context with the lmdb backend's files while it runs, removed at stop", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "spate-state-dir-"));
    const contexts = [0, 1].map(() => {
      const clock = new ManualClock(0);
      const ssc = new StreamingContext({
        batchDuration: 1000,
        clock,
        conf: { "spate.state.backend": "lmdb", "spate.state.dir": dir },
      });
      const out: Array<[string, number]> = [];
      ssc
        .queueStream([
          [
            ["a", 1],
            ["b", 2],
            ["a", 3],
          ],
        ] as Array<Array<[string, number]>>)
        .mapWithState(
          StateSpec.function((k: string, v: number | undefined, s: State<number>) => {
            s.update((s.getOption() ?? 0) + (v ?? 0));
            return [k, s.get()] as [string, number];
          }),
        )
        .foreachRDD(async (rdd) => void out.push(...(await rdd.collect())));
      return { ssc, clock, out };
    });
    for (const c of contexts) {
      await c.ssc.start();
      c.clock.advance(1000);
      await c.ssc.awaitIdle();
    }
    const folders = readdirSync(dir);
    expect(folders).toHaveLength(2);
    for (const f of folders)
      expect(readdirSync(path.join(dir, f)).some((n) => n.endsWith(".mdb"))).toBe(true);
    for (const c of contexts) {
      expect(c.out.sort()).toEqual([
        ["a", 1],
        ["a", 4],
        ["b", 2],
      ]);
      await c.ssc.stop();
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses a backend it does not know, naming the two it has", () => {
    expect(
      () => new StreamingContext({ batchDuration: 1000, conf: { "spate.state.backend": "rocksdb" } }),
    ).toThrow(/"memory" or "lmdb"/);
  });
});
