// The job of the idempotent sink test, run as a child process: numbered lines from a TCP connection (write-ahead
// log on) go to two foreachRDD sinks. The keyed sink writes one file per (batch time, partition), replacing it
// atomically (upsert); the naive sink appends, so a batch that runs twice shows up twice in it. In "crash" mode
// the job hangs inside the first batch with data, after both sinks wrote, so that the test can kill it there.
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { SocketReceiver, StreamingContext } from "spate";

const [checkpointDir, outputDir, port, mode] = process.argv.slice(2) as [string, string, string, string];
const store = path.join(outputDir, "store");
mkdirSync(store, { recursive: true });

class RecordingSocketReceiver extends SocketReceiver {
  protected override async storeLines(lines: string[]): Promise<void> {
    await super.storeLines(lines);
    appendFileSync(path.join(outputDir, "stored.txt"), lines.map((l) => `${l}\n`).join(""));
  }
}

/** The README's pattern: a key per (batch time, partition), written with replace semantics. */
function upsert(key: string, records: unknown[]): void {
  const tmp = path.join(store, `.${key}.tmp`);
  writeFileSync(tmp, JSON.stringify(records));
  renameSync(tmp, path.join(store, `${key}.json`));
}

const ssc = await StreamingContext.getOrCreate(checkpointDir, () => {
  const s = new StreamingContext({
    batchDuration: 200,
    appName: "idempotent-sink",
    conf: {
      "spate.receiver.writeAheadLog.enable": true,
      "spate.receiver.restartDelay": 100,
      "spate.stopGracefullyOnShutdown": true,
    },
  });
  s.receiverStream(new RecordingSocketReceiver("127.0.0.1", Number(port))).foreachRDD(async (rdd, time) => {
    if (await rdd.isEmpty()) return;
    await rdd.foreachPartition((records, partition) => upsert(`${time}-${partition}`, records));
    appendFileSync(path.join(outputDir, "naive.txt"), (await rdd.collect()).map((l) => `${l}\n`).join(""));
    appendFileSync(path.join(outputDir, "attempts.txt"), `${time}\n`);
    if (mode === "crash") {
      process.stdout.write(`wrote ${time}\n`);
      await new Promise(() => {}); // hang here: the batch never completes
    }
  });
  return s;
});
await ssc.start();
process.stdout.write(`started ${mode}\n`);
await ssc.awaitTermination();
