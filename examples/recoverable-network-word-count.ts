// Recoverable network word count: Spark's RecoverableNetworkWordCount. Running word totals over lines from a TCP
// socket, checkpointed: kill the job at any moment, run the same command again, and it resumes from its
// checkpoint with every stored line counted exactly once (the receiver's write-ahead log keeps what was received
// before the kill). Each batch's totals are printed and saved under <output>-<batch time>/.
//
//   nc -lk 9999
//   npm run spate -- run examples/recoverable-network-word-count.ts localhost 9999 out/totals \
//     --checkpoint .spate-checkpoints/recoverable-network-word-count
//
// `spate run --checkpoint` calls StreamingContext.getOrCreate with this module's function: the same graph is
// built on every start, and restored from the checkpoint when there is one.
import { type JobArgs, Seconds, type State, StateSpec, StreamingContext } from "spate";

export default function createContext({ args, checkpoint }: JobArgs): StreamingContext {
  const [host = "localhost", port = "9999", output = "out/recoverable-word-totals"] = args;
  if (!checkpoint) throw new Error("run this example with --checkpoint <dir>: it exists to recover from one");
  const ssc = new StreamingContext({
    batchDuration: Seconds(1),
    appName: "recoverable-network-word-count",
    conf: { "spate.receiver.writeAheadLog.enable": true },
  });
  const totals = ssc
    .socketTextStream(host, Number(port))
    .flatMap((line) => line.split(" ").filter(Boolean))
    .map((word) => [word, 1] as [string, number])
    .mapWithState(
      StateSpec.function((word: string, one: number | undefined, state: State<number>) => {
        const total = (state.getOption() ?? 0) + (one ?? 0);
        state.update(total);
        return [word, total] as [string, number];
      }),
    )
    // A pinned id: the checkpoint's state stays this operator's whatever else changes in the job.
    .uid("word-totals");
  totals.print();
  totals.saveAsTextFiles(output);
  return ssc;
}
