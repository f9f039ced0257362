import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { SpateError } from "../errors.js";

/**
 * Every durable write goes through here: write under a temporary name, fsync, rename into place, fsync the
 * folder. A reader sees the old content or the new, never a torn file.
 */
async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function tempName(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
}

async function writeSynced(file: string, data: string | Uint8Array): Promise<void> {
  const handle = await fs.open(file, "w");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function ioError(what: string, cause: unknown): SpateError {
  const msg = cause instanceof Error ? cause.message : String(cause);
  return new SpateError(
    "SPATE_IO_ERROR",
    `${what} failed: ${msg}. Check that the path exists and is writable.`,
    {
      cause,
      retriable: true,
    },
  );
}

/** Writes `data` to `file` atomically and durably. */
export async function writeFileDurably(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempName(file);
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await writeSynced(tmp, data);
    await fs.rename(tmp, file);
    await fsyncDir(path.dirname(file));
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw ioError(`Writing ${file}`, e);
  }
}

/**
 * Writes a folder of files atomically: the folder appears whole under its name, or not at all. A folder already
 * there (a batch written again after a restart) is replaced.
 */
export async function writeDirDurably(
  dir: string,
  files: Array<[name: string, data: string | Uint8Array]>,
): Promise<void> {
  const tmp = tempName(dir);
  const trash = `${tmp}.old`;
  try {
    await fs.mkdir(tmp, { recursive: true });
    for (const [name, data] of files) await writeSynced(path.join(tmp, name), data);
    await fsyncDir(tmp);
    const replaced = await fs.rename(dir, trash).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT") return false;
        throw e;
      },
    );
    await fs.rename(tmp, dir);
    await fsyncDir(path.dirname(dir));
    if (replaced) await fs.rm(trash, { recursive: true, force: true });
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw ioError(`Writing the folder ${dir}`, e);
  }
}

/** Errors of a file system that has no hard links (FAT, some network and FUSE mounts). */
const NO_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV"]);

/**
 * Creates `file` with `data` only if no file has that name, durably: true when this call created it, false when
 * it existed. The content is written and fsynced under a temporary name, then hard-linked to `file` (link fails
 * when the name exists, and the file appears whole). Where the file system has no hard links, the file is
 * created with O_EXCL and written in place: a reader may then see it empty for a moment, and must retry.
 */
export async function createFileDurably(file: string, data: Uint8Array): Promise<boolean> {
  const tmp = tempName(file);
  try {
    await writeSynced(tmp, data);
    let created: boolean;
    try {
      await fs.link(tmp, file);
      created = true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      if (code === "EEXIST") created = false;
      else if (NO_LINKS.has(code)) created = await createExclusive(file, data);
      else throw e;
    }
    await fs.rm(tmp, { force: true });
    if (created) await fsyncDir(path.dirname(file));
    return created;
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {});
    throw ioError(`Creating ${file}`, e);
  }
}

async function createExclusive(file: string, data: Uint8Array): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, "wx");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

/** Makes a folder and its entry in its parent durable. */
export async function makeDirDurably(dir: string): Promise<void> {
  try {
    const made = await fs.mkdir(dir, { recursive: true });
    if (made !== undefined) await fsyncDir(path.dirname(dir));
  } catch (e) {
    throw ioError(`Creating the folder ${dir}`, e);
  }
}
