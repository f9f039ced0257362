// The child job of the rescaling test: the graph of rescale-graph.ts over a folder of files, checkpointed, every
// output saved per batch with saveAsTextFiles. Its parallelism and partition counts come from the command line, so
// that each restart may change them.
//   rescale-job.ts <checkpoint> <input> <output> <parallelism> <sessions partitions|-> <window partitions|-> <crash|final>
import * as path from "node:path";
import { StreamingContext } from "spate";
import { BATCH, build } from "./rescale-graph.js";

const [checkpointDir, inputDir, outputDir, parallelism, sessions, window, mode] = process.argv.slice(
  2,
) as string[];
const optional = (s: string | undefined) => (s === undefined || s === "-" ? undefined : Number(s));

const ssc = await StreamingContext.getOrCreate(checkpointDir!, () => {
  const ssc = new StreamingContext({
    batchDuration: BATCH,
    appName: "rescale",
    conf: {
      "spate.checkpoint.interval": 2 * BATCH,
      "spate.checkpoint.fullSnapshotEvery": 3,
      "spate.checkpoint.retain": 4,
      "spate.default.parallelism": Number(parallelism),
    },
  });
  const lines = ssc.textFileStream(inputDir!);
  lines.saveAsTextFiles(path.join(outputDir!, "input"));
  build(lines, { sessions: optional(sessions), window: optional(window) }, (name, stream) =>
    stream.saveAsTextFiles(path.join(outputDir!, name)),
  );
  return ssc;
});
await ssc.start();
process.stdout.write(`started ${ssc.restoredFrom ? `restored ${ssc.restoredFrom.batchTime}` : "fresh"}\n`);
if (mode === "final") {
  process.stdin.once("data", () => {
    void ssc.stop({ stopGracefully: true }).then(() => process.exit(0));
  });
}
await ssc.awaitTermination();
