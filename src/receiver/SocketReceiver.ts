import * as net from "node:net";
import { InvalidArgumentError, SpateError } from "../errors.js";
import { Receiver } from "./Receiver.js";

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Cuts a byte stream into lines at `\n`. Bytes are split before decoding: `\n` never occurs inside a multi-byte
 * UTF-8 sequence, so a character cut across two chunks is whole again in its line, and a malformed sequence spoils
 * only the line it is in.
 */
class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** The lines that `chunk` completes, without their `\n`. */
  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, nl);
      if (this.pendingBytes > 0) {
        this.pending.push(piece);
        lines.push(Buffer.concat(this.pending, this.pendingBytes + piece.length));
        this.pending = [];
        this.pendingBytes = 0;
      } else {
        lines.push(piece);
      }
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
    }
    return lines;
  }

  /** Bytes received after the last `\n`. */
  get unfinishedBytes(): number {
    return this.pendingBytes;
  }

  /** The bytes after the last `\n`, at the end of the stream. */
  rest(): Buffer | undefined {
    return this.pendingBytes > 0 ? Buffer.concat(this.pending, this.pendingBytes) : undefined;
  }
}

/**
 * Receives the lines of a TCP connection (the receiver of Spark's socketTextStream). Lines end with `\n` or
 * `\r\n` (neither is kept); a last line without one is stored when the peer closes the connection cleanly, and
 * dropped, with a reported error, when the connection breaks. A line that is not valid UTF-8 is skipped and
 * reported (`malformedLines` counts them). When the peer closes or resets the connection, or the server cannot be
 * reached, the receiver restarts: it reconnects after `spate.receiver.restartDelay`, doubling while no line
 * arrives. Reading pauses while a store is pending, so a rate limit slows the sender through TCP flow control.
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
  private readonly decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

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
    const socket = net.connect({ host: this.host, port: this.port });
    this.socket = socket;
    void this.receive(socket);
  }

  onStop(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
  }

  /** Stores the lines of one read; resolves once they are stored. Override it to observe what is stored. */
  protected storeLines(lines: string[]): Promise<void> {
    return this.store(lines);
  }

  private async receive(socket: net.Socket): Promise<void> {
    const where = `${this.host}:${this.port}`;
    let connected = false;
    socket.once("connect", () => {
      connected = true;
    });
    const splitter = new LineSplitter();
    try {
      // Async iteration reads a chunk only when the previous one is stored: a slow store pauses the socket.
      for await (const chunk of socket as AsyncIterable<Buffer>) {
        const lines = this.decode(splitter.push(chunk));
        if (lines.length > 0) await this.storeLines(lines);
        if (this.socket !== socket) return;
      }
      if (this.socket !== socket) return;
      const rest = splitter.rest();
      const last = rest ? this.decode([rest]) : [];
      if (last.length > 0) await this.storeLines(last);
      if (this.socket === socket) this.restart(`${where} closed the connection`);
    } catch (e) {
      if (this.socket !== socket) return; // stopped or restarting: the socket was destroyed on purpose
      if (splitter.unfinishedBytes > 0) {
        this.dropped++;
        this.reportError(
          `The connection to ${where} broke in the middle of a line: its first ${splitter.unfinishedBytes} bytes ` +
            `were dropped (${this.dropped} unfinished line(s) dropped so far).`,
          new SpateError("SPATE_CONNECTION_LOST", `Connection to ${where} lost mid-line.`, { cause: e }),
        );
      }
      this.restart(connected ? `Error receiving data from ${where}` : `Error connecting to ${where}`, e);
    }
  }

  private decode(raw: Buffer[]): string[] {
    const lines: string[] = [];
    for (const bytes of raw) {
      const line =
        bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN ? bytes.subarray(0, -1) : bytes;
      try {
        lines.push(this.decoder.decode(line));
      } catch (e) {
        this.malformed++;
        this.reportError(
          `Skipped a line from ${this.host}:${this.port} that is not valid UTF-8 (${line.length} bytes; ` +
            `${this.malformed} malformed line(s) skipped so far).`,
          new SpateError("SPATE_MALFORMED_INPUT", "A received line is not valid UTF-8.", { cause: e }),
        );
      }
    }
    return lines;
  }
}
