// NATS word count: lines from a JetStream stream, running word totals with mapWithState, each new total published
// to a JetStream subject. Exactly-once end to end: kill the job at any moment and run the same command again; the
// source re-reads the messages of the batches it had recorded, and the outputs of a batch that runs again carry the
// same message ids, which JetStream drops as duplicates.
//
//   nats-server -js -sd /tmp/nats-store
//   nats stream add LINES --subjects "lines.>" --defaults     # the input
//   nats stream add TOTALS --subjects "totals.>" --defaults   # the output
//   npm run spate -- run examples/nats-word-count.ts localhost:4222 LINES totals.words \
//     --checkpoint .spate-checkpoints/nats-word-count
//   nats pub lines.in "to be or not to be"
//   nats stream view TOTALS                                   # ["to",1] ["be",1] … ["to",2] ["be",2]
//
// On a NATS cluster, give every node, separated by commas (node1:4222,node2:4222,node3:4222), and create the streams
// with --replicas 3: the job then rides out the loss of any one node.
import {
  type JobArgs,
  natsJetStream,
  publishToJetStream,
  Seconds,
  type State,
  StateSpec,
  StreamingContext,
} from "spate";

export default function createContext({ args, checkpoint }: JobArgs): StreamingContext {
  const [servers = "localhost:4222", input = "LINES", output = "totals.words"] = args;
  if (!checkpoint) throw new Error("run this example with --checkpoint <dir>: exactly-once needs one");
  const ssc = new StreamingContext({ batchDuration: Seconds(1), appName: "nats-word-count" });
  const totals = natsJetStream(ssc, { servers, stream: input })
    .flatMap((message) => message.text.split(" ").filter(Boolean))
    .map((word) => [word, 1] as [string, number])
    .mapWithState(
      StateSpec.function((word: string, one: number | undefined, state: State<number>) => {
        const total = (state.getOption() ?? 0) + (one ?? 0);
        state.update(total);
        return [word, total] as [string, number];
      }),
    )
    .uid("word-totals");
  totals.print();
  publishToJetStream(totals, { servers, subject: output });
  return ssc;
}
