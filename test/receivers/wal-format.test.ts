// The receiver write-ahead log's formats and group commit. A log written by spate 0.1.0 (every block a checkpoint
// file, `SPTE`) still recovers; blocks of socket lines (`SPLN`, their bytes as received) read back as the same
// lines; concurrent writes share fsyncs, yet each resolves only once a datasync has covered it.
import { cpSync, mkdtempSync, promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ManualClock, Receiver, StreamingContext } from "spate";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LinesBlock } from "../../src/receiver/Block.js";
import { FileWriteAheadLog } from "../../src/receiver/wal/FileWriteAheadLog.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.resolve(here, "../fixtures/wal-0.1.0/checkpoint");

class Idle extends Receiver<unknown> {
  onStart(): void {}
  onStop(): void {}
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("receiver write-ahead log formats", () => {
  it("recovers the blocks a 0.1.0 build logged but never gave a batch, once, in order", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "spate-wal-0.1.0-"));
    cpSync(FIXTURE, dir, { recursive: true });
    const clock = new ManualClock(0);
    const batches = new Map<number, unknown[]>();
    const ssc = await StreamingContext.getOrCreate(dir, () => {
      const s = new StreamingContext({
        batchDuration: 1000,
        clock,
        conf: { "spate.receiver.writeAheadLog.enable": true, "spate.ui.port": 0 },
      });
      s.receiverStream(new Idle())
        .uid("received")
        .foreachRDD(async (rdd, time) => void batches.set(time, await rdd.collect()));
      return s;
    });
    await ssc.start();
    await ssc.awaitIdle();
    clock.advance(1000);
    await ssc.awaitIdle();
    await ssc.stop();
    // The fixture died after batch 1000 took the first two blocks and was checkpointed; these three came after.
    expect(batches.get(2000)).toEqual([
      "line one",
      "line ✓ two",
      "",
      1,
      2.5,
      -3,
      { key: "k", values: [1, 2] },
      [["nested"]],
    ]);
    const replayed = batches.get(1000);
    if (replayed) expect(replayed).toEqual(["first one", "first two", { first: 3 }]);
  });

  it("reads back blocks of lines, in pieces and with \\r\\n, beside checkpoint-file records", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "spate-wal-lines-"));
    const wal = new FileWriteAheadLog(dir);
    const crlf = LinesBlock.of([Buffer.from("carried over\r"), Buffer.from("a\r\nb ✓\n\nlast")], false);
    expect(crlf.count).toBe(5);
    const plain = LinesBlock.of([Buffer.from("one\ntwo")], true);
    await wal.write(crlf.encode(), 1);
    await wal.write(Buffer.from("not a lines record"), 2);
    await wal.write(plain.encode(), 3);
    await wal.close();
    const records: Uint8Array[] = [];
    for await (const { record } of new FileWriteAheadLog(dir).readAll()) records.push(record);
    expect(records.map((r) => LinesBlock.isRecord(r))).toEqual([true, false, true]);
    const first = LinesBlock.decode(records[0]!, "first");
    expect(first.count).toBe(5);
    expect(first.records()).toEqual(["carried over", "a", "b ✓", "", "last"]);
    const emitted: string[] = [];
    first.forEach((l) => void emitted.push(l));
    expect(emitted).toEqual(first.records());
    expect(LinesBlock.decode(records[2]!, "third").records()).toEqual(["one", "two"]);
  });

  it("commits concurrent writes in groups: fewer fsyncs than writes, each write resolved after one covering it", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "spate-wal-group-"));
    const wal = new FileWriteAheadLog(dir);
    await wal.write(Buffer.from("open the segment"), 0);
    const probe = await fsp.open(path.join(dir, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    let syncsDone = 0;
    const original = proto.datasync;
    vi.spyOn(proto, "datasync").mockImplementation(async function (this: unknown) {
      await original.call(this);
      syncsDone++;
    });
    const N = 200;
    const syncsBefore: number[] = [];
    const syncsAtResolve: number[] = [];
    const writes = Array.from({ length: N }, (_, i) => {
      syncsBefore.push(syncsDone);
      return wal.write(Buffer.from(`record ${i}`), 1).then((handle) => {
        syncsAtResolve[i] = syncsDone;
        return handle;
      });
    });
    const handles = await Promise.all(writes);
    await wal.close();
    expect(syncsDone).toBeGreaterThan(0);
    expect(syncsDone).toBeLessThan(N / 2);
    for (let i = 0; i < N; i++) expect(syncsAtResolve[i]).toBeGreaterThan(syncsBefore[i]!);
    // In the order of the write calls, back to back.
    for (let i = 1; i < N; i++) expect(handles[i]!.offset).toBeGreaterThan(handles[i - 1]!.offset);
    const read: string[] = [];
    for await (const { record } of new FileWriteAheadLog(dir).readAll())
      read.push(Buffer.from(record).toString());
    expect(read).toEqual(["open the segment", ...Array.from({ length: N }, (_, i) => `record ${i}`)]);
  });
});
