// The job of the socket crash test and of the graceful shutdown test, run as a child process: it counts the numbered
// lines of a TCP connection with updateStateByKey, with the write-ahead log on, and stops gracefully on SIGTERM.
// After each store resolves (the lines are in the write-ahead log) it appends the lines to a side file: the lines
// the job is committed to counting exactly once.
import { appendFileSync } from "node:fs";
import * as path from "node:path";
import { SocketReceiver, StreamingContext } from "spate";

const [checkpointDir, outputDir, sideFile, port, batch] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string | undefined,
];
const BATCH = Number(batch ?? 200);

class RecordingSocketReceiver extends SocketReceiver {
  protected override async storeLines(lines: string[]): Promise<void> {
    await super.storeLines(lines);
    appendFileSync(sideFile, lines.map((l) => `${l}\n`).join(""));
  }
}

const ssc = await StreamingContext.getOrCreate(checkpointDir, () => {
  const s = new StreamingContext({
    batchDuration: BATCH,
    appName: "socket-crash",
    conf: {
      "spate.receiver.writeAheadLog.enable": true,
      "spate.checkpoint.interval": 2 * BATCH,
      "spate.receiver.restartDelay": 100,
      "spate.stopGracefullyOnShutdown": true,
    },
  });
  s.receiverStream(new RecordingSocketReceiver("127.0.0.1", Number(port)))
    .map((n) => [n, 1] as [string, number])
    .updateStateByKey((vs: number[], c: number | undefined) => (c ?? 0) + vs.length)
    .uid("counts")
    .saveAsTextFiles(path.join(outputDir, "counts"));
  return s;
});
await ssc.start();
process.stdout.write(`started ${ssc.restoredFrom ? `restored ${ssc.restoredFrom.batchTime}` : "fresh"}\n`);
await ssc.awaitTermination();
process.stdout.write("terminated\n");
