/**
 * A small record with a revision, the primitive behind single ownership of a checkpoint location: NATS KV's
 * `create`/`update(key, value, revision)`, an object store's `If-None-Match: *`/`If-Match`, or a file created with
 * O_EXCL.
 */
export interface CheckpointRecord {
  /** Grows with every write of the record, and is never given twice for one record name. */
  revision: number;
  data: Uint8Array;
}

/**
 * Where checkpoints live: a flat namespace of files, each written atomically and durably. The file system is the
 * embedded default; the interface is small so that object storage can implement it.
 */
export interface CheckpointStore {
  /** A human-readable location (a path, a bucket URL). */
  readonly location: string;
  /** Writes a whole file atomically and durably; `name` has no slashes. */
  write(name: string, data: Uint8Array): Promise<void>;
  /** The file's bytes, or undefined when there is no such file. */
  read(name: string): Promise<Uint8Array | undefined>;
  /** Every file name (temporary files and records excluded). */
  list(): Promise<string[]>;
  /** Deletes a file; deleting a missing file is not an error. */
  delete(name: string): Promise<void>;
  /**
   * The current value of a record (outside the namespace of files), or undefined when it was never written.
   * Optional with {@link compareAndSetRecord}: a store without them runs without single ownership (spate logs a
   * warning at start).
   */
  readRecord?(name: string): Promise<CheckpointRecord | undefined>;
  /**
   * Writes a record durably if its revision is still `expected` (0: only if it does not exist yet), as one atomic
   * step. Returns the new revision, greater than every revision the record had, or undefined when the record had
   * another revision (someone else wrote first: nothing was written).
   */
  compareAndSetRecord?(name: string, data: Uint8Array, expected: number): Promise<number | undefined>;
  /**
   * Releases what the store holds open (a connection), called when a context using it stops; a store used again
   * after opens it again. Optional.
   */
  close?(): Promise<void>;
}
