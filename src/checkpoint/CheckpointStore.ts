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
  /** Every file name (temporary files excluded). */
  list(): Promise<string[]>;
  /** Deletes a file; deleting a missing file is not an error. */
  delete(name: string): Promise<void>;
}
