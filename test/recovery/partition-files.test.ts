// Partitions are units of state: a data checkpoint writes one file per operator and partition (format version 3),
// the metadata lists each partition's files, a delta writes only the partitions that changed, one partition reads
// back from its own files alone, a restore into another partition count reads only the old partitions that overlap
// each new one's key groups, and the provider commits or aborts one partition on its own.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ManualClock, type State, StateSpec, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";
import type { StatePartitionFileBody } from "../../src/checkpoint/Checkpointer.js";
import { FileCheckpointStore } from "../../src/checkpoint/FileCheckpointStore.js";
import { decodeCheckpointFile } from "../../src/checkpoint/format.js";
import { inspectCheckpoint } from "../../src/checkpoint/inspect.js";
import type { DStream } from "../../src/DStream.js";
import { readNewestCheckpoint } from "../../src/checkpoint/recovery.js";
import { sourcePartitions, storeCheckpoint } from "../../src/dstream/storeCheckpoint.js";
import { createLogger } from "../../src/log.js";
import { HashPartitioner } from "../../src/rdd/Partitioner.js";
import {
  MemoryStateStore,
  MemoryStateStoreProvider,
  type StateSnapshot,
} from "../../src/state/StateStore.js";

const BATCH = 1000;
const PARTITIONS = 3;
const partitioner = new HashPartitioner(PARTITIONS);

function makeJob(input: string, totals: Map<number, Array<[string, number]>>) {
  return () => {
    const ssc = new StreamingContext({
      batchDuration: BATCH,
      clock: new ManualClock(0),
      conf: {
        "spate.checkpoint.interval": BATCH,
        "spate.checkpoint.fullSnapshotEvery": 3,
        "spate.default.parallelism": PARTITIONS,
      },
    });
    // mapWithState writes only the keys a batch touches (updateStateByKey rewrites every key every batch).
    ssc
      .textFileStream(input)
      .map((w) => [w, 1] as [string, number])
      .mapWithState(
        StateSpec.function((_w: string, v: number | undefined, state: State<number>) => {
          state.update((state.getOption() ?? 0) + (v ?? 0));
        }),
      )
      .uid("totals")
      .stateSnapshots()
      .foreachRDD(async (rdd, t) => void totals.set(t, (await rdd.collect()).sort()));
    return ssc;
  };
}

async function runBatches(ssc: StreamingContext, input: string, batches: string[][], from: number) {
  await ssc.start();
  const clock = ssc.clock as ManualClock;
  for (const [i, words] of batches.entries()) {
    writeFileSync(path.join(input, `f${from + i}`), words.join("\n"));
    clock.setTime((from + i + 1) * BATCH);
    await ssc.awaitIdle();
  }
  await ssc.stop();
}

describe("per-partition data checkpoints", () => {
  it("write one file per partition, deltas only for partitions that changed, and restore exactly", async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-partition-files-"));
    const input = path.join(base, "input");
    const dir = path.join(base, "checkpoint");
    mkdirSync(input);
    const words = "a b c d e f g h i j k l".split(" ");
    const onlyA = words.filter((w) => partitioner.getPartition(w) === partitioner.getPartition("a"));
    const totals = new Map<number, Array<[string, number]>>();
    // Batch 1: every word (a full snapshot of every partition); batch 2: words of a's partition only (a delta).
    await runBatches(
      await StreamingContext.getOrCreate(dir, makeJob(input, totals)),
      input,
      [words, onlyA],
      0,
    );

    const store = new FileCheckpointStore(dir);
    const restored = (await readNewestCheckpoint(store, createLogger("test")))!;
    const record = restored.metadata.state.totals!;
    expect(record.version).toBe(2 * BATCH);
    expect(record.partitionFiles).toHaveLength(PARTITIONS);
    const pa = partitioner.getPartition("a");
    for (let p = 0; p < PARTITIONS; p++) {
      const files = record.partitionFiles![p]!;
      // A full snapshot per partition, and a delta only in the partition that changed.
      expect(files.map((f) => f.slice(f.lastIndexOf(".")))).toEqual(
        p === pa ? [".full", ".delta"] : [".full"],
      );
      for (const f of files) {
        const body = decodeCheckpointFile((await store.read(f))!, "state", f) as StatePartitionFileBody;
        expect(body.partition).toBe(p);
        expect(body.numPartitions).toBe(PARTITIONS);
        // The file holds its partition's keys only.
        const keys = (body.state as StateSnapshot<string, number>).keys;
        expect(keys.length).toBeGreaterThan(0);
        for (const k of keys) expect(partitioner.getPartition(k)).toBe(p);
      }
    }
    expect(record.files.sort()).toEqual(record.partitionFiles!.flat().sort());

    // `checkpoint inspect` shows each partition's files and keys.
    const report = await inspectCheckpoint(store);
    const op = report.newest!.operators.find((o) => o.id === "totals")!;
    expect(op.keys).toBe(words.length);
    expect(op.partitions!.map((p) => p.files)).toEqual(record.partitionFiles);
    expect(op.partitions!.reduce((n, p) => n + p.keys, 0)).toBe(words.length);

    // A restart continues from the per-partition files exactly.
    const after = new Map<number, Array<[string, number]>>();
    await runBatches(await StreamingContext.getOrCreate(dir, makeJob(input, after)), input, [["a", "l"]], 2);
    const expected = new Map(totals.get(2 * BATCH)!);
    expected.set("a", expected.get("a")! + 1);
    expected.set("l", expected.get("l")! + 1);
    expect(after.get(3 * BATCH)).toEqual([...expected].sort());
  });

  it("restore one partition from the old partitions that overlap its key groups only", () => {
    const maxParallelism = 16;
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    for (const [from, to] of [
      [4, 2],
      [2, 4],
      [4, 3],
      [3, 3],
    ] as const) {
      const old = new HashPartitioner(from, maxParallelism);
      const chains: StateSnapshot<unknown, unknown>[][] = Array.from({ length: from }, (_, q) => {
        const store = new MemoryStateStore<string, number>("op", q, {});
        for (const [i, k] of keys.entries()) if (old.getPartition(k) === q) store.put(k, i, 100);
        store.commit(100);
        return [store.snapshot("full") as StateSnapshot<unknown, unknown>];
      });
      const now = new HashPartitioner(to, maxParallelism);
      const provider = new MemoryStateStoreProvider();
      const self = {
        id: "op",
        op: { kind: "updateStateByKey" },
        env: { stateStores: provider, log: { info() {} } },
      } as unknown as DStream<unknown>;
      const cp = storeCheckpoint(now);
      for (let p = 0; p < to; p++) {
        const read: number[] = [];
        cp.restorePartition!(
          self,
          p,
          (q) => {
            read.push(q);
            return chains[q]!;
          },
          100,
          { numPartitions: from, maxParallelism },
        );
        // Only the old partitions whose key groups overlap p's were read (each once).
        expect(read).toEqual(sourcePartitions(p, { numPartitions: from, maxParallelism }, now));
        if (from === to) expect(read).toEqual([p]);
        else expect(read.length).toBeLessThan(from);
        const store = provider.getStore<string, number>("op", p);
        const held = [...store.entries()].map((e) => e.key).sort();
        expect(held).toEqual(keys.filter((k) => now.getPartition(k) === p).sort());
        for (const e of store.entries()) expect(e.state).toBe(keys.indexOf(e.key));
      }
    }
  });

  it("commit and abort one partition of one operator on its own", () => {
    const provider = new MemoryStateStoreProvider();
    const s0 = provider.getStore<string, number>("op", 0);
    const s1 = provider.getStore<string, number>("op", 1);
    const other = provider.getStore<string, number>("other", 0);
    s0.put("a", 1, 100);
    s1.put("b", 2, 100);
    other.put("c", 3, 100);
    expect(provider.commit("op", 0, 100)).toEqual({ operatorId: "op", written: 1, removed: 0, keys: 1 });
    expect(s0.version).toBe(100);
    expect(s1.version).toBeUndefined();
    expect(other.version).toBeUndefined();
    provider.abort("op", 1);
    expect(s1.get("b")).toBeUndefined();
    expect(other.get("c")?.state).toBe(3);
    expect(provider.commit("op", 7, 100)).toBeUndefined();
    provider.abort("nothing", 0);
  });
});
