// fileStream / textFileStream as Spark's FileInputDStream: new files only by default, a filter, the names read
// remembered only for the remember window (by modification time, so checkpoints and memory stay bounded however
// many files are read), the folder recorded in the checkpoint, a missing folder warned and shown in the UI, files
// read as streams of lines with malformed UTF-8 counted and reported.
import { mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  type CheckpointStore,
  type DStream,
  type FileStreamOptions,
  type Logger,
  ManualClock,
  type ReceiverInfo,
  type SpateError,
  StreamingContext,
} from "spate";
import { afterEach, describe, expect, it } from "vitest";
import { decodeCheckpointFile } from "../../src/checkpoint/format.js";
import type { MetadataCheckpoint } from "../../src/checkpoint/metadata.js";
import { freePort, getJson } from "../ui/support.js";

const BATCH = 1000;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

const tempDir = (name: string) => mkdtempSync(path.join(tmpdir(), `spate-files-${name}-`));

/** Writes a file atomically (elsewhere, then renamed into the folder), as the source requires. */
function put(dir: string, name: string, text: string | Buffer, mtimeMs?: number): void {
  const tmp = path.join(dir, `.${name}.tmp`);
  writeFileSync(tmp, text);
  if (mtimeMs !== undefined) utimesSync(tmp, mtimeMs / 1000, mtimeMs / 1000);
  renameSync(tmp, path.join(dir, name));
}

class RecordingLogger implements Logger {
  readonly lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  debug(fields: Record<string, unknown>, message: string) {
    this.lines.push({ level: "debug", fields, message });
  }
  info(fields: Record<string, unknown>, message: string) {
    this.lines.push({ level: "info", fields, message });
  }
  warn(fields: Record<string, unknown>, message: string) {
    this.lines.push({ level: "warn", fields, message });
  }
  error(fields: Record<string, unknown>, message: string) {
    this.lines.push({ level: "error", fields, message });
  }
  warnings(): string[] {
    return this.lines.filter((l) => l.level === "warn").map((l) => l.message);
  }
}

/** A checkpoint store in memory that keeps the size of every metadata file written. */
class MemoryStore implements CheckpointStore {
  readonly files = new Map<string, Uint8Array>();
  readonly metadataSizes: number[] = [];
  readonly location = "memory";
  async write(name: string, data: Uint8Array) {
    this.files.set(name, data);
    if (name.startsWith("metadata-")) this.metadataSizes.push(data.length);
  }
  async read(name: string) {
    return this.files.get(name);
  }
  async list() {
    return [...this.files.keys()];
  }
  async delete(name: string) {
    this.files.delete(name);
  }
  newestMetadata(): MetadataCheckpoint {
    const name = [...this.files.keys()]
      .filter((n) => n.startsWith("metadata-"))
      .sort()
      .at(-1)!;
    return decodeCheckpointFile(this.files.get(name)!, "metadata", name) as MetadataCheckpoint;
  }
}

interface Job {
  ssc: StreamingContext;
  clock: ManualClock;
  batches: Map<number, string[]>;
  logger: RecordingLogger;
}

function job(
  input: string,
  options?: FileStreamOptions,
  conf: Record<string, string | number | boolean> = {},
  batchDuration = BATCH,
): () => StreamingContext {
  return () => {
    const ssc = new StreamingContext({
      batchDuration,
      clock: new ManualClock(0),
      logger: new RecordingLogger(),
      conf,
    });
    const lines: DStream<string> = options ? ssc.fileStream(input, options) : ssc.textFileStream(input);
    lines.foreachRDD(async (rdd, t) => {
      (ssc as unknown as { out: Map<number, string[]> }).out.set(t, (await rdd.collect()).sort());
    });
    (ssc as unknown as { out: Map<number, string[]> }).out = new Map();
    return ssc;
  };
}

function wrap(ssc: StreamingContext): Job {
  cleanups.push(() => ssc.stop());
  return {
    ssc,
    clock: ssc.clock as ManualClock,
    batches: (ssc as unknown as { out: Map<number, string[]> }).out,
    logger: (ssc as unknown as { log: RecordingLogger }).log,
  };
}

async function batch(j: Job, times = 1): Promise<void> {
  for (let i = 0; i < times; i++) {
    j.clock.advance(j.ssc.batchDuration);
    await j.ssc.awaitIdle();
  }
}

describe("fileStream and textFileStream", () => {
  it("skip the files already in the folder at the first start (newFilesOnly), unless told not to", async () => {
    const input = tempDir("new");
    put(input, "old.txt", "old line\n");
    const j = wrap(job(input)());
    await j.ssc.start();
    put(input, "new.txt", "new line\n");
    await batch(j);
    expect(j.batches.get(BATCH)).toEqual(["new line"]);
    expect(j.logger.lines.some((l) => /already in the folder/.test(l.message))).toBe(true);

    const all = wrap(job(input, { newFilesOnly: false })());
    await all.ssc.start();
    await batch(all);
    expect(all.batches.get(BATCH)).toEqual(["new line", "old line"]);
  });

  it("read only the files the filter accepts, given their paths; hidden names never", async () => {
    const input = tempDir("filter");
    const seen: string[] = [];
    const j = wrap(
      job(input, {
        filter: (p) => {
          seen.push(p);
          return p.endsWith(".csv");
        },
      })(),
    );
    await j.ssc.start();
    put(input, "a.csv", "1,2\n");
    put(input, "b.txt", "text\n");
    writeFileSync(path.join(input, "_c.csv"), "in progress\n");
    writeFileSync(path.join(input, ".d.csv"), "in progress\n");
    await batch(j);
    expect(j.batches.get(BATCH)).toEqual(["1,2"]);
    expect(seen).toContain(path.join(input, "a.csv"));
    expect(seen).toContain(path.join(input, "b.txt"));
    expect(seen.some((p) => /[._]c\.csv|\.d\.csv/.test(p))).toBe(false);
  });

  it("remember the names read only for the remember window: checkpoints and memory stay bounded over thousands of files", {
    timeout: 120_000,
  }, async () => {
    // Modification times on the manual clock's scale (as Spark's tests set them), so that the window passes.
    const input = tempDir("bounded");
    const store = new MemoryStore();
    // The default window: spate.fileStream.minRememberDuration = 60 s, 60 batches of 1 s.
    const batchMs = 1000;
    const ssc = await StreamingContext.getOrCreate(store, job(input));
    const j = wrap(ssc);
    await j.ssc.start();
    const BATCHES = 2000;
    const rememberedSizes: number[] = [];
    for (let i = 1; i <= BATCHES; i++) {
      const t = i * batchMs;
      put(input, `f${String(i).padStart(5, "0")}`, `line ${i}\n`, t);
      j.clock.setTime(t);
      await j.ssc.awaitIdle();
      if (i % 100 === 0) {
        const log = store.newestMetadata().inputs[j.ssc.graph.inputs[0]!.id] as {
          remembered?: unknown[];
          seen?: unknown[]; // what spate 0.1.0 wrote: every name read
        };
        rememberedSizes.push((log.remembered ?? log.seen)!.length);
      }
    }
    // Every file read exactly once.
    const read = [...j.batches.values()].flat();
    expect(read.length).toBe(BATCHES);
    expect(new Set(read).size).toBe(BATCHES);
    // The names remembered: those of the window (60 batches of one file, and the one being cut).
    expect(Math.max(...rememberedSizes)).toBeLessThanOrEqual(61);
    const op = j.ssc.graph.inputs[0]!.op as unknown as { rememberedFiles: number };
    expect(op.rememberedFiles).toBeLessThanOrEqual(61);
    // Metadata checkpoints stop growing: the last ones are no bigger than those after 100 batches.
    const early = Math.max(...store.metadataSizes.slice(200, 220));
    const late = Math.max(...store.metadataSizes.slice(-20));
    // (A few bytes more for batch times and modification times that take more digits; none per file read.)
    expect(late).toBeLessThanOrEqual(early + 64);
    expect(late).toBeLessThan(3000);
  });

  it("ignore a file modified before the batch time minus the window, from the second batch on", async () => {
    const input = tempDir("old-mtime");
    // The first batch takes every file not skipped, however old (newFilesOnly: false reads what is there).
    put(input, "ancient", "ancient\n", 1);
    const j = wrap(job(input, { newFilesOnly: false }, { "spate.fileStream.minRememberDuration": 3000 })());
    await j.ssc.start();
    await batch(j);
    expect(j.batches.get(BATCH)).toEqual(["ancient"]);
    await batch(j, 5); // at 6000; the batch at 7000 ignores files modified before 7000 - 3000
    put(input, "late", "late\n", 3999);
    put(input, "recent", "recent\n", 4000);
    put(input, "ancient2", "ancient2\n", 1);
    await batch(j);
    expect(j.batches.get(7 * BATCH)).toEqual(["recent"]);
    // Files with wall-clock modification times are never older than a manual clock's batch time minus the window.
    put(input, "now", "now\n");
    await batch(j);
    expect(j.batches.get(8 * BATCH)).toEqual(["now"]);
  });

  it("record the folder in the checkpoint: a restart on another folder fails, unless allowed", async () => {
    const base = tempDir("moved");
    const first = path.join(base, "in");
    mkdirSync(first);
    const checkpoint = path.join(base, "checkpoint");
    const a = wrap(await StreamingContext.getOrCreate(checkpoint, job(first)));
    await a.ssc.start();
    put(first, "f1", "one\n");
    await batch(a);
    await a.ssc.stop();

    const moved = path.join(base, "moved");
    renameSync(first, moved);
    const b = wrap(await StreamingContext.getOrCreate(checkpoint, job(moved)));
    const error = (await b.ssc.start().catch((e: unknown) => e)) as SpateError;
    expect(error.code).toBe("SPATE_INPUT_DIRECTORY_CHANGED");
    expect(error.message).toContain(first);
    expect(error.message).toContain(moved);
    expect(error.message).toContain("allowDirectoryChange");

    const c = wrap(
      await StreamingContext.getOrCreate(checkpoint, job(moved, { allowDirectoryChange: true })),
    );
    await c.ssc.start();
    put(moved, "f2", "two\n");
    await batch(c);
    // f1 was read before the move: not again.
    expect([...c.batches.values()].flat()).toEqual(["two"]);
    expect(c.logger.warnings().some((m) => /folder of a file stream changed/.test(m))).toBe(true);
  });

  it("give a stream added to a restored job the first start's newFilesOnly", async () => {
    const base = tempDir("added");
    const [x, y] = [path.join(base, "x"), path.join(base, "y")];
    mkdirSync(x);
    mkdirSync(y);
    const checkpoint = path.join(base, "checkpoint");
    const a = wrap(await StreamingContext.getOrCreate(checkpoint, job(x)));
    await a.ssc.start();
    put(x, "x1", "x one\n");
    await batch(a);
    await a.ssc.stop();

    put(x, "x2", "x two\n"); // arrived while the job was down: read
    put(y, "y1", "y one\n"); // already there when the new stream first starts: skipped
    const added: string[] = [];
    const b = wrap(
      await StreamingContext.getOrCreate(checkpoint, () => {
        const ssc = job(x)();
        ssc.textFileStream(y).foreachRDD(async (rdd) => void added.push(...(await rdd.collect())));
        return ssc;
      }),
    );
    await b.ssc.start();
    put(y, "y2", "y two\n");
    await batch(b);
    expect([...b.batches.values()].flat()).toEqual(["x two"]);
    expect(added).toEqual(["y two"]);
  });

  it("warn once about a missing folder, show it in the UI, and read it once it appears", async () => {
    const base = tempDir("missing");
    const input = path.join(base, "not-yet");
    const errors: ReceiverInfo[] = [];
    const ssc = job(input, undefined, { "spate.ui.port": await freePort() })();
    ssc.addStreamingListener({ onReceiverError: ({ receiverInfo }) => void errors.push(receiverInfo) });
    const j = wrap(ssc);
    await j.ssc.start();
    await batch(j, 3);
    const missing = j.logger.warnings().filter((m) => m.includes(input) && /does not exist/.test(m));
    expect(missing).toHaveLength(1);
    const inputs = (await getJson<any[]>(`${j.ssc.uiUrl}/api/v1/streaming/inputs`)).body;
    expect(inputs[0]).toMatchObject({ kind: "textFileStream", numErrors: 1 });
    expect(inputs[0].lastErrorMessage).toMatch(/does not exist/);
    expect(inputs[0].lastErrorTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(errors).toHaveLength(1);

    mkdirSync(input);
    put(input, "f", "here now\n");
    await batch(j);
    expect(j.batches.get(4 * BATCH)).toEqual(["here now"]);
    expect(j.logger.lines.some((l) => l.message === "the input folder exists now")).toBe(true);
  });

  it("skip and report lines that are not valid UTF-8, keep the valid ones", async () => {
    const input = tempDir("utf8");
    const errors: ReceiverInfo[] = [];
    const ssc = job(input)();
    ssc.addStreamingListener({ onReceiverError: ({ receiverInfo }) => void errors.push(receiverInfo) });
    const j = wrap(ssc);
    await j.ssc.start();
    put(
      input,
      "mixed",
      Buffer.concat([Buffer.from("fine\n"), Buffer.from([0x78, 0xff, 0x0a]), Buffer.from("ça va\n")]),
    );
    await batch(j);
    expect(j.batches.get(BATCH)).toEqual(["fine", "ça va"]);
    expect(j.batches.get(BATCH)!.some((l) => l.includes("\uFFFD"))).toBe(false);
    const warned = j.logger.warnings().filter((m) => /not valid UTF-8/.test(m));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(
      /Skipped 1 line\(s\) of .*mixed \(batch 1000\).*line 2 \(1 malformed line\(s\) skipped so far\)/,
    );
    expect(errors.map((e) => e.lastErrorMessage)).toEqual([warned[0]]);
    // The input count is the lines kept.
    expect(j.ssc.graph.inputs.length).toBe(1);
  });

  it("read a file of several MB as a stream, counting its lines as the batch's input", async () => {
    const input = tempDir("large");
    const records: number[] = [];
    const ssc = job(input)();
    ssc.addStreamingListener({
      onBatchCompleted: ({ batchInfo }) => void records.push(batchInfo.numRecords),
    });
    const j = wrap(ssc);
    await j.ssc.start();
    const lines = Array.from({ length: 200_000 }, (_, i) => `line ${i} ${"é".repeat(i % 13)}`);
    put(input, "big", `${lines.join("\n")}\n`);
    await batch(j);
    expect(j.batches.get(BATCH)!.length).toBe(lines.length);
    expect(j.batches.get(BATCH)).toEqual([...lines].sort());
    expect(records).toEqual([lines.length]);
  });

  it("say a file read again must stay in place only when it is gone", async () => {
    for (const change of ["deleted", "a folder"] as const) {
      const base = tempDir("gone");
      const input = path.join(base, "in");
      mkdirSync(input);
      const checkpoint = path.join(base, "checkpoint");
      const failing = () => {
        const ssc = new StreamingContext({ batchDuration: BATCH, clock: new ManualClock(0) });
        ssc.textFileStream(input).foreachRDD(() => {
          throw new Error("an output that fails");
        });
        return ssc;
      };
      const a = wrap(await StreamingContext.getOrCreate(checkpoint, failing));
      await a.ssc.start();
      put(input, "f", "line\n");
      await batch(a).catch(() => {});
      await a.ssc.stop();
      // The batch is recorded but not complete: a restart reads its file again.
      rmSync(path.join(input, "f"));
      if (change === "a folder") mkdirSync(path.join(input, "f"));
      const b = wrap(await StreamingContext.getOrCreate(checkpoint, job(input)));
      await b.ssc.start().catch(() => {});
      const error = (await b.ssc.awaitTermination().catch((e: unknown) => e)) as SpateError;
      expect(error.code, change).toBe("SPATE_IO_ERROR");
      expect(error.message).toContain(path.join(input, "f"));
      if (change === "deleted") expect(error.message).toMatch(/must stay in place/);
      else expect(error.message).not.toMatch(/stay in place/);
    }
  });

  it("take their options checked", () => {
    const ssc = new StreamingContext({ batchDuration: BATCH, clock: new ManualClock(0) });
    expect(() => ssc.fileStream("")).toThrow(/directory path/);
    expect(() => ssc.fileStream("x", { filter: 3 as never })).toThrow(/filter must be a function/);
    expect(() => ssc.fileStream("x", { newFilesOnly: "yes" as never })).toThrow(
      /newFilesOnly must be true or false/,
    );
    expect(() => ssc.fileStream("x", null as never)).toThrow(/options object/);
  });
});
