// Stateful network word count: Spark's StatefulNetworkWordCount. Keeps a running count per word with mapWithState,
// starting from an initial state of hello=1 and world=1, and prints, each second, the running counts of the words
// that arrived in that second.
//
//   nc -lk 9999
//   npm run spate -- run examples/stateful-network-word-count.ts localhost 9999
import { type JobArgs, Seconds, type State, StateSpec, StreamingContext } from "spate";

export default function createContext({ args }: JobArgs): StreamingContext {
  const [host = "localhost", port = "9999"] = args;
  const ssc = new StreamingContext({ batchDuration: Seconds(1), appName: "stateful-network-word-count" });
  const words = ssc
    .socketTextStream(host, Number(port))
    .flatMap((line) => line.split(" ").filter(Boolean))
    .map((word) => [word, 1] as [string, number]);
  const runningCounts = StateSpec.function((word: string, one: number | undefined, state: State<number>) => {
    const sum = (one ?? 0) + (state.getOption() ?? 0);
    state.update(sum);
    return [word, sum] as [string, number];
  }).initialState([
    ["hello", 1],
    ["world", 1],
  ]);
  words.mapWithState(runningCounts).print();
  return ssc;
}
