/** Where a record is in a write-ahead log. */
export interface WalRecordHandle {
  readonly segment: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * A durable, append-only log of records (Spark's WriteAheadLog): a record counts once `write` resolves, and
 * survives a crash of the process at any instant.
 */
export interface WriteAheadLog {
  /**
   * Appends a record durably (given whole, or in pieces to write one after another); `time` is the clock time it
   * belongs to, used by `clean`.
   */
  write(record: Uint8Array | readonly Uint8Array[], time: number): Promise<WalRecordHandle>;
  read(handle: WalRecordHandle): Promise<Uint8Array>;
  /** Every record, in write order. */
  readAll(): AsyncIterable<{ handle: WalRecordHandle; time: number; record: Uint8Array }>;
  /** Deletes whole segments whose records are all older than `threshTime`. */
  clean(threshTime: number): Promise<void>;
  close(): Promise<void>;
}
