import * as fs from "node:fs";
import * as path from "node:path";
import { SpateError } from "../errors.js";
import { RDD } from "../rdd/RDD.js";
import type { ReceiverInfo } from "../scheduler/StreamingListener.js";
import { Allocations } from "./Allocations.js";
import { readLines } from "./lines.js";
import type { GraphNode, InputLog, Operator } from "./Operator.js";

/** Options of `fileStream(directory, options)`; `textFileStream(directory)` is `fileStream` with none. */
export interface FileStreamOptions {
  /**
   * Chooses the files to read, given each file's path (the folder joined with its name); called for every file not
   * read yet, every batch. Names starting with `.` or `_` (files being written) are never read.
   */
  filter?: (path: string) => boolean;
  /**
   * Skip the files already in the folder when the job first starts (default true, as Spark). A job restored from
   * a checkpoint goes on from what the checkpoint recorded instead.
   */
  newFilesOnly?: boolean;
  /**
   * Restore a checkpoint that recorded another folder, carrying what it recorded (files read, batches to re-run)
   * over to this one: for a folder that was moved. Without it, such a restart fails with
   * SPATE_INPUT_DIRECTORY_CHANGED.
   */
  allowDirectoryChange?: boolean;
}

/** The input log of spate 0.1.0: every file name ever read. Still restored. */
interface FileLogDataV1 {
  batches: Array<[number, string[]]>;
  seen: string[];
}

interface FileLogData {
  /** The folder, as an absolute path. */
  directory: string;
  /**
   * `[batch time, file names]` of every batch a recovery may run again that got files (before the down-time change,
   * empty batches were listed too).
   */
  batches: Array<[number, string[]]>;
  /** The latest batch time allocated: later ones not listed got no file (absent before the down-time change). */
  through?: number;
  /** `[name, modification time]` of the files taken (or skipped at the first start) not older than `threshold`. */
  remembered: Array<[string, number]>;
  /** Files modified before this (ms since the epoch) are ignored; -Infinity before the first batch. */
  threshold: number;
}

/** Files whose lines take at most this many characters are kept in memory for the batch, and read once. */
const KEEP_CHARS = 16 << 20;

/**
 * `fileStream(dir)` / `textFileStream(dir)` (Spark's FileInputDStream): each batch gets the files that appeared in
 * the folder since the previous batch, one partition per file, one record per line. The files chosen for each
 * batch are recorded in metadata checkpoints, so a restarted job reads exactly the same files for the same
 * batches: no file is read twice or skipped. Files must appear atomically (write elsewhere, then rename into the
 * folder); names starting with `.` or `_` are ignored.
 *
 * Which files are new (Spark's rule, by modification time): the names taken are remembered, so that none is
 * taken twice, but only for the remember window (`spate.fileStream.minRememberDuration` rounded up to whole
 * batches); from the second batch on, files modified before the batch time minus the window are ignored, and
 * their names forgotten. Modification times are wall-clock times: the batch time is compared with them, or the
 * wall-clock time when that is earlier (a manual clock ahead of real time never makes new files look old).
 */
export class FileInputOp implements Operator<string> {
  readonly kind = "textFileStream";
  readonly parents: readonly GraphNode<any>[] = [];
  readonly input = true;
  private readonly batches = new Allocations<string[]>();
  private readonly remembered = new Map<string, number>();
  private threshold = Number.NEGATIVE_INFINITY;
  /** The next batch is the first one of a job that did not restore a checkpoint: no age threshold applies. */
  private firstBatch = false;
  /** Whether a checkpoint's record of this stream was restored (a stream new in a restored job has none). */
  private restored = false;
  private rememberWindow = 0;
  private readonly absolute: string;
  /**
   * Names found older than the threshold at the last listing (Spark's modification time cache): not examined again
   * while they stay in the folder, since the threshold only moves on. Held in memory only.
   */
  private tooOld = new Set<string>();
  private missing = false;
  private malformed = 0;
  private status: ReceiverInfo | undefined;

  constructor(
    readonly slideDuration: number,
    private readonly directory: string,
    private readonly options: FileStreamOptions = {},
  ) {
    this.absolute = path.resolve(directory);
  }

  /** Lines skipped because they were not valid UTF-8 (in this process). */
  get malformedLines(): number {
    return this.malformed;
  }

  /** The names remembered so that they are not read again (bounded by the remember window). */
  get rememberedFiles(): number {
    return this.remembered.size;
  }

  readonly inputLog: InputLog = {
    replayable: true,
    save: (keepFrom: number): FileLogData => {
      this.batches.prune(keepFrom);
      return {
        directory: this.absolute,
        batches: [...this.batches.entries()],
        through: this.batches.through,
        remembered: [...this.remembered],
        threshold: this.threshold,
      };
    },
    restore: (data: unknown, self: GraphNode<any>): void => {
      this.remembered.clear();
      this.threshold = Number.NEGATIVE_INFINITY;
      this.restored = true;
      if (isV1(data)) {
        // 0.1.0 remembered every name it read; modification times come from the files still there.
        this.batches.restore(data.batches, (files) => files.length === 0, undefined);
        for (const name of data.seen) {
          const stat = fs.statSync(path.join(this.absolute, name), { throwIfNoEntry: false });
          if (stat) this.remembered.set(name, stat.mtimeMs);
        }
        return;
      }
      const d = data as FileLogData;
      if (!sameFolder(d.directory, this.absolute)) {
        if (!this.options.allowDirectoryChange) {
          throw new SpateError(
            "SPATE_INPUT_DIRECTORY_CHANGED",
            `The checkpoint in ${self.env.checkpointDirectory} recorded ${self.id} reading the folder ` +
              `${d.directory}, and the job now reads ${this.absolute}: the files it read there would be skipped ` +
              "here by name, and the batches it re-runs would read files that are not there. Read the same folder " +
              "again, start from a new checkpoint folder, or, if the folder was moved, pass " +
              "{ allowDirectoryChange: true } to fileStream().",
          );
        }
        self.env.log.warn(
          { streamId: self.id, recorded: d.directory, directory: this.absolute },
          "the folder of a file stream changed (allowDirectoryChange): what the checkpoint recorded carries over",
        );
      }
      this.batches.restore(d.batches, (files) => files.length === 0, d.through);
      for (const [name, mtime] of d.remembered) this.remembered.set(name, mtime);
      this.threshold = d.threshold;
    },
    allocateEmptyThrough: (time: number): void => this.batches.allocateEmptyThrough(time),
  };

  initialize(self: GraphNode<string>, _zeroTime: number, restoring: boolean): void {
    const batch = this.slideDuration;
    const min = self.env.conf.getNumber("spate.fileStream.minRememberDuration") ?? 60_000;
    this.rememberWindow = Math.ceil(Math.max(min, batch) / batch) * batch;
    // A job restored from a checkpoint goes on from what it recorded; a stream the checkpoint does not know starts
    // as on a first start.
    if (restoring && this.restored) return;
    this.firstBatch = true;
    if (this.options.newFilesOnly === false) return;
    const existing = this.list(self);
    for (const [name, mtime] of existing) this.remembered.set(name, mtime);
    if (existing.length > 0) {
      self.env.log.info(
        { streamId: self.id, directory: this.absolute, files: existing.length },
        "files already in the folder at the first start are skipped (newFilesOnly)",
      );
    }
  }

  describeInput(time: number): string | undefined {
    const files = this.batches.get(time) ?? (this.batches.has(time) ? [] : undefined);
    if (!files) return undefined;
    const more = files.length > 20 ? ` and ${files.length - 20} more` : "";
    return `${files.length === 0 ? "no new files" : `${files.slice(0, 20).join(", ")}${more}`} in ${this.absolute}`;
  }

  /** The files given to the batch at `time`, if it was cut. */
  filesOf(time: number): string[] | undefined {
    return this.batches.has(time) ? (this.batches.get(time) ?? []) : undefined;
  }

  compute(time: number, self: GraphNode<string>): RDD<string> {
    let files = this.batches.get(time);
    if (!files && this.batches.has(time)) files = []; // allocated, and given no file
    if (!files) {
      files = this.newFiles(time, self);
      this.batches.set(time, files, files.length === 0);
    }
    // Without checkpoints, only windows read past batches; with them, inputLog.save() prunes instead.
    if (self.env.checkpointDirectory === undefined) this.batches.prune(time - self.rememberDuration + 1);
    if (files.length === 0) return RDD.fromPartitions([[]], self.env.rddEnv);
    return this.linesOf(files, time, self);
  }

  /** Takes the new files of the batch at `time` and moves the age threshold on. */
  private newFiles(time: number, self: GraphNode<string>): string[] {
    const threshold = Math.max(this.threshold, Math.min(time, Date.now()) - this.rememberWindow);
    const ignoreBefore = this.firstBatch ? Number.NEGATIVE_INFINITY : threshold;
    const fresh = this.list(self, ignoreBefore);
    for (const [name, mtime] of fresh) this.remembered.set(name, mtime);
    this.firstBatch = false;
    this.threshold = threshold;
    for (const [name, mtime] of this.remembered) if (mtime < threshold) this.remembered.delete(name);
    return fresh.map(([name]) => name).sort();
  }

  /** The files of the folder not remembered, not hidden, accepted by the filter and modified at or after `since`. */
  private list(self: GraphNode<string>, since = Number.NEGATIVE_INFINITY): Array<[string, number]> {
    let names: string[];
    try {
      names = fs.readdirSync(this.absolute);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        this.reportMissing(self);
        return [];
      }
      throw new SpateError(
        "SPATE_IO_ERROR",
        code === "ENOTDIR"
          ? `${self.id} reads the folder ${this.absolute}, which is a file: give fileStream() a folder.`
          : `The folder ${this.absolute} of ${self.id} cannot be listed (${(e as Error).message}).`,
        { cause: e },
      );
    }
    if (this.missing) {
      this.missing = false;
      self.env.log.info({ streamId: self.id, directory: this.absolute }, "the input folder exists now");
      this.post(self, "onReceiverStarted", (s) => {
        s.active = true;
      });
    }
    const filter = this.options.filter;
    const out: Array<[string, number]> = [];
    const tooOld = new Set<string>();
    for (const name of names) {
      if (name.startsWith(".") || name.startsWith("_") || this.remembered.has(name)) continue;
      if (this.tooOld.has(name)) {
        tooOld.add(name);
        continue;
      }
      const full = path.join(this.absolute, name);
      if (filter && !filter(full)) continue;
      const stat = fs.statSync(full, { throwIfNoEntry: false });
      if (!stat?.isFile()) continue;
      if (stat.mtimeMs >= since) out.push([name, stat.mtimeMs]);
      else tooOld.add(name);
    }
    this.tooOld = tooOld;
    return out;
  }

  /** One partition per file, read as a stream of lines each time it is computed (small files only once). */
  private linesOf(files: string[], time: number, self: GraphNode<string>): RDD<string> {
    const kept: Array<string[] | undefined> = new Array(files.length);
    const reported: boolean[] = new Array(files.length).fill(false);
    return new RDD<string>(
      files.length,
      (p, emit) => {
        const done = kept[p];
        if (done) {
          for (let i = 0; i < done.length; i++) emit(done[i]!);
          return;
        }
        let keep: string[] | undefined = [];
        let chars = 0;
        const file = path.join(this.absolute, files[p]!);
        const counts = this.read(file, time, (line) => {
          if (keep) {
            chars += line.length;
            if (chars > KEEP_CHARS) keep = undefined;
            else keep.push(line);
          }
          emit(line);
        });
        kept[p] = keep;
        if (counts.malformed > 0 && !reported[p]) {
          reported[p] = true;
          this.reportMalformed(self, file, time, counts.malformed, counts.firstMalformedLine!);
        }
      },
      self.env.rddEnv,
    );
  }

  private read(file: string, time: number, emit: (line: string) => void) {
    try {
      return readLines(file, emit);
    } catch (e) {
      if (e instanceof SpateError || !(e as NodeJS.ErrnoException).syscall) throw e;
      const gone = (e as NodeJS.ErrnoException).code === "ENOENT";
      throw new SpateError(
        "SPATE_IO_ERROR",
        `The file ${file} of batch ${time} cannot be read (${(e as Error).message})` +
          (gone
            ? "; input files must stay in place until the batches that read them are checkpointed."
            : "."),
        { cause: e },
      );
    }
  }

  private reportMissing(self: GraphNode<string>): void {
    if (this.missing) return;
    this.missing = true;
    const message =
      `The folder ${this.absolute} of ${self.id} does not exist: its batches are empty until it is created ` +
      "(check the path if that is not expected).";
    self.env.log.warn({ streamId: self.id, directory: this.absolute }, message);
    this.post(self, "onReceiverError", (s) => {
      s.active = false;
      s.lastErrorMessage = message;
      s.lastError = "ENOENT";
      s.lastErrorTime = Date.now();
    });
  }

  private reportMalformed(
    self: GraphNode<string>,
    file: string,
    time: number,
    lines: number,
    first: number,
  ): void {
    this.malformed += lines;
    const message =
      `Skipped ${lines} line(s) of ${file} (batch ${time}) that are not valid UTF-8, the first at line ${first} ` +
      `(${this.malformed} malformed line(s) skipped so far).`;
    self.env.log.warn(
      { streamId: self.id, batchTime: time, file, malformedLines: lines, code: "SPATE_MALFORMED_INPUT" },
      message,
    );
    this.post(self, "onReceiverError", (s) => {
      s.lastErrorMessage = message;
      s.lastError = "SpateError: SPATE_MALFORMED_INPUT";
      s.lastErrorTime = Date.now();
    });
  }

  /** The stream's status as a receiver's, for the UI's inputs table (errors, and whether the folder exists). */
  private post(
    self: GraphNode<string>,
    event: "onReceiverError" | "onReceiverStarted",
    update: (s: ReceiverInfo) => void,
  ): void {
    this.status ??= {
      streamId: self.id,
      name: "FileInputDStream",
      active: true,
      restarts: 0,
      recordsStored: 0,
    };
    update(this.status);
    const info = { ...this.status };
    self.env.listenerBus.post(event, () => ({ receiverInfo: info }));
  }
}

function isV1(data: unknown): data is FileLogDataV1 {
  return typeof data === "object" && data !== null && "seen" in data && !("remembered" in data);
}

function sameFolder(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return fs.realpathSync(a) === fs.realpathSync(b);
  } catch {
    return false;
  }
}
