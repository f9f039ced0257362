import { isAscii, isUtf8 } from "node:buffer";
import * as net from "node:net";
import { InvalidArgumentError, SpateError } from "../errors.js";
import { LinesBlock } from "./Block.js";
import { Receiver } from "./Receiver.js";

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Cuts a byte stream into lines at `\n`, a chunk at a time. The complete lines of a chunk (with the unfinished line
 * the chunks before left) are validated as UTF-8 in one go and kept as a {@link LinesBlock}, decoded when read:
 * `\n` never occurs inside a multi-byte UTF-8 sequence, so a character cut across two chunks is whole again in its
 * line. Only when a chunk is not valid UTF-8 are its lines decoded one by one, so that a malformed sequence spoils
 * only the line it is in.
 */
export class LineDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  /**
   * @param malformed called with each line that is not valid UTF-8 (without its line end), which is skipped.
   */
  constructor(private readonly malformed: (line: Buffer, error: unknown) => void) {}

  /** The lines that `chunk` completes, without their `\n` or `\r\n`. */
  push(chunk: Buffer): LinesBlock | string[] {
    const last = chunk.lastIndexOf(NEWLINE);
    if (last < 0) {
      if (chunk.length > 0) {
        this.pending.push(chunk);
        this.pendingBytes += chunk.length;
      }
      return [];
    }
    const pieces: Buffer[] = [];
    let from = 0;
    if (this.pendingBytes > 0) {
      // The line the chunks before left unfinished ends at the chunk's first `\n`.
      const first = chunk.indexOf(NEWLINE);
      this.pending.push(chunk.subarray(0, first));
      pieces.push(Buffer.concat(this.pending, this.pendingBytes + first));
      this.pending = [];
      this.pendingBytes = 0;
      from = first + 1;
    }
    if (from <= last) pieces.push(chunk.subarray(from, last));
    if (last + 1 < chunk.length) {
      this.pending.push(chunk.subarray(last + 1));
      this.pendingBytes = chunk.length - last - 1;
    }
    return this.decode(pieces);
  }

  /** Bytes received after the last `\n`. */
  get unfinishedBytes(): number {
    return this.pendingBytes;
  }

  /** The line after the last `\n`, at the end of the stream (none if it is empty or not UTF-8). */
  rest(): LinesBlock | string[] {
    if (this.pendingBytes === 0) return [];
    const bytes = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return this.decode([bytes]);
  }

  /** Pieces of `\n`-separated lines (the last one of each without its `\n`), validated. */
  private decode(pieces: Buffer[]): LinesBlock | string[] {
    if (pieces.every((p) => isAscii(p))) return LinesBlock.of(pieces, true);
    if (pieces.every((p) => isUtf8(p))) return LinesBlock.of(pieces, false);
    const lines: string[] = [];
    for (const p of pieces) for (const line of this.decodeOneByOne(p)) lines.push(line);
    return lines;
  }

  private decodeOneByOne(bytes: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    while (start <= bytes.length) {
      let end = bytes.indexOf(NEWLINE, start);
      if (end < 0) end = bytes.length;
      const line =
        end > start && bytes[end - 1] === CARRIAGE_RETURN
          ? bytes.subarray(start, end - 1)
          : bytes.subarray(start, end);
      try {
        lines.push(this.strict.decode(line));
      } catch (e) {
        this.malformed(line, e);
      }
      start = end + 1;
    }
    return lines;
  }
}

const SLAB_BYTES = 4 * 1024 * 1024;
const READ_BYTES = 64 * 1024;

/** Hands out the memory socket reads land in: consecutive windows of a slab, a new slab when one is full. */
class ReadSlabs {
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private used = 0;

  /** Where the next read goes. */
  next(): Buffer {
    if (SLAB_BYTES - this.used < READ_BYTES) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.used = 0;
    }
    return this.slab.subarray(this.used, this.used + READ_BYTES);
  }

  /** The bytes a read put into `window` (which `next` gave); they are never handed out again. */
  took(window: Buffer, bytes: number): Buffer {
    this.used += bytes;
    return window.subarray(0, bytes);
  }
}

/** Stores in flight (stored, not yet resolved) at which reading pauses, and the bytes they may hold. */
const MAX_STORES_IN_FLIGHT = 256;
const MAX_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

/**
 * Receives the lines of a TCP connection (the receiver of Spark's socketTextStream). Lines end with `\n` or
 * `\r\n` (neither is kept); a last line without one is stored when the peer closes the connection cleanly, and
 * dropped, with a reported error, when the connection breaks. A line that is not valid UTF-8 is skipped and
 * reported (`malformedLines` counts them). When the peer closes or resets the connection, or the server cannot be
 * reached, the receiver restarts: it reconnects after `spate.receiver.restartDelay`, doubling while no line
 * arrives.
 *
 * Each read from the socket is decoded in one go and stored as one block (one `storeLines` call). Reading goes on
 * while stores complete (with the write-ahead log, while earlier blocks are being made durable, so that one fsync
 * serves many blocks), and pauses once 256 stores or 16 MiB are pending, or, under a rate limit, while a store
 * waits for it: a rate limit or a slow log slows the sender through TCP flow control.
 *
 * Guarantee, with the write-ahead log: every line stored (once `storeLines` resolved) counts exactly once, across
 * crashes. A plain socket cannot replay, so lines that were in flight when the job died (in the kernel's buffers,
 * or read but not yet logged) are lost; a sender that needs more must use a source with acknowledgements.
 *
 * Subclass it and override `storeLines` to observe what is stored.
 */
export class SocketReceiver extends Receiver<string> {
  private socket: net.Socket | undefined;
  private malformed = 0;
  private dropped = 0;

  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super();
    if (typeof host !== "string" || host === "") {
      throw new InvalidArgumentError("socketTextStream() needs a host name or address, e.g. 'localhost'.");
    }
    if (!Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new InvalidArgumentError(
        `socketTextStream() needs a TCP port from 1 to 65535 (got ${String(port)}).`,
      );
    }
  }

  /** Lines skipped because they were not valid UTF-8. */
  get malformedLines(): number {
    return this.malformed;
  }

  /** Unfinished lines dropped because the connection broke in the middle of them. */
  get droppedPartialLines(): number {
    return this.dropped;
  }

  onStart(): void {
    // Reads land in slabs of a few MiB rather than a new buffer each: the blocks held until their batch runs are
    // then views of a few large buffers, not thousands of small ones for the garbage collector to track.
    const slabs = new ReadSlabs();
    let onChunk: (chunk: Buffer) => void = () => {};
    const socket = net.connect({
      host: this.host,
      port: this.port,
      onread: {
        buffer: () => slabs.next(),
        callback: (bytes: number, buffer: Uint8Array) => {
          onChunk(slabs.took(buffer as Buffer, bytes));
          return true;
        },
      },
    });
    this.socket = socket;
    onChunk = this.receive(socket);
  }

  onStop(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
  }

  /**
   * Stores the lines of one read; resolves once they are stored. Override it to observe what is stored (the lines
   * are then decoded on arrival rather than when a batch reads them, which costs some speed).
   */
  protected storeLines(lines: string[]): Promise<void> {
    return this.store(lines);
  }

  /**
   * Called once the lines of a read are stored (with the write-ahead log: durably logged), with their count and the
   * time from handing them to `store` to that point, in ms. Override it to observe the receiver's speed.
   */
  protected onStored(_lines: number, _storeMs: number): void {}

  /**
   * Whether reading pauses: under a rate limit, while one store waits (what was read but not admitted would be
   * lost at a stop); otherwise once many stores or bytes are pending.
   */
  private windowFull(stores: number, bytes: number): boolean {
    if (this.isRateLimited()) return stores >= 1;
    return stores >= MAX_STORES_IN_FLIGHT || bytes >= MAX_BYTES_IN_FLIGHT;
  }

  /** Follows the connection's life; returns what to do with each chunk read. */
  private receive(socket: net.Socket): (chunk: Buffer) => void {
    const where = `${this.host}:${this.port}`;
    let connected = false;
    /** Set once the connection ended, broke, or a store failed: nothing more is read or reported from it. */
    let done = false;
    let inFlight = 0;
    let bytesInFlight = 0;
    let endedCleanly = false;
    const decoder = new LineDecoder((line, error) => {
      this.malformed++;
      this.reportError(
        `Skipped a line from ${where} that is not valid UTF-8 (${line.length} bytes; ` +
          `${this.malformed} malformed line(s) skipped so far).`,
        new SpateError("SPATE_MALFORMED_INPUT", "A received line is not valid UTF-8.", { cause: error }),
      );
    });
    const current = () => this.socket === socket;
    const settled = (bytes: number) => {
      inFlight--;
      bytesInFlight -= bytes;
      if (socket.isPaused() && inFlight < MAX_STORES_IN_FLIGHT && bytesInFlight < MAX_BYTES_IN_FLIGHT)
        socket.resume();
      // The peer closed the connection: restart once everything it sent is stored.
      if (endedCleanly && inFlight === 0 && current()) this.restart(`${where} closed the connection`);
    };
    const failed = (error: unknown) => {
      if (done || !current()) return;
      done = true;
      this.restart(`Error receiving data from ${where}`, error);
    };
    // Blocks go in as they are, unless a subclass observes the lines themselves.
    const observed = this.storeLines !== SocketReceiver.prototype.storeLines;
    const store = (lines: LinesBlock | string[], bytes: number) => {
      const count = Array.isArray(lines) ? lines.length : lines.count;
      if (count === 0) return;
      inFlight++;
      bytesInFlight += bytes;
      if (this.windowFull(inFlight, bytesInFlight)) socket.pause();
      const started = performance.now();
      let stored: Promise<void>;
      try {
        stored = Array.isArray(lines)
          ? this.storeLines(lines)
          : observed
            ? this.storeLines(lines.records())
            : this.storeBlock(lines);
      } catch (e) {
        stored = Promise.reject(e);
      }
      stored.then(
        () => {
          this.onStored(count, performance.now() - started);
          settled(bytes);
        },
        (e) => {
          failed(e);
          settled(bytes);
        },
      );
    };
    socket.once("connect", () => {
      connected = true;
    });
    socket.on("end", () => {
      if (done || !current()) return;
      done = true;
      endedCleanly = true;
      store(decoder.rest(), 0);
      if (inFlight === 0) this.restart(`${where} closed the connection`);
    });
    const broke = (e: unknown) => {
      if (done || !current()) return; // stopped or restarting: the socket was destroyed on purpose
      done = true;
      if (decoder.unfinishedBytes > 0) {
        this.dropped++;
        this.reportError(
          `The connection to ${where} broke in the middle of a line: its first ${decoder.unfinishedBytes} bytes ` +
            `were dropped (${this.dropped} unfinished line(s) dropped so far).`,
          new SpateError("SPATE_CONNECTION_LOST", `Connection to ${where} lost mid-line.`, { cause: e }),
        );
      }
      this.restart(connected ? `Error receiving data from ${where}` : `Error connecting to ${where}`, e);
    };
    socket.on("error", broke);
    socket.on("close", () =>
      broke(new SpateError("SPATE_CONNECTION_LOST", `Connection to ${where} closed.`)),
    );
    return (chunk) => {
      if (done || !current()) return;
      store(decoder.push(chunk), chunk.length);
    };
  }
}
