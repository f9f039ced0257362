// Running word counts with updateStateByKey: Spark's StatefulNetworkWordCount as it was written before mapWithState
// (and as many Spark jobs still are). Each second, the update function gets every word's new values and its total
// so far, and returns the new total; the stream holds every word's total, printed each second. Words not seen for
// a minute are dropped (returning undefined removes a key).
//
//   nc -lk 9999
//   npm run spate -- run examples/update-state-word-count.ts localhost 9999
import { type JobArgs, Minutes, Seconds, StreamingContext } from "spate";

interface Total {
  count: number;
  /** Batch time of the word's last occurrence. */
  seen: number;
}

export default function createContext({ args }: JobArgs): StreamingContext {
  const [host = "localhost", port = "9999"] = args;
  const ssc = new StreamingContext({ batchDuration: Seconds(1), appName: "update-state-word-count" });
  ssc
    .socketTextStream(host, Number(port))
    .flatMap((line) => line.split(" ").filter(Boolean))
    .map((word) => [word, 1] as [string, number])
    .updateStateByKey((ones: number[], total: Total | undefined, _word: string, time: number) => {
      if (ones.length === 0) return total && time - total.seen > Minutes(1) ? undefined : total;
      return { count: (total?.count ?? 0) + ones.length, seen: time };
    })
    .mapValues((total) => total.count)
    .print();
  return ssc;
}
