import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { DStream } from "../../DStream.js";
import type { InputLog, Operator } from "../../dstream/Operator.js";
import { InvalidArgumentError, SpateError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { RDD } from "../../rdd/RDD.js";
import {
  type JetStreamSession,
  type NatsConnectionOptions,
  openJetStream,
  streamInfo,
  streamNotFound,
} from "./connection.js";

/** One message of a JetStream stream, as plain data. */
export interface NatsMessage {
  readonly subject: string;
  /** Its sequence number in the stream. */
  readonly seq: number;
  readonly data: Uint8Array;
  /** `data` decoded as UTF-8 (invalid bytes become U+FFFD). */
  readonly text: string;
  /** When the stream stored it, in ms since the epoch. */
  readonly timestamp: number;
  /** Its headers, each name with its values (absent when it has none). */
  readonly headers?: Readonly<Record<string, readonly string[]>>;
}

export interface NatsJetStreamOptions extends NatsConnectionOptions {
  /** The JetStream stream to read. It must exist (`SPATE_NATS_STREAM_NOT_FOUND` otherwise). */
  stream: string;
  /** Read only messages on these subjects (wildcards allowed; several need nats-server 2.10 or later). */
  subjects?: string | string[];
  /** The most messages one batch takes (default 10000); the rest wait for the next batches. */
  maxMessagesPerBatch?: number;
  /** Where a job without a checkpoint starts reading (default 1: everything the stream holds). */
  startSequence?: number;
}

/** The messages given to one batch: the sequences of the first and last, and how many (an empty batch has 0). */
interface Allocation {
  from: number;
  to: number;
  count: number;
  /** Complete when `messages.length === count` (after a restart, once re-read). */
  messages: NatsMessage[];
}

interface NatsLogData {
  /** `[batch time, first sequence, last sequence, messages]` of every batch kept; empty batches are `[t, 0, 0, 0]`. */
  batches: Array<[number, number, number, number]>;
  /** The first sequence no batch has been given: where reading resumes. */
  next: number;
}

/** Re-reading the recorded batches after a restart. */
interface Replay {
  /** Non-empty allocations not yet complete, in sequence order. */
  pending: Allocation[];
  resolve(): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout | undefined;
}

const DEFAULT_MAX_PER_BATCH = 10_000;
/** The buffer of messages not yet given to a batch stops the consumer past this many bytes. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
/** A restart fails when the re-read of recorded batches gets no message for this long. */
const REPLAY_IDLE_TIMEOUT = 30_000;

const decoder = new TextDecoder();

/**
 * `natsJetStream` (as Spark's direct Kafka stream): an ordered consumer reads the stream in the background into a
 * buffer; each batch takes the buffered messages after the last one consumed (at most `maxMessagesPerBatch`), and
 * its range of sequences `[from, to]` is recorded in metadata checkpoints. After a restart, the recorded ranges are
 * read again from the stream before any batch runs, so every batch gets the same messages as before the crash.
 */
export class NatsJetStreamInputOp implements Operator<NatsMessage> {
  readonly kind = "natsJetStream";
  readonly parents: readonly DStream<any>[] = [];
  readonly input = true;
  private readonly batches = new Map<number, Allocation>();
  private readonly stream: string;
  private readonly subjects: string[];
  private readonly maxPerBatch: number;
  private buffer: NatsMessage[] = [];
  private bufferedBytes = 0;
  private next: number;
  /** The highest sequence delivered by the consumer. */
  private delivered = 0;
  private session: Promise<JetStreamSession> | undefined;
  private messages: ConsumerMessages | undefined;
  private reading: Promise<void> | undefined;
  private replay: Replay | undefined;
  /** Resumes a consumer paused on a full buffer. */
  private resume: (() => void) | undefined;
  private failure: unknown;
  private stopped = false;

  constructor(
    readonly slideDuration: number,
    private readonly options: NatsJetStreamOptions,
  ) {
    this.stream = options.stream;
    this.subjects =
      options.subjects === undefined
        ? []
        : Array.isArray(options.subjects)
          ? options.subjects
          : [options.subjects];
    if (this.subjects.some((s) => typeof s !== "string" || s === "" || /\s/.test(s))) {
      throw new InvalidArgumentError(
        `natsJetStream(): subjects are non-empty subject filters without spaces (got ${JSON.stringify(options.subjects)}).`,
      );
    }
    this.maxPerBatch = positiveInt(options.maxMessagesPerBatch, DEFAULT_MAX_PER_BATCH, "maxMessagesPerBatch");
    this.next = positiveInt(options.startSequence, 1, "startSequence");
  }

  readonly inputLog: InputLog = {
    replayable: true,
    save: (keepFrom: number): NatsLogData => {
      for (const t of this.batches.keys()) if (t < keepFrom) this.batches.delete(t);
      return {
        batches: [...this.batches].map(([t, a]) => [t, a.from, a.to, a.count]),
        next: this.next,
      };
    },
    restore: async (data: unknown, self: DStream<any>): Promise<void> => {
      const d = data as NatsLogData;
      this.batches.clear();
      for (const [t, from, to, count] of d.batches) this.batches.set(t, { from, to, count, messages: [] });
      this.next = d.next;
      const pending = [...this.batches.values()].filter((a) => a.count > 0).sort((a, b) => a.from - b.from);
      try {
        const session = await this.connect(self);
        if (pending.length === 0) return;
        const info = await streamInfo(session, this.stream);
        const from = pending[0]!.from;
        const to = pending.at(-1)!.to;
        if (info.state.last_seq < to || info.state.first_seq > from) {
          throw this.replayFailed(
            `it now holds sequences ${info.state.first_seq} to ${info.state.last_seq} (purged, recreated, or ` +
              "messages removed by its limits)",
            from,
            to,
          );
        }
        const done = new Promise<void>((resolve, reject) => {
          this.replay = { pending, resolve, reject, timer: undefined };
        });
        this.armReplayTimer();
        self.context.log.info(
          { operatorId: self.id, stream: this.stream, from, to, batches: pending.length },
          "re-reading the messages of recorded batches from JetStream",
        );
        await this.startReading(session, from, self.context.log);
        await done;
      } catch (e) {
        await this.close();
        throw e;
      }
    },
  };

  async start(self: DStream<NatsMessage>): Promise<void> {
    const session = await this.connect(self);
    if (!this.reading) await this.startReading(session, this.next, self.context.log);
  }

  async stop(): Promise<void> {
    await this.close();
  }

  compute(time: number, self: DStream<NatsMessage>): RDD<NatsMessage> {
    let a = this.batches.get(time);
    if (!a) {
      if (this.failure !== undefined) throw this.failure;
      const taken =
        this.buffer.length <= this.maxPerBatch ? this.buffer : this.buffer.slice(0, this.maxPerBatch);
      this.buffer = taken === this.buffer ? [] : this.buffer.slice(taken.length);
      for (const m of taken) this.bufferedBytes -= m.data.length;
      a =
        taken.length > 0
          ? { from: taken[0]!.seq, to: taken.at(-1)!.seq, count: taken.length, messages: taken }
          : { from: 0, to: 0, count: 0, messages: [] };
      if (taken.length > 0) this.next = a.to + 1;
      this.batches.set(time, a);
      this.wake();
      // Without checkpoints, only windows read past batches; with them, inputLog.save() prunes instead.
      if (self.context.checkpointDirectory === undefined) {
        for (const t of this.batches.keys()) if (t <= time - self.rememberDuration) this.batches.delete(t);
      }
    } else if (a.messages.length !== a.count) {
      throw this.replayFailed("they were not read again before the batch ran", a.from, a.to, time);
    }
    return RDD.fromPartitions([a.messages], self.context.rddEnv);
  }

  private connect(self: DStream<any>): Promise<JetStreamSession> {
    this.session ??= (async () => {
      const session = await openJetStream(
        this.options,
        self.context.log,
        `natsJetStream(${this.stream}) of ${self.context.appName}`,
      );
      try {
        await streamInfo(session, this.stream);
      } catch (e) {
        await session.close();
        throw e;
      }
      return session;
    })();
    return this.session;
  }

  /** Creates an ordered consumer from `from` and reads it in the background. */
  private async startReading(session: JetStreamSession, from: number, log: Logger): Promise<void> {
    let consumer: Awaited<ReturnType<typeof session.js.consumers.get>>;
    try {
      consumer = await session.js.consumers.get(this.stream, {
        deliver_policy: "by_start_sequence",
        opt_start_seq: from,
        ...(this.subjects.length > 0
          ? { filter_subjects: this.subjects.length === 1 ? this.subjects[0]! : this.subjects }
          : {}),
      });
    } catch (e) {
      if ((e as Error).name === "StreamNotFoundError") throw streamNotFound(this.stream, session.servers);
      if ((e as Error).name === "InvalidArgumentError") {
        throw new InvalidArgumentError(`natsJetStream(${this.stream}): ${(e as Error).message}.`);
      }
      throw e;
    }
    // Short pulls: idle heartbeats (half of expires) notice a lost consumer or stream within seconds.
    const messages = await consumer.consume({
      max_messages: Math.min(1000, 2 * this.maxPerBatch),
      expires: 2000,
    });
    this.messages = messages;
    void (async () => {
      for await (const n of messages.status()) {
        if (n.type === "heartbeats_missed" && this.resume !== undefined) {
          // Paused on a full buffer, nothing pulls, so no heartbeat comes: expected, not trouble.
          log.debug({ stream: this.stream, notification: n.type }, "JetStream consumer paused");
        } else if (
          n.type === "heartbeats_missed" ||
          n.type === "consumer_deleted" ||
          n.type === "no_responders"
        ) {
          log.warn(
            { stream: this.stream, notification: n.type },
            "JetStream consumer trouble; it recovers on its own",
          );
        } else if (n.type === "stream_not_found") {
          this.fail(streamNotFound(this.stream, session.servers));
        }
      }
    })().catch(() => {});
    this.reading = (async () => {
      for await (const m of messages) {
        if (this.stopped) break;
        this.deliver(m);
        while (!this.stopped && this.full()) await new Promise<void>((resolve) => (this.resume = resolve));
      }
      if (!this.stopped) {
        throw new SpateError(
          "SPATE_NATS_UNAVAILABLE",
          `The JetStream consumer of stream "${this.stream}" on ${session.servers} stopped delivering messages.`,
          { retriable: true },
        );
      }
    })().catch((e) => this.fail(e));
  }

  private deliver(m: JsMsg): void {
    const seq = m.seq;
    if (seq <= this.delivered) return; // an ordered consumer never repeats itself; be sure anyway
    this.delivered = seq;
    const msg: NatsMessage = {
      subject: m.subject,
      seq,
      data: m.data,
      text: decoder.decode(m.data),
      timestamp: Number(m.timestampNanos / 1_000_000n),
      ...(m.headers ? { headers: plainHeaders(m.headers) } : {}),
    };
    const replay = this.replay;
    if (seq < this.next) {
      if (replay) this.placeReplayed(replay, msg, m.info.pending);
      return;
    }
    this.buffer.push(msg);
    this.bufferedBytes += msg.data.length;
    // Every sequence before this one has been delivered: whatever is still missing is gone.
    if (replay) this.finishReplay(replay);
  }

  /** A message of a recorded batch, re-read after a restart; `pendingAfter`: how many more the stream holds. */
  private placeReplayed(replay: Replay, msg: NatsMessage, pendingAfter: number): void {
    this.armReplayTimer();
    const a = replay.pending[0]!;
    if (msg.seq > a.to) {
      this.finishReplay(replay); // the batch's range is passed with messages missing
      return;
    }
    if (msg.seq >= a.from) {
      a.messages.push(msg);
      if (a.messages.length === a.count) replay.pending.shift();
    }
    if (replay.pending.length === 0 || pendingAfter === 0) this.finishReplay(replay);
  }

  /** Ends the replay: done when every recorded batch is complete, failed when one still misses messages. */
  private finishReplay(replay: Replay): void {
    this.endReplay();
    const missing = replay.pending[0];
    if (missing === undefined) {
      replay.resolve();
      return;
    }
    replay.reject(
      this.replayFailed(
        `only ${missing.messages.length} of its ${missing.count} messages are left in the stream`,
        missing.from,
        missing.to,
      ),
    );
  }

  private endReplay(): void {
    clearTimeout(this.replay?.timer);
    this.replay = undefined;
  }

  private armReplayTimer(): void {
    const replay = this.replay;
    if (!replay) return;
    clearTimeout(replay.timer);
    replay.timer = setTimeout(() => {
      const missing = replay.pending[0];
      this.endReplay();
      replay.reject(
        this.replayFailed(
          `no message came from the stream for ${REPLAY_IDLE_TIMEOUT / 1000} s`,
          missing?.from ?? 0,
          missing?.to ?? 0,
        ),
      );
    }, REPLAY_IDLE_TIMEOUT);
  }

  private replayFailed(why: string, from: number, to: number, time?: number): SpateError {
    return new SpateError(
      "SPATE_NATS_REPLAY_FAILED",
      `${time === undefined ? "Recorded batches" : `Batch ${time}`} read messages ${from} to ${to} of the JetStream ` +
        `stream "${this.stream}", and they cannot be read again: ${why}. The stream must keep messages (its limits ` +
        "and retention) until the batches that read them are checkpointed as complete; restart from a new " +
        "checkpoint directory to read the stream from where it now stands.",
    );
  }

  private full(): boolean {
    return this.buffer.length >= 2 * this.maxPerBatch || this.bufferedBytes >= MAX_BUFFERED_BYTES;
  }

  private wake(): void {
    const resume = this.resume;
    this.resume = undefined;
    resume?.();
  }

  private fail(e: unknown): void {
    if (this.stopped) return;
    this.failure ??= e;
    if (this.replay) {
      const replay = this.replay;
      this.endReplay();
      replay.reject(e);
    }
  }

  private async close(): Promise<void> {
    this.stopped = true;
    this.wake();
    this.endReplay();
    await this.messages?.close().catch(() => {});
    await this.reading;
    const session = this.session;
    this.session = undefined;
    await session?.then((s) => s.close()).catch(() => {});
  }
}

/** Headers as a plain object, so that messages checkpoint as data. */
function plainHeaders(headers: Iterable<[string, string[]]>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, values] of headers) out[name] = [...values];
  return out;
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new InvalidArgumentError(`natsJetStream(): ${name} is a whole number > 0 (got ${String(value)}).`);
  }
  return value;
}
