import { createHash } from "node:crypto";
import { ForEachOp } from "../../dstream/ForEachOp.js";
import { InvalidArgumentError, SpateError } from "../../errors.js";
import type { RDD } from "../../rdd/RDD.js";
import {
  DEFAULT_UNAVAILABLE_TIMEOUT,
  isStreamNotFound,
  type JetStreamSession,
  type NatsConnectionOptions,
  openJetStream,
  untilStreamLeader,
} from "./connection.js";
import type { GraphNode } from "../../dstream/Operator.js";

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
/** After a failed publish, publishes go one at a time (in order) for this long: the cluster may be electing. */
const CAREFUL_FOR = 10_000;
/** Waits between attempts to publish a message again. */
const RETRY_BACKOFF = [250, 500, 1000];
/** How long a retried publish waits for its acknowledgement at most, in ms. */
const RETRY_ACK_TIMEOUT = 2000;
const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Message {
  subject: string;
  payload: Uint8Array;
  id: string;
  partition: number;
}

/** What the publishes of one batch came to. */
interface Tally {
  duplicates: number;
  retries: number;
}

/**
 * `publishToJetStream`: an output that publishes every record of every batch to JetStream with a message id derived
 * from the batch, and awaits the acknowledgements, so that the batch completes only once JetStream stored its
 * outputs. A batch that runs again after a crash publishes the same ids, and the stream's duplicate window drops
 * them: outputs end exactly-once.
 */
export class JetStreamSinkOp<T> extends ForEachOp<T> {
  private readonly options: JetStreamSinkOptions<T>;
  private session: Promise<JetStreamSession> | undefined;
  private owner: GraphNode<T> | undefined;
  /** Until this wall-clock ms, publishes go one at a time: a publish failed lately. */
  private carefulUntil = 0;

  constructor(parent: GraphNode<T>, options: JetStreamSinkOptions<T>) {
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

  initialize(self: GraphNode<T>): void {
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
        owner.env.log,
        `publishToJetStream(${typeof this.options.subject === "string" ? this.options.subject : "…"}) of ${owner.env.appName}`,
      );
      const subject = this.options.subject;
      if (typeof subject === "string") {
        try {
          // The stream of the subject, and that it has a leader (asked again through an election).
          let stream: string | undefined;
          await untilStreamLeader(
            session,
            this.options,
            owner.env.log,
            { subject },
            "publishToJetStream (finding the stream at start)",
            async () => {
              stream ??= await session.quick.jsm.streams.find(subject);
              await session.quick.jsm.streams.info(stream);
            },
          );
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
    const prefix = `${owner.env.appName}:${owner.id}:${time}`;
    // Everything is encoded and checked first: a batch with a record too large publishes nothing.
    const parts = rdd.materialize();
    const partitions: Message[][] = parts.map(() => []);
    for (let p = 0; p < parts.length; p++) {
      const messages = partitions[p]!;
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
    // Partitions publish side by side, each in its order: a failed publish is retried alone, with its later
    // messages after it, so that a partition's messages land in order whatever the cluster does meanwhile.
    const tally: Tally = { duplicates: 0, retries: 0 };
    const window = Math.max(16, Math.floor(WINDOW / Math.max(1, partitions.length)));
    await Promise.all(
      partitions.map((messages) => this.publishInOrder(session, messages, time, maxPayload, window, tally)),
    );
    const published = partitions.reduce((n, ms) => n + ms.length, 0);
    if (published > 0) {
      const data = { operatorId: owner.id, batchTime: time, published, ...tally };
      if (tally.retries > 0) owner.env.log.info(data, "published to JetStream after retries");
      else
        owner.env.log.debug(
          data,
          tally.duplicates > 0
            ? "published to JetStream; duplicates of an earlier attempt were dropped"
            : "published to JetStream",
        );
    }
  }

  /** Publishes one partition's messages in order: pipelined while all goes well, one at a time after a failure. */
  private async publishInOrder(
    session: JetStreamSession,
    messages: Message[],
    time: number,
    maxPayload: number,
    window: number,
    tally: Tally,
  ): Promise<void> {
    const timeout = this.options.ackTimeout ?? 10_000;
    let i = 0;
    while (i < messages.length) {
      if (Date.now() < this.carefulUntil) {
        await this.publishWithRetries(session, messages[i]!, time, maxPayload, tally);
        i++;
        continue;
      }
      const batch = messages.slice(i, i + window);
      const results = await Promise.allSettled(
        batch.map((m) => session.js.publish(m.subject, m.payload, { msgID: m.id, timeout })),
      );
      const failed = results.findIndex((r) => r.status === "rejected");
      for (const r of failed < 0 ? results : results.slice(0, failed)) {
        if (r.status === "fulfilled" && r.value.duplicate) tally.duplicates++;
      }
      if (failed < 0) {
        i += batch.length;
        continue;
      }
      // From the first that failed on, one at a time (those of the window that did land are acknowledged again as
      // duplicates, by their ids).
      const error = (results[failed] as PromiseRejectedResult).reason;
      await this.publishWithRetries(session, batch[failed]!, time, maxPayload, tally, { error });
      i += failed + 1;
    }
  }

  /**
   * Publishes one message, trying again through an election until `unavailableTimeout` has passed since its first
   * failure; `failed`: how its first attempt, made in a window, failed.
   */
  private async publishWithRetries(
    session: JetStreamSession,
    m: Message,
    time: number,
    maxPayload: number,
    tally: Tally,
    failed?: { error: unknown },
  ): Promise<void> {
    const ackTimeout = this.options.ackTimeout ?? 10_000;
    const limit = this.options.unavailableTimeout ?? DEFAULT_UNAVAILABLE_TIMEOUT;
    const log = this.owner!.env.log;
    let failingSince: number | undefined;
    let last = failed;
    for (let attempt = failed ? 1 : 0; ; attempt++) {
      if (last === undefined) {
        const left = failingSince === undefined ? limit : failingSince + limit - Date.now();
        // A retry waits less for its acknowledgement: one sent to a node that died must not hold back the next.
        const timeout =
          failingSince === undefined
            ? ackTimeout
            : Math.max(200, Math.min(ackTimeout, RETRY_ACK_TIMEOUT, left));
        try {
          const ack = await session.js.publish(m.subject, m.payload, { msgID: m.id, timeout });
          if (ack.duplicate) tally.duplicates++;
          if (failingSince !== undefined) {
            log.info(
              {
                subject: m.subject,
                batchTime: time,
                attempts: attempt + 1,
                failedForMs: Date.now() - failingSince,
              },
              "JetStream accepts publishes again",
            );
          }
          return;
        } catch (error) {
          last = { error };
        }
      }
      const e = last.error;
      last = undefined;
      if (!(await this.retriable(session, e, m)))
        throw publishFailed(e, m, time, maxPayload, session.servers);
      this.carefulUntil = Date.now() + CAREFUL_FOR;
      if (failingSince === undefined) {
        failingSince = Date.now();
        log.warn(
          { subject: m.subject, batchTime: time, error: (e as Error)?.message ?? String(e) },
          "publish to JetStream failed (the cluster may be electing a stream leader); retrying it in order",
        );
      }
      const waited = Date.now() - failingSince;
      if (waited >= limit) throw publishFailed(e, m, time, maxPayload, session.servers, waited);
      tally.retries++;
      await sleep(Math.min(RETRY_BACKOFF[Math.min(attempt, RETRY_BACKOFF.length - 1)]!, limit - waited));
    }
  }

  /** Whether a failed publish may succeed later (an election, a lost node); a missing stream fails at once. */
  private async retriable(session: JetStreamSession, e: unknown, m: Message): Promise<boolean> {
    if (isNoResponders(e)) {
      // No stream leader now, or no stream at all: the meta leader knows which (when it answers).
      try {
        await session.quick.jsm.streams.find(m.subject);
      } catch (found) {
        if (isStreamNotFound(found)) throw noStreamFor(m.subject, session.servers, e);
      }
      return true;
    }
    const name = (e as Error | null)?.name;
    if (name === "TimeoutError" || name === "RequestError") return true;
    const status = (e as { status?: unknown } | null)?.status;
    return status === 503 || /temporarily unavailable|timeout/i.test((e as Error | null)?.message ?? "");
  }
}

/** Whether a request found no one to answer it (on JetStream: no stream leader for the subject, or no stream). */
function isNoResponders(e: unknown): boolean {
  for (
    let c = e as { name?: string; message?: string; cause?: unknown } | undefined;
    c;
    c = c.cause as typeof c
  ) {
    if (c.name === "NoResponders" || /no responders/i.test(c.message ?? "")) return true;
    if (c.cause === c) break;
  }
  return false;
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
  retriedForMs?: number,
): SpateError {
  if (e instanceof SpateError) return e;
  const message = (e as Error)?.message ?? String(e);
  if (/max_payload/i.test(message)) return tooLarge(m.subject, time, m.partition, m.payload.length, max);
  return new SpateError(
    "SPATE_NATS_PUBLISH_FAILED",
    `Publishing batch ${time} to ${m.subject} on ${servers} failed: ${message}` +
      (retriedForMs === undefined
        ? ""
        : ` (retried for ${Math.round(retriedForMs / 1000)} s, unavailableTimeout; a majority of the stream's ` +
          "replicas must be up for it to have a leader)") +
      ". The batch failed; when it runs again (after a restart) what it already published is de-duplicated.",
    { cause: e, retriable: true },
  );
}
