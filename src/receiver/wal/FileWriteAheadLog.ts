import { promises as fs } from "node:fs";
import * as path from "node:path";
import { crc32 } from "node:zlib";
import { CheckpointCorruptError } from "../../errors.js";
import type { WalRecordHandle, WriteAheadLog } from "./WriteAheadLog.js";

const FRAME = 16; // length u32 | crc32 u32 | time f64

interface Segment {
  name: string;
  /** Clock time of its first record: segments roll every `rollingIntervalMs`. */
  start: number;
  /** Latest record time, for cleaning. */
  last: number;
  size: number;
}

/** Writes every buffer, in order, however many calls it takes. */
async function writeAll(handle: fs.FileHandle, buffers: Uint8Array[]): Promise<void> {
  let rest = buffers;
  while (rest.length > 0) {
    // One writev takes at most IOV_MAX (1024) buffers.
    const batch = rest.length > 1024 ? rest.slice(0, 1024) : rest;
    rest = rest.length > 1024 ? rest.slice(1024) : [];
    let { bytesWritten } = await handle.writev(batch);
    let total = 0;
    for (const b of batch) total += b.length;
    if (bytesWritten === total) continue;
    // A short write: finish the rest buffer by buffer.
    for (const b of batch) {
      if (bytesWritten >= b.length) {
        bytesWritten -= b.length;
        continue;
      }
      let from = bytesWritten;
      bytesWritten = 0;
      while (from < b.length) from += (await handle.write(b, from)).bytesWritten;
    }
  }
}

const segmentName = (start: number, seq: number) =>
  `log-${String(start).padStart(16, "0")}-${String(seq).padStart(6, "0")}`;

interface PendingWrite {
  pieces: readonly Uint8Array[];
  length: number;
  time: number;
  resolve: (handle: WalRecordHandle) => void;
  reject: (error: unknown) => void;
}

/** The most bytes of records one group commit writes (more wait for the next). */
const MAX_GROUP_BYTES = 8 * 1024 * 1024;

/**
 * A write-ahead log in a directory of segment files (Spark's FileBasedWriteAheadLog). Each record is framed with its
 * length, a CRC-32 and its time, and fsynced before `write` resolves. Writes are committed in groups, in the order
 * of their `write` calls: records written while a group is being written wait, then go in one write; each
 * `fdatasync` covers every group written before it started, and groups go on being written while it runs (so one
 * group is written while the one before is synced). A record torn by a crash at the end of the last segment is cut off when the log is opened;
 * a bad record anywhere else is corruption.
 */
export class FileWriteAheadLog implements WriteAheadLog {
  private segments: Segment[] | undefined;
  private handle: fs.FileHandle | undefined;
  private seq = 0;
  private queue: PendingWrite[] = [];
  /** Whether the writer runs: it writes queued groups one after another. */
  private writing = false;
  /** Records written but not yet synced, in log order. */
  private unsynced: Array<{ write: PendingWrite; handle: WalRecordHandle }> = [];
  /** Whether the syncer runs, and when it stops. */
  private syncing = false;
  private synced: Promise<void> = Promise.resolve();
  /** Why the last sync failed, until the writer reopens the log. */
  private syncFailed: unknown;

  constructor(
    readonly directory: string,
    private readonly rollingIntervalMs = 60_000,
    /** Called before each group is written; throws when this process may no longer write (fenced). */
    private readonly fence: () => Promise<void> = async () => {},
  ) {}

  private async open(): Promise<Segment[]> {
    if (this.segments) return this.segments;
    await fs.mkdir(this.directory, { recursive: true });
    const names = (await fs.readdir(this.directory)).filter((n) => n.startsWith("log-")).sort();
    const segments: Segment[] = [];
    for (const [i, name] of names.entries()) {
      const bytes = await fs.readFile(path.join(this.directory, name));
      const { end, last } = this.scan(bytes, name, i === names.length - 1);
      if (end < bytes.length) await fs.truncate(path.join(this.directory, name), end);
      const start = Number(name.split("-")[1]);
      segments.push({ name, start, last: last ?? start, size: end });
      this.seq = Math.max(this.seq, Number(name.split("-")[2]) + 1);
    }
    this.segments = segments;
    return segments;
  }

  /** Walks the records of a segment; returns where the whole records end. */
  private scan(
    bytes: Uint8Array,
    name: string,
    isLast: boolean,
    visit?: (handle: WalRecordHandle, time: number, record: Uint8Array) => void,
  ): { end: number; last: number | undefined } {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = 0;
    let last: number | undefined;
    while (offset < bytes.length) {
      const bad = (why: string) => {
        if (isLast) return true; // a torn tail: the crash came mid-write
        throw new CheckpointCorruptError(
          `Write-ahead log segment ${path.join(this.directory, name)} is corrupt at offset ${offset} (${why}).`,
          name,
        );
      };
      if (offset + FRAME > bytes.length && bad("truncated frame")) break;
      const length = view.getUint32(offset);
      const sum = view.getUint32(offset + 4);
      const time = view.getFloat64(offset + 8);
      if (offset + FRAME + length > bytes.length && bad("truncated record")) break;
      const record = bytes.subarray(offset + FRAME, offset + FRAME + length);
      if (crc32(record) !== sum && bad("checksum mismatch")) break;
      visit?.({ segment: name, offset, length }, time, record);
      last = time;
      offset += FRAME + length;
    }
    return { end: offset, last };
  }

  /** Appends a record; resolves once it is durable (with every record written before it). */
  write(record: Uint8Array | readonly Uint8Array[], time: number): Promise<WalRecordHandle> {
    const pieces = record instanceof Uint8Array ? [record] : record;
    let length = 0;
    for (const p of pieces) length += p.length;
    return new Promise((resolve, reject) => {
      this.queue.push({ pieces, length, time, resolve, reject });
      if (!this.writing) void this.writeGroups();
    });
  }

  /**
   * Writes the waiting records, group after group, until none wait; each written group is handed to the syncer.
   * Writing goes on while an `fdatasync` runs, so that the next sync finds the next group already written.
   */
  private async writeGroups(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        // A sync failed: what was written after the last good one is unknown; reopen before writing again.
        if (this.syncFailed) await this.reset();
        let bytes = 0;
        let n = 0;
        while (n < this.queue.length && (n === 0 || bytes < MAX_GROUP_BYTES))
          bytes += this.queue[n++]!.length;
        const group = this.queue.splice(0, n);
        try {
          await this.fence();
        } catch (e) {
          for (const w of group) w.reject(e);
          continue;
        }
        try {
          const handles = await this.append(group);
          if (this.syncFailed) {
            for (const w of group) w.reject(this.syncFailed);
            continue;
          }
          for (let i = 0; i < group.length; i++)
            this.unsynced.push({ write: group[i]!, handle: handles[i]! });
          if (!this.syncing) this.synced = this.syncGroups();
        } catch (e) {
          for (const w of group) w.reject(e);
          // What this write left is unknown: once the groups written before it are synced, reopen (cutting off a
          // torn tail) before writing again.
          await this.reset();
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /**
   * Syncs the written records until none wait: each `fdatasync` covers every group written before it started, and
   * resolves their writes.
   */
  private async syncGroups(): Promise<void> {
    this.syncing = true;
    try {
      while (this.unsynced.length > 0 && !this.syncFailed) {
        const batch = this.unsynced;
        this.unsynced = [];
        try {
          await this.handle!.datasync();
          for (const { write, handle } of batch) write.resolve(handle);
        } catch (e) {
          // The pages of every unsynced write may be lost: fail them all, and have the writer reopen the log.
          this.syncFailed = e;
          for (const { write } of batch) write.reject(e);
          for (const { write } of this.unsynced) write.reject(e);
          this.unsynced = [];
        }
      }
    } finally {
      this.syncing = false;
    }
  }

  /** Waits for the sync in flight, then closes the segment so that the next write reopens the log. */
  private async reset(): Promise<void> {
    await this.synced;
    await this.handle?.close().catch(() => {});
    this.handle = undefined;
    this.segments = undefined;
    this.syncFailed = undefined;
  }

  /**
   * Appends records to the current segment (rolling it first when due) in one write; the syncer makes them durable.
   */
  private async append(group: PendingWrite[]): Promise<WalRecordHandle[]> {
    const segments = await this.open();
    const time = group[0]!.time;
    let current = segments.at(-1);
    if (!current || !this.handle || time - current.start >= this.rollingIntervalMs) {
      const opened = this.handle !== undefined;
      // Records written to the segment being closed are synced first.
      await this.synced;
      if (this.syncFailed) throw this.syncFailed;
      await this.handle?.close();
      this.handle = undefined;
      // The first write after opening starts a segment of its own: the last one found may belong to a job that
      // lost the checkpoint location and still appends to it until it notices.
      if (!current || !opened || time - current.start >= this.rollingIntervalMs) {
        current = { name: segmentName(time, this.seq++), start: time, last: time, size: 0 };
        segments.push(current);
      }
      this.handle = await fs.open(path.join(this.directory, current.name), "a");
      if (current.size === 0) {
        const dir = await fs.open(this.directory, "r");
        await dir.sync();
        await dir.close();
      }
    }
    const buffers: Uint8Array[] = [];
    const handles: WalRecordHandle[] = [];
    let offset = current.size;
    let last = current.last;
    for (const { pieces, length, time } of group) {
      const frame = new Uint8Array(FRAME);
      const view = new DataView(frame.buffer);
      let sum = 0;
      for (const p of pieces) sum = crc32(p, sum);
      view.setUint32(0, length);
      view.setUint32(4, sum);
      view.setFloat64(8, time);
      buffers.push(frame, ...pieces);
      handles.push({ segment: current.name, offset, length });
      offset += FRAME + length;
      last = Math.max(last, time);
    }
    await writeAll(this.handle, buffers);
    current.size = offset;
    current.last = last;
    return handles;
  }

  async read(handle: WalRecordHandle): Promise<Uint8Array> {
    const file = await fs.open(path.join(this.directory, handle.segment), "r");
    try {
      const frame = new Uint8Array(FRAME + handle.length);
      const { bytesRead } = await file.read(frame, 0, frame.length, handle.offset);
      const view = new DataView(frame.buffer);
      const record = frame.subarray(FRAME);
      if (
        bytesRead !== frame.length ||
        view.getUint32(0) !== handle.length ||
        crc32(record) !== view.getUint32(4)
      ) {
        throw new CheckpointCorruptError(
          `Write-ahead log record ${handle.segment}@${handle.offset} does not verify.`,
          handle.segment,
        );
      }
      return record;
    } finally {
      await file.close();
    }
  }

  async *readAll(): AsyncIterable<{ handle: WalRecordHandle; time: number; record: Uint8Array }> {
    const segments = await this.open();
    for (const segment of [...segments]) {
      const bytes = await fs.readFile(path.join(this.directory, segment.name));
      const out: Array<{ handle: WalRecordHandle; time: number; record: Uint8Array }> = [];
      this.scan(bytes.subarray(0, segment.size), segment.name, false, (handle, time, record) =>
        out.push({ handle, time, record }),
      );
      yield* out;
    }
  }

  async clean(threshTime: number): Promise<void> {
    const segments = await this.open();
    // Never delete the segment being written.
    while (segments.length > 1 && segments[0]!.last < threshTime) {
      const old = segments.shift()!;
      await fs.rm(path.join(this.directory, old.name), { force: true });
    }
  }

  async close(): Promise<void> {
    await this.synced;
    await this.handle?.close();
    this.handle = undefined;
  }
}
