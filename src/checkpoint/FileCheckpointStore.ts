import { promises as fs } from "node:fs";
import * as path from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { createFileDurably, makeDirDurably, writeFileDurably } from "../io/durable.js";
import type { CheckpointRecord, CheckpointStore } from "./CheckpointStore.js";

const REVISION = /^\d{16}$/;
const revisionName = (revision: number) => String(revision).padStart(16, "0");

/**
 * A {@link CheckpointStore} on a local directory (created on first write). A record is a hidden folder
 * (`.record-<name>`) of files named by revision: a compare-and-set creates the next revision's file exclusively
 * (a hard link, which fails when the name exists), so of two writers expecting the same revision exactly one
 * wins; the highest revision is the record's value; older revisions are deleted behind it.
 */
export class FileCheckpointStore implements CheckpointStore {
  readonly location: string;

  constructor(directory: string) {
    this.location = path.resolve(directory);
  }

  private pathOf(name: string): string {
    if (name === "" || /[/\\]/.test(name) || name.startsWith(".")) {
      throw new InvalidArgumentError(
        `A checkpoint file name must be a plain name (got ${JSON.stringify(name)}).`,
      );
    }
    return path.join(this.location, name);
  }

  /**
   * When an operation failed because the checkpoint path is a file (or lies under one), an error that says so
   * instead of a bare ENOTDIR or EEXIST; otherwise the original error.
   */
  private async notAFolder(e: unknown): Promise<unknown> {
    const stat = await fs.stat(this.location).then(
      (s) => (s.isDirectory() ? "folder" : "file"),
      (err: NodeJS.ErrnoException) => (err.code === "ENOTDIR" ? "file" : "missing"),
    );
    if (stat !== "file") return e;
    return new InvalidArgumentError(
      `The checkpoint path ${this.location} is not a folder (a file is in the way). ` +
        "Give the path of a folder (it is created if missing), or move the file away.",
    );
  }

  async write(name: string, data: Uint8Array): Promise<void> {
    const file = this.pathOf(name);
    try {
      await writeFileDurably(file, data);
    } catch (e) {
      throw await this.notAFolder(e);
    }
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    const file = this.pathOf(name);
    try {
      return await fs.readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw await this.notAFolder(e);
    }
  }

  async list(): Promise<string[]> {
    try {
      return (await fs.readdir(this.location)).filter((n) => !n.startsWith("."));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw await this.notAFolder(e);
    }
  }

  async delete(name: string): Promise<void> {
    await fs.rm(this.pathOf(name), { force: true });
  }

  private recordDir(name: string): string {
    return path.join(this.location, `.record-${path.basename(this.pathOf(name))}`);
  }

  /** The revisions present, ascending. */
  private async revisions(dir: string): Promise<number[]> {
    try {
      return (await fs.readdir(dir))
        .filter((n) => REVISION.test(n))
        .map(Number)
        .sort((a, b) => a - b);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw await this.notAFolder(e);
    }
  }

  async readRecord(name: string): Promise<CheckpointRecord | undefined> {
    const dir = this.recordDir(name);
    // The newest revision is never deleted; an older one read while a newer one replaced it is read again.
    for (let attempt = 0; ; attempt++) {
      const revision = (await this.revisions(dir)).at(-1);
      if (revision === undefined) return undefined;
      try {
        return { revision, data: await fs.readFile(path.join(dir, revisionName(revision))) };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 10) throw e;
      }
    }
  }

  async compareAndSetRecord(name: string, data: Uint8Array, expected: number): Promise<number | undefined> {
    const dir = this.recordDir(name);
    try {
      await makeDirDurably(dir);
    } catch (e) {
      throw await this.notAFolder(e);
    }
    const before = await this.revisions(dir);
    if ((before.at(-1) ?? 0) !== expected) return undefined;
    const revision = expected + 1;
    const file = path.join(dir, revisionName(revision));
    if (!(await createFileDurably(file, data))) return undefined;
    // A writer that read revision `expected` long ago may find `expected + 1` free again because it was deleted
    // behind a newer revision: its file is then not the newest, and it lost.
    if ((await this.revisions(dir)).at(-1)! > revision) {
      await fs.rm(file, { force: true });
      return undefined;
    }
    for (const old of before) {
      if (old < expected) await fs.rm(path.join(dir, revisionName(old)), { force: true });
    }
    return revision;
  }
}
