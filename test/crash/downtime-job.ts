// The job of the down-time crash test, run as a child process on a ManualClock: `first` runs five batches of
// input (one file each) and stops; `restart <clock>` restarts at that clock time, catches up every batch since the
// checkpoint, prints "caught up" and stops. Each output appends a line per attempt at each batch to out.log: the
// batch's record count, the running total (updateStateByKey) and a window of 3 batches.
import { appendFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ManualClock, type RDD, StreamingContext } from "spate";

const [checkpointDir, inputDir, outLog, mode, clockArg] = process.argv.slice(2) as [
  string,
  string,
  string,
  "first" | "restart",
  string | undefined,
];
const BATCH = 1000;

function record(kind: string) {
  return async (rdd: RDD<number>, time: number) => {
    const values = await rdd.collect();
    appendFileSync(outLog, `${kind} ${time} ${values.reduce((a, b) => a + b, 0)}\n`);
  };
}

const ssc = await StreamingContext.getOrCreate(checkpointDir, () => {
  const ssc = new StreamingContext({
    batchDuration: BATCH,
    appName: "crash-downtime",
    clock: new ManualClock(mode === "first" ? 0 : Number(clockArg)),
    conf: { "spate.ui.port": 0, "spate.checkpoint.interval": 5 * BATCH },
  });
  const words = ssc.textFileStream(inputDir);
  words.count().foreachRDD(record("in"));
  words
    .map((w) => [w, 1] as [string, number])
    .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
    .uid("totals")
    .map(([, n]) => n)
    .foreachRDD(record("total"));
  words
    .window(3 * BATCH, BATCH)
    .count()
    .foreachRDD(record("win"));
  return ssc;
});
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
