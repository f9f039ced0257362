// NATS JetStream: a replayable source, an idempotent sink, and a checkpoint store.
import { DStream } from "../../DStream.js";
import { InvalidArgumentError } from "../../errors.js";
import { StreamingContext } from "../../StreamingContext.js";
import { checkConnectionOptions, checkStreamName } from "./connection.js";
import { JetStreamSinkOp, type JetStreamSinkOptions } from "./JetStreamSinkOp.js";
import { NatsJetStreamInputOp, type NatsJetStreamOptions, type NatsMessage } from "./NatsJetStreamInputOp.js";

export type { NatsConnectionOptions } from "./connection.js";
export {
  JetStreamCheckpointStore,
  type JetStreamCheckpointStoreOptions,
  jetStreamCheckpointStore,
} from "./JetStreamCheckpointStore.js";
export type { JetStreamSinkOptions, RecordPosition } from "./JetStreamSinkOp.js";
export type { NatsJetStreamOptions, NatsMessage } from "./NatsJetStreamInputOp.js";

/**
 * The messages of a JetStream stream, as a replayable input (Spark's direct Kafka stream): each batch takes the
 * messages stored after the last one consumed, at most `maxMessagesPerBatch`, and its range of sequences is
 * recorded in metadata checkpoints; a restarted job reads exactly the same messages for the same batches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jetstreamManager } from "@nats-io/jetstream";
 * import { connect } from "@nats-io/transport-node";
 * import { natsJetStream, Seconds, StreamingContext } from "spate";
 *
 * // A stream LINES storing the subject lines.>, and two lines in it.
 * const nc = await connect({ servers: "localhost:4222" });
 * const jsm = await jetstreamManager(nc);
 * await jsm.streams.add({ name: "LINES", subjects: ["lines.>"] });
 * await jsm.jetstream().publish("lines.in", "to be or");
 * await jsm.jetstream().publish("lines.in", "not to be");
 *
 * const ssc = new StreamingContext({ batchDuration: Seconds(1) });
 * const words: string[] = [];
 * natsJetStream(ssc, { servers: "localhost:4222", stream: "LINES" })
 *   .flatMap((message) => message.text.split(" "))
 *   .foreachRDD(async (rdd) => {
 *     words.push(...(await rdd.collect()));
 *   });
 * await ssc.start();
 * while (words.length < 6) await new Promise((resolve) => setTimeout(resolve, 100));
 * await ssc.stop();
 * assert.deepEqual(words, ["to", "be", "or", "not", "to", "be"]);
 * await nc.close();
 * ```
 */
export function natsJetStream(ssc: StreamingContext, options: NatsJetStreamOptions): DStream<NatsMessage> {
  if (!(ssc instanceof StreamingContext)) {
    throw new InvalidArgumentError(
      "natsJetStream() takes the StreamingContext first: natsJetStream(ssc, { … }).",
    );
  }
  checkConnectionOptions(options, "natsJetStream()");
  checkStreamName(options.stream, "natsJetStream()");
  return new DStream(ssc, new NatsJetStreamInputOp(ssc.batchDuration, options));
}

/**
 * Publishes every record of `stream` to JetStream, with a message id derived from the batch, and waits for the
 * acknowledgements before the batch completes. A batch that runs again after a crash publishes the same ids, which
 * the stream's duplicate window drops: with a replayable input, outputs end exactly-once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jetstreamManager } from "@nats-io/jetstream";
 * import { connect } from "@nats-io/transport-node";
 * import { publishToJetStream, Seconds, StreamingContext } from "spate";
 *
 * // A stream COUNTS storing the subject counts.
 * const nc = await connect({ servers: "localhost:4222" });
 * const jsm = await jetstreamManager(nc);
 * await jsm.streams.add({ name: "COUNTS", subjects: ["counts"] });
 *
 * const ssc = new StreamingContext({ batchDuration: Seconds(1) });
 * const counts = ssc.queueStream([["a", "b", "a"]])
 *   .map((w) => [w, 1] as [string, number])
 *   .reduceByKey((x, y) => x + y);
 * // One message per record, `a 2` and `b 1`; the batch completes once JetStream acknowledged both.
 * publishToJetStream(counts, { servers: "localhost:4222", subject: "counts", encode: ([w, n]) => `${w} ${n}` });
 * await ssc.start();
 * while ((await jsm.streams.info("COUNTS")).state.messages < 2) await new Promise((r) => setTimeout(r, 100));
 * await ssc.stop();
 * const stored = await jsm.streams.getMessage("COUNTS", { seq: 1 });
 * assert.match(stored!.string(), /^(a 2|b 1)$/);
 * await nc.close();
 * ```
 */
export function publishToJetStream<T>(stream: DStream<T>, options: JetStreamSinkOptions<T>): void {
  if (!(stream instanceof DStream)) {
    throw new InvalidArgumentError(
      "publishToJetStream() takes the DStream first: publishToJetStream(stream, { … }).",
    );
  }
  checkConnectionOptions(options, "publishToJetStream()");
  const ssc = stream.context;
  ssc.graph.requireBuilding("publishToJetStream()");
  const output = new DStream(ssc, new JetStreamSinkOp(stream, options));
  ssc.graph.addOutput(output);
}
