// A process that checkpoints to NATS JetStream and then has nothing left to do: it must end by itself, which it
// cannot while the store's connection stays open. Arguments: <servers> <bucket>. Runs a job for a few batches and
// stops it; or, when another job owns the bucket, prints the code getOrCreate failed with.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { jetStreamCheckpointStore, type SpateError, StreamingContext } from "spate";

const [servers, bucket] = process.argv.slice(2) as [string, string];
const store = jetStreamCheckpointStore({ servers, bucket });
try {
  const ssc = await StreamingContext.getOrCreate(store, () => {
    const ssc = new StreamingContext({ batchDuration: 100, appName: "store-exit" });
    ssc
      .textFileStream(mkdtempSync(path.join(tmpdir(), "spate-store-exit-")))
      .count()
      .foreachRDD(() => {});
    return ssc;
  });
  await ssc.start();
  await new Promise((resolve) => setTimeout(resolve, 500));
  await ssc.stop();
  process.stdout.write("stopped\n");
} catch (e) {
  process.stdout.write(`failed ${(e as SpateError).code}\n`);
}
