import { createHash } from "node:crypto";
import type { DStream } from "../../DStream.js";
import { ForEachOp } from "../../dstream/ForEachOp.js";
import { InvalidArgumentError, SpateError } from "../../errors.js";
import type { RDD } from "../../rdd/RDD.js";
import {
  isStreamNotFound,
  type JetStreamSession,
  type NatsConnectionOptions,
  openJetStream,
} from "./connection.js";

/** Where a record stands in its batch: what a message id is derived from. */
export interface RecordPosition {
  /** The batch time. */
  time: number;
  partition: number;
  /** The record's index in its partition. */
  index: number;
}

export interface JetStreamSinkOptions<T> extends NatsConnectionOptions {
  /** The subject to publish to (a stream must store it), or a function of the record. */
  subject: string | ((record: T) => string);
  /** The message's bytes (a string is sent as UTF-8); default: the record as JSON. */
  encode?: (record: T) => Uint8Array | string;
  /**
   * The message id (`Nats-Msg-Id`) JetStream de-duplicates by. Default: the app name, the output's operator id, the
   * batch time, the partition and a hash of subject and bytes (numbered when a partition holds the same message
   * twice), so a batch that runs again after a crash publishes the same ids, whatever the order of its records.
   */
  msgId?: (record: T, position: RecordPosition) => string;
  /** How long to wait for each acknowledgement, in ms (default 10000). */
  ackTimeout?: number;
}

/** Publishes awaited at once: enough to keep the connection busy, few enough to bound memory. */
const WINDOW = 512;
const encoder = new TextEncoder();

/**
 * `publishToJetStream`: an output that publishes every record of every batch to JetStream with a message id derived
 * from the batch, and awaits the acknowledgements, so that the batch completes only once JetStream stored its
 * outputs. A batch that runs again after a crash publishes the same ids, and the stream's duplicate window drops
 * them: outputs end exactly-once.
 */
export class JetStreamSinkOp<T> extends ForEachOp<T> {
  private readonly options: JetStreamSinkOptions<T>;
  private session: Promise<JetStreamSession> | undefined;
  private owner: DStream<T> | undefined;

  constructor(parent: DStream<T>, options: JetStreamSinkOptions<T>) {
    super("publishToJetStream", parent, (rdd, time) => this!.publish(rdd, time));
    this.options = options;
    const { subject, encode, msgId, ackTimeout } = options;
    if (
      typeof subject === "string" ? subject === "" || /[\s*>]/.test(subject) : typeof subject !== "function"
    ) {
      throw new InvalidArgumentError(
        "publishToJetStream() needs a subject: a subject without spaces or wildcards, or a function of the record " +
          `(got ${JSON.stringify(subject)}).`,
      );
    }
    if (encode !== undefined && typeof encode !== "function")
      throw new InvalidArgumentError("publishToJetStream(): encode is a function of the record.");
    if (msgId !== undefined && typeof msgId !== "function")
      throw new InvalidArgumentError(
        "publishToJetStream(): msgId is a function of the record and its position.",
      );
    if (ackTimeout !== undefined && !(Number.isFinite(ackTimeout) && ackTimeout > 0))
      throw new InvalidArgumentError(
        `publishToJetStream(): ackTimeout is a number of ms > 0 (got ${ackTimeout}).`,
      );
  }

  initialize(self: DStream<T>): void {
    this.owner = self;
  }

  /** Connects when the context starts, so that a missing server or stream fails the start. */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.then((s) => s.close()).catch(() => {});
  }

  private connect(): Promise<JetStreamSession> {
    const owner = this.owner!;
    this.session ??= (async () => {
      const session = await openJetStream(
        this.options,
        owner.context.log,
        `publishToJetStream of ${owner.context.appName}`,
      );
      const subject = this.options.subject;
      if (typeof subject === "string") {
        try {
          await session.jsm.streams.find(subject);
        } catch (e) {
          await session.close();
          throw isStreamNotFound(e) ? noStreamFor(subject, session.servers, e) : e;
        }
      }
      return session;
    })();
    // A failed attempt is tried again by the next batch.
    this.session.catch(() => {
      this.session = undefined;
    });
    return this.session;
  }

  private async publish(rdd: RDD<T>, time: number): Promise<void> {
    const session = await this.connect();
    const owner = this.owner!;
    const { subject, encode, msgId } = this.options;
    const maxPayload = session.nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
    const prefix = `${owner.context.appName}:${owner.id}:${time}`;
    // Everything is encoded and checked first: a batch with a record too large publishes nothing.
    const messages: Array<{ subject: string; payload: Uint8Array; id: string; partition: number }> = [];
    const parts = rdd.materialize();
    for (let p = 0; p < parts.length; p++) {
      const seen = new Map<string, number>();
      const records = parts[p]!;
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        const to = typeof subject === "string" ? subject : subject(record);
        const encoded = encode ? encode(record) : JSON.stringify(record);
        const payload = typeof encoded === "string" ? encoder.encode(encoded) : encoded;
        let id: string;
        if (msgId) {
          id = msgId(record, { time, partition: p, index: i });
        } else {
          const hash = createHash("sha256").update(to).update("\0").update(payload).digest("base64url");
          const key = hash.slice(0, 22);
          const n = seen.get(key) ?? 0;
          seen.set(key, n + 1);
          id = `${prefix}:${p}:${key}:${n}`;
        }
        // The id travels in a header, which counts against the server's max_payload too.
        const size = payload.length + id.length + 32;
        if (size > maxPayload) throw tooLarge(to, time, p, payload.length, maxPayload);
        messages.push({ subject: to, payload, id, partition: p });
      }
    }
    const timeout = this.options.ackTimeout ?? 10_000;
    let duplicates = 0;
    for (let start = 0; start < messages.length; start += WINDOW) {
      const acks = messages.slice(start, start + WINDOW).map(async (m) => {
        try {
          const ack = await session.js.publish(m.subject, m.payload, { msgID: m.id, timeout });
          if (ack.duplicate) duplicates++;
        } catch (e) {
          throw publishFailed(e, m, time, maxPayload, session.servers);
        }
      });
      await Promise.all(acks);
    }
    if (messages.length > 0) {
      owner.context.log.debug(
        { operatorId: owner.id, batchTime: time, published: messages.length, duplicates },
        duplicates > 0
          ? "published to JetStream; duplicates of an earlier attempt were dropped"
          : "published to JetStream",
      );
    }
  }
}

function tooLarge(subject: string, time: number, partition: number, bytes: number, max: number): SpateError {
  return new SpateError(
    "SPATE_NATS_PAYLOAD_TOO_LARGE",
    `A record of batch ${time} (partition ${partition}) for subject ${subject} encodes to ${bytes} bytes, more than ` +
      `the NATS server accepts (max_payload ${max} bytes, message id header included). Nothing of this batch was ` +
      "published. Raise max_payload in the server's configuration, or make the record smaller (encode, or split it).",
  );
}

function noStreamFor(subject: string, servers: string, cause?: unknown): SpateError {
  const first = subject.split(".")[0]!;
  const stream = first.toUpperCase().replace(/[^A-Z0-9_-]/g, "_");
  return new SpateError(
    "SPATE_NATS_STREAM_NOT_FOUND",
    `No JetStream stream on ${servers} stores subject ${subject}, so what is published to it would be lost. ` +
      `Create one first, with the NATS command line (nats stream add ${stream} --subjects "${first}.>" --storage ` +
      `file --defaults) or from code (await (await jetstreamManager(nc)).streams.add({ name: "${stream}", ` +
      `subjects: ["${first}.>"] })).`,
    { cause },
  );
}

function publishFailed(
  e: unknown,
  m: { subject: string; payload: Uint8Array; partition: number },
  time: number,
  max: number,
  servers: string,
): SpateError {
  const message = (e as Error)?.message ?? String(e);
  if (/max_payload/i.test(message)) return tooLarge(m.subject, time, m.partition, m.payload.length, max);
  const cause = (e as { cause?: { message?: string } })?.cause?.message ?? "";
  if (/no responders/i.test(`${message} ${cause}`)) return noStreamFor(m.subject, servers, e);
  return new SpateError(
    "SPATE_NATS_PUBLISH_FAILED",
    `Publishing batch ${time} to ${m.subject} on ${servers} failed: ${message}. The batch failed; when it runs ` +
      "again (after a restart) what it already published is de-duplicated.",
    { cause: e, retriable: true },
  );
}
