// The job of the write-ahead log crash test: a receiver stores numbers read from stdin and acknowledges each one
// on stdout once `store` resolves (durably logged); the job counts each number with updateStateByKey.
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { isMainThread } from "node:worker_threads";
import { type JobArgs, Receiver, StreamingContext } from "spate";

type Args = [checkpointDir: string, outputDir: string, mode: string];
const BATCH = 200;
let ssc: StreamingContext;

class StdinReceiver extends Receiver<string> {
  private buffer = "";
  private chain: Promise<void> = Promise.resolve();
  private readonly onData = (chunk: Buffer) => {
    this.buffer += chunk.toString("utf8");
    const lines = this.buffer.split("\n");
    this.buffer = lines.pop()!;
    for (const line of lines) {
      if (line === "STOP") {
        void this.chain
          .then(() => new Promise((r) => setTimeout(r, 3 * BATCH)))
          .then(() => ssc.stop({ stopGracefully: true }));
        continue;
      }
      this.chain = this.chain.then(async () => {
        await this.store(line);
        process.stdout.write(`ack ${line}\n`);
      });
    }
  };
  onStart() {
    process.stdin.on("data", this.onData);
  }
  onStop() {
    process.stdin.off("data", this.onData);
  }
}

/** Builds the job from its arguments; the module is its own jobModule (worker threads rebuild the same graph). */
export default function createContext(job: JobArgs): StreamingContext {
  const [, outputDir] = job.args as Args;
  const s = new StreamingContext({
    batchDuration: BATCH,
    appName: "crash-receiver",
    jobModule: { url: import.meta.url, args: job.args },
    conf: { "spate.receiver.writeAheadLog.enable": true, "spate.checkpoint.interval": 2 * BATCH },
  });
  s.receiverStream(new StdinReceiver())
    .map((n) => [n, 1] as [string, number])
    .updateStateByKey((vs: number[], c: number | undefined) => (c ?? 0) + vs.length)
    .uid("counts")
    .saveAsTextFiles(path.join(outputDir, "counts"));
  return s;
}

// Run as a program; a worker thread only imports the module.
if (
  isMainThread &&
  process.argv[1] &&
  import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href
) {
  const args = process.argv.slice(2);
  const [checkpointDir, , mode] = args as Args;
  ssc = await StreamingContext.getOrCreate(checkpointDir, () => createContext({ args, role: "driver" }));
  await ssc.start();
  process.stdout.write(`started ${mode}\n`);
  await ssc.awaitTermination();
  process.exit(0);
}
