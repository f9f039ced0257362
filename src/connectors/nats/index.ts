// NATS JetStream: a replayable source and an idempotent sink.
import { DStream } from "../../DStream.js";
import { InvalidArgumentError } from "../../errors.js";
import { StreamingContext } from "../../StreamingContext.js";
import { checkConnectionOptions, checkStreamName } from "./connection.js";
import { JetStreamSinkOp, type JetStreamSinkOptions } from "./JetStreamSinkOp.js";
import { NatsJetStreamInputOp, type NatsJetStreamOptions, type NatsMessage } from "./NatsJetStreamInputOp.js";

export type { NatsConnectionOptions } from "./connection.js";
export type { JetStreamSinkOptions, RecordPosition } from "./JetStreamSinkOp.js";
export type { NatsJetStreamOptions, NatsMessage } from "./NatsJetStreamInputOp.js";

/**
 * The messages of a JetStream stream, as a replayable input (Spark's direct Kafka stream): each batch takes the
 * messages stored after the last one consumed, at most `maxMessagesPerBatch`, and its range of sequences is
 * recorded in metadata checkpoints; a restarted job reads exactly the same messages for the same batches.
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
