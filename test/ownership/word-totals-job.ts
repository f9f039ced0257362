// The job of the ownership tests, run by `spate run`: running word totals over a folder of files, checkpointed,
// saved per batch as `totals-<time>` folders. Arguments: <input folder> <output folder>.
import * as path from "node:path";
import { type JobArgs, StreamingContext } from "spate";

export default function createContext({ args }: JobArgs): StreamingContext {
  const [input, output] = args as [string, string];
  const ssc = new StreamingContext({
    batchDuration: 200,
    appName: "ownership-word-totals",
    conf: { "spate.checkpoint.interval": 400, "spate.checkpoint.retain": 4 },
  });
  ssc
    .textFileStream(input)
    .flatMap((line) => line.split(" ").filter(Boolean))
    .map((word) => [word, 1] as [string, number])
    .updateStateByKey((ones: number[], total: number | undefined) => (total ?? 0) + ones.length)
    .uid("totals")
    .saveAsTextFiles(path.join(output, "totals"));
  return ssc;
}
