import { CheckpointCorruptError } from "../errors.js";

/**
 * Records a receiver stored in one call, held in the form they arrived in and decoded each time a batch reads them
 * (Spark keeps received blocks serialized too). A block of lines is the bytes of one socket read: millions of line
 * strings held until their batch runs would cost the garbage collector far more than decoding them when read.
 */
export interface StoredBlock<T> {
  /** How many records it holds. */
  readonly count: number;
  /** Pushes its records, in order, to `emit`. */
  forEach(emit: (record: T) => void): void;
  /** Its records, as a new array. */
  records(): T[];
  /** Its write-ahead log record, in pieces to write one after another. */
  encode(): Uint8Array[];
}

const CARRIAGE_RETURN = 0x0d;

/** `SPLN`: a write-ahead log record holding a block of lines (older records are checkpoint files, `SPTE`). */
const LINES_MAGIC = [0x53, 0x50, 0x4c, 0x4e];
const LINES_VERSION = 1;
const LINES_HEADER = 12;
const HAS_CARRIAGE_RETURNS = 1;
const ASCII_ONLY = 2;

const NEWLINE = Buffer.from("\n");

/**
 * Lines as the UTF-8 bytes they arrived in, already validated: one or more pieces, each of whole lines separated by
 * `\n` (the last without its `\n`); each line is decoded without a trailing `\r`.
 */
export class LinesBlock implements StoredBlock<string> {
  constructor(
    readonly pieces: readonly Buffer[],
    readonly count: number,
    /** Whether some line may end with `\r` (to strip). */
    readonly carriageReturns: boolean,
    /** Whether every byte is ASCII: then decoding is a copy. */
    readonly ascii: boolean,
  ) {}

  /**
   * A block of the lines in `pieces` (valid UTF-8, each of `\n`-separated lines with no `\n` at the end);
   * `ascii` when every byte is below 0x80.
   */
  static of(pieces: readonly Buffer[], ascii: boolean): LinesBlock {
    let count = 0;
    let carriageReturns = false;
    for (const bytes of pieces) {
      count++;
      for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) count++;
      carriageReturns ||= bytes.indexOf(CARRIAGE_RETURN) >= 0;
    }
    return new LinesBlock(pieces, count, carriageReturns, ascii);
  }

  /** A piece's text: ASCII is decoded as Latin-1, a plain copy, which gives the same string. */
  private text(piece: Buffer): string {
    return piece.toString(this.ascii ? "latin1" : "utf8");
  }

  records(): string[] {
    let lines = this.text(this.pieces[0]!).split("\n");
    for (let p = 1; p < this.pieces.length; p++) lines = lines.concat(this.text(this.pieces[p]!).split("\n"));
    if (this.carriageReturns) {
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        if (line.charCodeAt(line.length - 1) === CARRIAGE_RETURN) lines[i] = line.slice(0, -1);
      }
    }
    return lines;
  }

  forEach(emit: (record: string) => void): void {
    const cr = this.carriageReturns;
    for (const piece of this.pieces) {
      const lines = this.text(piece).split("\n");
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        emit(cr && line.charCodeAt(line.length - 1) === CARRIAGE_RETURN ? line.slice(0, -1) : line);
      }
    }
  }

  /**
   * `[magic "SPLN" | version u16 | flags u8 (1: some \r to strip, 2: ASCII only) | reserved u8 | line count u32 |
   * lines joined by \n]`; the log frame checksums it.
   */
  encode(): Uint8Array[] {
    const header = Buffer.allocUnsafe(LINES_HEADER);
    header.set(LINES_MAGIC, 0);
    header.writeUInt16BE(LINES_VERSION, 4);
    header.writeUInt8((this.carriageReturns ? HAS_CARRIAGE_RETURNS : 0) | (this.ascii ? ASCII_ONLY : 0), 6);
    header.writeUInt8(0, 7);
    header.writeUInt32BE(this.count, 8);
    const out: Uint8Array[] = [header];
    for (const [i, piece] of this.pieces.entries()) {
      if (i > 0) out.push(NEWLINE);
      out.push(piece);
    }
    return out;
  }

  /** Whether a write-ahead log record is a block of lines. */
  static isRecord(record: Uint8Array): boolean {
    return record.length >= LINES_HEADER && LINES_MAGIC.every((b, i) => record[i] === b);
  }

  /** The block a record encodes (the record's bytes are shared, not copied). */
  static decode(record: Uint8Array, where: string): LinesBlock {
    const bytes = Buffer.from(record.buffer, record.byteOffset, record.byteLength);
    const version = bytes.readUInt16BE(4);
    if (version !== LINES_VERSION) {
      throw new CheckpointCorruptError(
        `Write-ahead log record ${where} holds lines in format version ${version} (this build reads ` +
          `${LINES_VERSION}); upgrade spate.`,
        where,
      );
    }
    const flags = bytes.readUInt8(6);
    return new LinesBlock(
      [bytes.subarray(LINES_HEADER)],
      bytes.readUInt32BE(8),
      (flags & HAS_CARRIAGE_RETURNS) !== 0,
      (flags & ASCII_ONLY) !== 0,
    );
  }
}
