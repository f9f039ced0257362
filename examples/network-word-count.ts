// Network word count: Spark's NetworkWordCount. Counts the words of the lines received on a TCP socket, per second.
//
//   nc -lk 9999                                                    (a server to type lines into)
//   npm run spate -- run examples/network-word-count.ts localhost 9999
import { type JobArgs, Seconds, StreamingContext } from "spate";

export default function createContext({ args }: JobArgs): StreamingContext {
  const [host = "localhost", port = "9999"] = args;
  const ssc = new StreamingContext({ batchDuration: Seconds(1), appName: "network-word-count" });
  ssc
    .socketTextStream(host, Number(port))
    .flatMap((line) => line.split(" ").filter(Boolean))
    .map((word) => [word, 1] as [string, number])
    .reduceByKey((a, b) => a + b)
    .print();
  return ssc;
}
