// The job of the NATS exactly-once test, run as a child process: words from the JetStream stream IN, a running count
// per word with mapWithState, each count published as "word n" to out.counts (stream OUT). Around the sink, two
// outputs print "processed <batch>" and "published <batch>" and pause, so that the test can kill the job between
// processing and output, and between output and the batch's completion checkpoint.
// The checkpoint is a folder, or `jetstream:<bucket>[:<replicas>]` for checkpoints in JetStream on the same servers.
import {
  jetStreamCheckpointStore,
  natsJetStream,
  publishToJetStream,
  type State,
  StateSpec,
  StreamingContext,
} from "spate";

const [servers, checkpoint] = process.argv.slice(2) as [string, string];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const [, bucket, replicas] = /^jetstream:([^:]+)(?::(\d))?$/.exec(checkpoint) ?? [];
const location = bucket
  ? jetStreamCheckpointStore({ servers, bucket, replicas: replicas ? Number(replicas) : 1 })
  : checkpoint;

const ssc = await StreamingContext.getOrCreate(location, () => {
  const ssc = new StreamingContext({
    batchDuration: 100,
    appName: "nats-counts",
    conf: { "spate.checkpoint.interval": 300, "spate.default.parallelism": 2, "spate.checkpoint.retain": 4 },
  });
  const counts = natsJetStream(ssc, { servers, stream: "IN", maxMessagesPerBatch: 40 })
    .map((m) => [m.text, 1] as [string, number])
    .mapWithState(
      StateSpec.function((word: string, _one: number | undefined, state: State<number>) => {
        const n = (state.getOption() ?? 0) + 1;
        state.update(n);
        return `${word} ${n}`;
      }),
    )
    .uid("counts");
  counts.foreachRDD(async (rdd, time) => {
    if (await rdd.isEmpty()) return;
    process.stdout.write(`processed ${time}\n`);
    await sleep(40);
  });
  publishToJetStream(counts, { servers, subject: "out.counts", encode: (line) => line });
  counts.foreachRDD(async (rdd, time) => {
    if (await rdd.isEmpty()) return;
    process.stdout.write(`published ${time}\n`);
    await sleep(150);
  });
  return ssc;
});
await ssc.start();
process.stdout.write(`started ${ssc.restoredFrom ? `restored ${ssc.restoredFrom.batchTime}` : "fresh"}\n`);
await ssc.awaitTermination();
