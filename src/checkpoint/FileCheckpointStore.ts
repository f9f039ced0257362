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

  async write(name: string, data: Uint8Array): Promise<void> {
    await writeFileDurably(this.pathOf(name), data);
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    try {
      return await fs.readFile(this.pathOf(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  async list(): Promise<string[]> {
    try {
      return (await fs.readdir(this.location)).filter((n) => !n.startsWith("."));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
  }

  async delete(name: string): Promise<void> {
    await fs.rm(this.pathOf(name), { force: true });
  }
}
