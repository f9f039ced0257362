// The job of the down-time crash test, run as a child process on a ManualClock: `first` runs five batches of
// input (one file each) and stops; `restart <clock>` restarts at that clock time, catches up every batch since the
// checkpoint, prints "caught up" and stops. Each output appends a line per attempt at each batch to out.log: the
// batch's record count, the running total (updateStateByKey) and a window of 3 batches.
import { appendFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { isMainThread } from "node:worker_threads";
import { type JobArgs, ManualClock, type RDD, StreamingContext } from "spate";

type Args = [
  checkpointDir: string,
  inputDir: string,
  outLog: string,
  mode: "first" | "restart",
  clock?: string,
];
const BATCH = 1000;

function record(outLog: string, kind: string) {
  return async (rdd: RDD<number>, time: number) => {
    const values = await rdd.collect();
    appendFileSync(outLog, `${kind} ${time} ${values.reduce((a, b) => a + b, 0)}\n`);
  };
}

/** Builds the job from its arguments; the module is its own jobModule (worker threads rebuild the same graph). */
export default function createContext(job: JobArgs): StreamingContext {
  const [, inputDir, outLog, mode, clockArg] = job.args as Args;
  const ssc = new StreamingContext({
    batchDuration: BATCH,
    appName: "crash-downtime",
    jobModule: { url: import.meta.url, args: job.args },
    clock: new ManualClock(mode === "first" ? 0 : Number(clockArg)),
    conf: { "spate.ui.port": 0, "spate.checkpoint.interval": 5 * BATCH },
  });
  const words = ssc.textFileStream(inputDir);
  words.count().foreachRDD(record(outLog, "in"));
  words
    .map((w) => [w, 1] as [string, number])
    .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
    .uid("totals")
    .map(([, n]) => n)
    .foreachRDD(record(outLog, "total"));
  words
    .window(3 * BATCH, BATCH)
    .count()
    .foreachRDD(record(outLog, "win"));
  return ssc;
}

// Run as a program; a worker thread only imports the module.
if (
  isMainThread &&
  process.argv[1] &&
  import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href
) {
  const args = process.argv.slice(2);
  const [checkpointDir, inputDir, , mode] = args as Args;
  const ssc = await StreamingContext.getOrCreate(checkpointDir, () =>
    createContext({ args, role: "driver" }),
  );
  await ssc.start();
  if (mode === "first") {
    for (let i = 1; i <= 5; i++) {
      writeFileSync(
        path.join(inputDir, `${i}.txt`),
        `${Array.from({ length: i }, (_, k) => `w${k}`).join("\n")}\n`,
      );
      (ssc.clock as ManualClock).advance(BATCH);
      await ssc.awaitIdle();
    }
  } else {
    await ssc.awaitIdle();
    process.stdout.write("caught up\n");
  }
  await ssc.stop();
  process.exit(0);
}
