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
  it("writes the next group while the previous one is being synced, and resolves it only after a sync of its own", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "spate-wal-overlap-"));
    const wal = new FileWriteAheadLog(dir);
    await wal.write(Buffer.from("open the segment"), 0);
    const probe = await fsp.open(path.join(dir, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as {
      datasync: () => Promise<void>;
      writev: (buffers: Uint8Array[]) => Promise<unknown>;
    };
    await probe.close();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let syncsStarted = 0;
    let writevs = 0;
    const datasync = proto.datasync;
    const writev = proto.writev;
    vi.spyOn(proto, "datasync").mockImplementation(async function (this: unknown) {
      if (++syncsStarted === 1) await gate;
      await datasync.call(this);
    });
    vi.spyOn(proto, "writev").mockImplementation(async function (this: unknown, buffers: Uint8Array[]) {
      writevs++;
      return writev.call(this, buffers);
    });
    const first = wal.write(Buffer.from("first"), 1);
    await vi.waitFor(() => expect(syncsStarted).toBe(1));
    let secondDone = false;
    const second = wal.write(Buffer.from("second"), 1).then((h) => {
      secondDone = true;
      return h;
    });
    // The second group is written while the first sync still runs...
    await vi.waitFor(() => expect(writevs).toBe(2), { timeout: 10_000 });
    expect(secondDone).toBe(false);
    release();
    await Promise.all([first, second]);
    // ...and made durable by a sync that started after it was written.
    expect(syncsStarted).toBe(2);
    await wal.close();
    const read: string[] = [];
    for await (const { record } of new FileWriteAheadLog(dir).readAll())
      read.push(Buffer.from(record).toString());
    expect(read).toEqual(["open the segment", "first", "second"]);
  });

  it("fails every write a failed sync may have lost, then goes on in a segment of its own", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "spate-wal-syncfail-"));
    const wal = new FileWriteAheadLog(dir);
    await wal.write(Buffer.from("before"), 0);
    const probe = await fsp.open(path.join(dir, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    let fail!: (e: Error) => void;
    const gate = new Promise<void>((_, reject) => {
      fail = reject;
    });
    let syncsStarted = 0;
    const datasync = proto.datasync;
    vi.spyOn(proto, "datasync").mockImplementation(async function (this: unknown) {
      if (++syncsStarted === 1) await gate;
      await datasync.call(this);
    });
    const first = wal.write(Buffer.from("first"), 1);
    await vi.waitFor(() => expect(syncsStarted).toBe(1));
    const second = wal.write(Buffer.from("second"), 1);
    // Let the second group be written behind the sync that will fail.
    await new Promise((r) => setTimeout(r, 50));
    fail(new Error("EIO: the disk went away"));
    await expect(first).rejects.toThrow("EIO");
    await expect(second).rejects.toThrow("EIO");
    const after = await wal.write(Buffer.from("after"), 2);
    await wal.close();
    const segments = (await fsp.readdir(dir)).filter((n) => n.startsWith("log-")).sort();
    expect(segments).toHaveLength(2);
    expect(after.segment).toBe(segments[1]);
    const read: string[] = [];
    for await (const { record } of new FileWriteAheadLog(dir).readAll())
      read.push(Buffer.from(record).toString());
    expect(read[0]).toBe("before");
    expect(read.at(-1)).toBe("after");
  });
});
