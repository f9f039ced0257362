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

const segmentName = (start: number, seq: number) =>
  `log-${String(start).padStart(16, "0")}-${String(seq).padStart(6, "0")}`;

/**
 * A write-ahead log in a directory of segment files (Spark's FileBasedWriteAheadLog). Each record is framed with its
 * length, a CRC-32 and its time, and fsynced before `write` resolves. A record torn by a crash at the end of the
 * last segment is cut off when the log is opened; a bad record anywhere else is corruption.
 */
export class FileWriteAheadLog implements WriteAheadLog {
  private segments: Segment[] | undefined;
  private handle: fs.FileHandle | undefined;
  private seq = 0;

  constructor(
    readonly directory: string,
    private readonly rollingIntervalMs = 60_000,
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

  async write(record: Uint8Array, time: number): Promise<WalRecordHandle> {
    const segments = await this.open();
    let current = segments.at(-1);
    if (!current || !this.handle || time - current.start >= this.rollingIntervalMs) {
      await this.handle?.close();
      // The first write after opening starts a segment of its own: the last one found may belong to a job that
      // lost the checkpoint location and still appends to it until it notices.
      if (!current || !this.handle || time - current.start >= this.rollingIntervalMs) {
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
    const frame = new Uint8Array(FRAME + record.length);
    const view = new DataView(frame.buffer);
    view.setUint32(0, record.length);
    view.setUint32(4, crc32(record));
    view.setFloat64(8, time);
    frame.set(record, FRAME);
    await this.handle.write(frame);
    await this.handle.datasync();
    const handle = { segment: current.name, offset: current.size, length: record.length };
    current.size += frame.length;
    current.last = Math.max(current.last, time);
    return handle;
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
    await this.handle?.close();
    this.handle = undefined;
  }
}
