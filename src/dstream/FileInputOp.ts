import * as fs from "node:fs";
import * as path from "node:path";
import type { DStream } from "../DStream.js";
import { SpateError } from "../errors.js";
import { RDD } from "../rdd/RDD.js";
import type { InputLog, Operator } from "./Operator.js";

interface FileLogData {
  /** `[batch time, file names]` of every batch kept. */
  batches: Array<[number, string[]]>;
  /** Every file name ever given to a batch: none is read twice. */
  seen: string[];
}

/**
 * `textFileStream(dir)` (Spark's FileInputDStream): each batch gets the files that appeared in the folder since the
 * previous batch, one partition per file, one record per line. The files chosen for each batch are recorded in
 * metadata checkpoints, so a restarted job reads exactly the same files for the same batches: no file is read
 * twice or skipped. Files must appear atomically (write elsewhere, then rename into the folder); names starting
 * with `.` or `_` are ignored.
 */
export class FileInputOp implements Operator<string> {
  readonly kind = "textFileStream";
  readonly parents: readonly DStream<any>[] = [];
  readonly input = true;
  private readonly batches = new Map<number, string[]>();
  private readonly seen = new Set<string>();

  constructor(
    readonly slideDuration: number,
    private readonly directory: string,
  ) {}

  readonly inputLog: InputLog = {
    replayable: true,
    save: (keepFrom: number): FileLogData => {
      for (const t of this.batches.keys()) if (t < keepFrom) this.batches.delete(t);
      return { batches: [...this.batches], seen: [...this.seen] };
    },
    restore: (data: unknown): void => {
      const d = data as FileLogData;
      this.batches.clear();
      this.seen.clear();
      for (const [t, files] of d.batches) this.batches.set(t, files);
      for (const f of d.seen) this.seen.add(f);
    },
  };

  /** The files given to the batch at `time`, if it was cut. */
  filesOf(time: number): string[] | undefined {
    return this.batches.get(time);
  }

  compute(time: number, self: DStream<string>): RDD<string> {
    let files = this.batches.get(time);
    if (!files) {
      files = this.newFiles();
      this.batches.set(time, files);
      for (const f of files) this.seen.add(f);
    }
    // Without checkpoints, only windows read past batches; with them, inputLog.save() prunes instead.
    if (self.context.checkpointDirectory === undefined) {
      for (const t of this.batches.keys()) if (t <= time - self.rememberDuration) this.batches.delete(t);
    }
    const contents = files.map((name) => this.read(name, time));
    return RDD.fromPartitions(contents.length > 0 ? contents : [[]], self.context.rddEnv);
  }

  private newFiles(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.directory);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
    const fresh: string[] = [];
    for (const name of names) {
      if (name.startsWith(".") || name.startsWith("_") || this.seen.has(name)) continue;
      const stat = fs.statSync(path.join(this.directory, name), { throwIfNoEntry: false });
      if (stat?.isFile()) fresh.push(name);
    }
    return fresh.sort();
  }

  private read(name: string, time: number): string[] {
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.directory, name), "utf8");
    } catch (e) {
      throw new SpateError(
        "SPATE_IO_ERROR",
        `The file ${name} of batch ${time} in ${this.directory} cannot be read (${(e as Error).message}); ` +
          "input files must stay in place until the batches that read them are checkpointed.",
        { cause: e },
      );
    }
    if (text === "") return [];
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  }
}
