// The job of the skip-batch test, run by `spate run`: a running sum of the numbers in the files of a folder,
// checkpointed; a line that is not a number fails the batch (spate.errors.onRecordFailure "fail", the default).
// Each batch appends `<time> <sum>` to sums.log. Arguments: <input folder> <output folder>.
import { appendFileSync } from "node:fs";
import * as path from "node:path";
import { type JobArgs, StreamingContext } from "spate";

export default function createContext({ args }: JobArgs): StreamingContext {
  const [input, output] = args as [string, string];
  const ssc = new StreamingContext({
    batchDuration: 200,
    appName: "poison-sum",
    conf: { "spate.checkpoint.interval": 400 },
  });
  ssc
    .textFileStream(input)
    .map((line) => {
      const n = Number(line);
      if (Number.isNaN(n)) throw new SyntaxError(`not a number: ${line}`);
      return ["sum", n] as [string, number];
    })
    .updateStateByKey((ns: number[], sum: number | undefined) => ns.reduce((a, b) => a + b, sum ?? 0))
    .uid("sum")
    .foreachRDD(async (rdd, time) => {
      for (const [, sum] of await rdd.collect())
        appendFileSync(path.join(output, "sums.log"), `${time} ${sum}\n`);
    });
  return ssc;
}
