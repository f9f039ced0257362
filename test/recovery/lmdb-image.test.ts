// Full snapshots of large LMDB stores are images of the database file (restored by writing the file back, with no
// work per key). A checkpoint holding such images restores exactly into the lmdb backend, into the memory backend,
// and into another partition count; deltas after the image apply on top; a timeout index comes back with it.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ManualClock, type State, StateSpec, type StateStore, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BATCH = 1000;
const KEYS = 60_000; // above the size from which a full snapshot of an LMDB store is an image
const PARTITIONS = 1;

function job(input: string, conf: Record<string, string | number>, seen: Map<number, number>) {
  return () => {
    const ssc = new StreamingContext({
      batchDuration: BATCH,
      clock: new ManualClock(0),
      conf: {
        "spate.checkpoint.interval": BATCH,
        "spate.checkpoint.fullSnapshotEvery": 3,
        "spate.default.parallelism": PARTITIONS,
        ...conf,
      },
    });
    ssc
      .textFileStream(input)
      .map((l) => l.split(" ") as [string, string])
      .map(([k, v]) => [k, Number(v)] as [string, number])
      .mapWithState(
        StateSpec.function((_k: string, v: number | undefined, state: State<{ sum: number }>) => {
          if (v === undefined) return; // timed out
          if (v < 0) state.remove();
          else state.update({ sum: (state.getOption()?.sum ?? 0) + v });
        }).timeout(100 * BATCH),
      )
      .uid("sums")
      .stateSnapshots()
      .foreachRDD(async (rdd, t) => {
        let total = 0;
        for (const [, s] of await rdd.collect()) total += s.sum;
        seen.set(t, total);
      });
    return ssc;
  };
}

/** Batch i's lines: every key once in batch 0, then 1% of them changed and a few removed. */
function lines(i: number): string[] {
  if (i === 0) return Array.from({ length: KEYS }, (_, k) => `k${k} ${k % 7}`);
  const out: string[] = [];
  for (let k = i; k < KEYS; k += 100) out.push(`k${k} ${i}`);
  for (let k = i; k < KEYS; k += 5000) out.push(`k${k + 1} -1`);
  return out;
}

/** The sum of every state held, and the number of keys, read from the context's stores. */
function held(ssc: StreamingContext): [number, number] {
  let total = 0;
  let keys = 0;
  const stores = (
    ssc as unknown as { stateStores: { stores(): Iterable<StateStore<string, { sum: number }>> } }
  ).stateStores;
  for (const store of stores.stores()) {
    for (const e of store.entries()) {
      total += e.state.sum;
      keys++;
    }
  }
  return [total, keys];
}

async function run(ssc: StreamingContext, input: string, from: number, to: number) {
  await ssc.start();
  for (let i = from; i < to; i++) {
    writeFileSync(path.join(input, `f${String(i).padStart(3, "0")}`), lines(i).join("\n"));
    (ssc.clock as ManualClock).setTime((i + 1) * BATCH);
    await ssc.awaitIdle();
  }
}

describe("lmdb full snapshots as images", () => {
  it("restore exactly into lmdb, into memory, and into another partition count", {
    timeout: 180_000,
  }, async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-lmdb-image-"));
    const input = path.join(base, "input");
    mkdirSync(input);
    const checkpoint = path.join(base, "checkpoint");
    // The reference: one run that never stops, in memory.
    const expected = new Map<number, number>();
    const refInput = path.join(base, "ref-input");
    mkdirSync(refInput);
    const ref = await StreamingContext.getOrCreate(
      path.join(base, "ref-checkpoint"),
      job(refInput, { "spate.state.backend": "memory" }, expected),
    );
    await run(ref, refInput, 0, 5);
    const reference = held(ref);
    expect(reference[0]).toBe(expected.get(5 * BATCH));
    await ref.stop();

    const seen = new Map<number, number>();
    const first = await StreamingContext.getOrCreate(
      checkpoint,
      job(input, { "spate.state.backend": "lmdb" }, seen),
    );
    await run(first, input, 0, 5); // batch 1: full (an image), 2 and 3: deltas, 4: full, 5: delta
    await first.stop();
    const stateFiles = readdirSync(checkpoint).filter((n) => n.startsWith("state-"));
    expect(stateFiles.some((n) => n.endsWith(".full"))).toBe(true);
    // An image is an LMDB file: its pages hold the keys as written (k1234 in UTF-8).
    const full = stateFiles.filter((n) => n.endsWith(".full")).sort()[0]!;
    expect(readFileSync(path.join(checkpoint, full)).includes(Buffer.from("sk1234"))).toBe(true);

    // spate checkpoint inspect reads the keys of an image too.
    const inspected = spawnSync(
      process.execPath,
      ["--import", "tsx", path.join(root, "src/cli/main.ts"), "checkpoint", "inspect", "--json", checkpoint],
      { cwd: root, encoding: "utf8" },
    );
    expect(inspected.status, inspected.stderr).toBe(0);
    const operators = (
      JSON.parse(inspected.stdout) as { newest: { operators: Array<{ id: string; keys?: number }> } }
    ).newest.operators;
    expect(operators.find((o) => o.id === "sums")?.keys).toBe(reference[1]);

    for (const conf of <Array<Record<string, string | number>>>[
      { "spate.state.backend": "lmdb" },
      { "spate.state.backend": "memory" },
      { "spate.state.backend": "lmdb", "spate.default.parallelism": 3 },
    ]) {
      const again = await StreamingContext.getOrCreate(checkpoint, job(input, conf, new Map()));
      await again.start();
      expect(again.restoredFrom?.batchTime).toBe(5 * BATCH);
      // The state restored, read from the stores (no batch runs, so the checkpoint stays at batch 5).
      const restored = held(again);
      await again.stop();
      expect(restored, JSON.stringify(conf)).toEqual(reference);
    }
    for (const t of [1, 2, 3, 4, 5].map((i) => i * BATCH)) expect(seen.get(t)).toBe(expected.get(t));
  });
});
