// The job of the crash test, run as a child process: word counts over a folder of files with updateStateByKey,
// mapWithState and a windowed count with an inverse function, each saved per batch with saveAsTextFiles. Every
// attempt at every batch also appends a hash of its outputs to attempts.log, so the test can check that a batch
// run before and after a kill wrote the same thing. A slow checkpoint store widens the window in which a kill
// lands inside a checkpoint. The parallelism (the last argument, default 2) may change from one restart to the
// next: state is then redistributed.
import { appendFileSync, closeSync, fsyncSync, openSync } from "node:fs";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { isMainThread } from "node:worker_threads";
import {
  type CheckpointStore,
  FileCheckpointStore,
  type JobArgs,
  type RDD,
  type State,
  StateSpec,
  StreamingContext,
} from "spate";

type Args = [checkpointDir: string, inputDir: string, outputDir: string, mode: string, parallelism?: string];
const BATCH = 200;
/** The job drops lines with the word "poison" (its function throws on them) and writes them as dead letters. */
const badRecords = process.env.SPATE_CRASH_BAD_RECORDS === "1";

function appendDurably(file: string, line: string): void {
  appendFileSync(file, line);
  const fd = openSync(file, "r");
  fsyncSync(fd);
  closeSync(fd);
}

class SlowStore implements CheckpointStore {
  constructor(private readonly inner: CheckpointStore) {}
  get location() {
    return this.inner.location;
  }
  async write(name: string, data: Uint8Array) {
    await new Promise((r) => setTimeout(r, Math.random() * 15));
    await this.inner.write(name, data);
  }
  read(name: string) {
    return this.inner.read(name);
  }
  list() {
    return this.inner.list();
  }
  delete(name: string) {
    return this.inner.delete(name);
  }
  // The owner record too, so that every restart takes the location over from the job it killed.
  readRecord(name: string) {
    return this.inner.readRecord!(name);
  }
  compareAndSetRecord(name: string, data: Uint8Array, expected: number) {
    return this.inner.compareAndSetRecord!(name, data, expected);
  }
}

function record(outputDir: string, name: string) {
  return async (rdd: RDD<unknown>, time: number) => {
    const lines = (await rdd.collect()).map((x) => JSON.stringify(x)).sort();
    const hash = createHash("sha256").update(lines.join("\n")).digest("hex").slice(0, 16);
    appendDurably(path.join(outputDir, "attempts.log"), `${name} ${time} ${hash}\n`);
  };
}

/**
 * Builds the job from its arguments (the module is its own jobModule, so worker threads rebuild the same graph by
 * calling this with the same arguments).
 */
export default function createContext(job: JobArgs): StreamingContext {
  const [, inputDir, outputDir, , parallelism = "2"] = job.args as Args;
  const ssc = new StreamingContext({
    batchDuration: BATCH,
    appName: "crash-wordcount",
    jobModule: { url: import.meta.url, args: job.args },
    conf: {
      "spate.checkpoint.interval": 2 * BATCH,
      "spate.checkpoint.retain": 4,
      "spate.default.parallelism": Number(parallelism),
      ...(badRecords
        ? {
            "spate.errors.onRecordFailure": "deadLetter",
            "spate.errors.deadLetter.dir": path.join(outputDir, "dead-letters"),
          }
        : {}),
    },
  });
  const lines = ssc.textFileStream(inputDir);
  lines.saveAsTextFiles(path.join(outputDir, "input"));
  const words = lines
    .flatMap((l) => {
      if (l.includes(" poison")) throw new SyntaxError(`poison: ${l}`);
      return l.split(" ").filter((w) => w !== "");
    })
    .map((w) => [w, 1] as [string, number]);
  const totals = words
    .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
    .uid("totals");
  totals.saveAsTextFiles(path.join(outputDir, "totals"));
  totals.foreachRDD(record(outputDir, "totals"));
  const sessions = words
    .mapWithState(
      StateSpec.function((_w: string, one: number | undefined, state: State<number>) => {
        state.update((state.getOption() ?? 0) + (one ?? 0));
      }),
    )
    .uid("sessions")
    .stateSnapshots();
  sessions.saveAsTextFiles(path.join(outputDir, "sessions"));
  sessions.foreachRDD(record(outputDir, "sessions"));
  const windowed = words
    .reduceByKeyAndWindow(
      (a, b) => a + b,
      (a, b) => a - b,
      3 * BATCH,
      BATCH,
    )
    .uid("window");
  windowed.saveAsTextFiles(path.join(outputDir, "window"));
  windowed.foreachRDD(record(outputDir, "window"));
  return ssc;
}

// Run as a program (node --import tsx test/crash/wordcount-job.ts ...); a worker thread only imports the module.
if (
  isMainThread &&
  process.argv[1] &&
  import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href
) {
  const args = process.argv.slice(2);
  const [checkpointDir, , outputDir, mode] = args as Args;
  const store = new SlowStore(new FileCheckpointStore(checkpointDir));
  const ssc = await StreamingContext.getOrCreate(store, () => createContext({ args, role: "driver" }));
  ssc.addStreamingListener({
    onBatchCompleted: ({ batchInfo }) => {
      if (batchInfo.failureReason === undefined) {
        appendDurably(path.join(outputDir, "completed.log"), `${batchInfo.batchTime}\n`);
      }
    },
  });
  await ssc.start();
  process.stdout.write(`started ${ssc.restoredFrom ? `restored ${ssc.restoredFrom.batchTime}` : "fresh"}\n`);
  if (mode === "final") {
    // Run until told to stop on stdin, then stop gracefully.
    process.stdin.once("data", () => {
      void ssc.stop({ stopGracefully: true }).then(() => process.exit(0));
    });
  }
  await ssc.awaitTermination();
}
