// File-folder word count: Spark's HdfsWordCount. Counts the words of every new file that appears in a folder,
// batch by batch. Files must appear atomically: write them elsewhere, then move them into the folder.
//
//   npm run spate -- run examples/file-word-count.ts <folder>
//   (then, in another terminal)  echo "to be or not to be" > /tmp/w.txt && mv /tmp/w.txt <folder>/
import { type JobArgs, Seconds, StreamingContext } from "spate";

export default function createContext({ args }: JobArgs): StreamingContext {
  const [folder] = args;
  if (!folder) throw new Error("usage: spate run examples/file-word-count.ts <folder>");
  const ssc = new StreamingContext({ batchDuration: Seconds(2), appName: "file-word-count" });
  ssc
    .textFileStream(folder)
    .flatMap((line) => line.split(" ").filter(Boolean))
    .map((word) => [word, 1] as [string, number])
    .reduceByKey((a, b) => a + b)
    .print();
  return ssc;
}
