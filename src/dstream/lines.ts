import { isUtf8 } from "node:buffer";
import * as fs from "node:fs";
import { SpateError } from "../errors.js";

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** What reading a file's lines found. */
export interface LineCounts {
  /** Lines given to `emit`. */
  lines: number;
  /** Lines skipped because they are not valid UTF-8. */
  malformed: number;
  /** The number (from 1) of the first malformed line, if any. */
  firstMalformedLine?: number;
}

/**
 * Reads the lines of a file as a stream: `chunkBytes` at a time, so that no string longer than a chunk (or than
 * the longest line) is ever built and a file of any size can be read. Lines end with `\n` or `\r\n` (neither is
 * kept); a last line without one counts. Bytes are split at `\n` before decoding: `\n` never occurs inside a
 * multi-byte UTF-8 sequence, so a character cut across two chunks is whole again in its line, and a malformed
 * sequence spoils only the line it is in, which is skipped and counted rather than decoded to U+FFFD.
 */
export function readLines(file: string, emit: (line: string) => void, chunkBytes = 1 << 20): LineCounts {
  const counts: LineCounts = { lines: 0, malformed: 0 };
  const line = (bytes: Buffer) => {
    const end =
      bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN ? bytes.length - 1 : bytes.length;
    const body = bytes.subarray(0, end);
    if (!isUtf8(body)) {
      counts.malformed++;
      counts.firstMalformedLine ??= counts.lines + counts.malformed;
      return;
    }
    counts.lines++;
    emit(decode(body, file, counts.lines + counts.malformed));
  };
  /** Whole lines separated by `\n`, the last one without its `\n`. */
  const region = (bytes: Buffer) => {
    if (isUtf8(bytes)) {
      // The common case: one decode and one split for the whole region.
      const lines = decode(bytes, file, counts.lines + counts.malformed + 1).split("\n");
      for (const l of lines) {
        counts.lines++;
        emit(l.length > 0 && l.charCodeAt(l.length - 1) === CARRIAGE_RETURN ? l.slice(0, -1) : l);
      }
      return;
    }
    let start = 0;
    for (let nl = bytes.indexOf(NEWLINE); nl >= 0; nl = bytes.indexOf(NEWLINE, start)) {
      line(bytes.subarray(start, nl));
      start = nl + 1;
    }
    line(bytes.subarray(start));
  };

  const fd = fs.openSync(file, "r");
  try {
    const size = fs.fstatSync(fd).size;
    const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(chunkBytes, size + 1)));
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      const chunk = buffer.subarray(0, n);
      const first = chunk.indexOf(NEWLINE);
      if (first < 0) {
        pending.push(Buffer.from(chunk)); // the buffer is reused: keep a copy
        pendingBytes += n;
        continue;
      }
      if (pendingBytes > 0) {
        pending.push(chunk.subarray(0, first));
        line(Buffer.concat(pending, pendingBytes + first));
      } else {
        line(chunk.subarray(0, first));
      }
      pending = [];
      pendingBytes = 0;
      const last = chunk.lastIndexOf(NEWLINE);
      if (last > first) region(chunk.subarray(first + 1, last));
      if (last + 1 < n) {
        pending.push(Buffer.from(chunk.subarray(last + 1)));
        pendingBytes = n - last - 1;
      }
    }
    if (pendingBytes > 0) line(Buffer.concat(pending, pendingBytes));
  } finally {
    fs.closeSync(fd);
  }
  return counts;
}

function decode(bytes: Buffer, file: string, lineNumber: number): string {
  try {
    return bytes.toString("utf8");
  } catch (e) {
    throw new SpateError(
      "SPATE_MALFORMED_INPUT",
      `Line ${lineNumber} of ${file} is ${bytes.length} bytes long, longer than the longest string JavaScript can ` +
        `hold: split it into lines (any size of file can be read, one line must fit in a string).`,
      { cause: e },
    );
  }
}
