import { promises as fs } from "node:fs";
import * as path from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { writeFileDurably } from "../io/durable.js";
import type { CheckpointStore } from "./CheckpointStore.js";

/** A {@link CheckpointStore} on a local directory (created on first write). */
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
}
