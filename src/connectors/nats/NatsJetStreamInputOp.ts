import type { ConsumerMessages, JsMsg, MsgRequest } from "@nats-io/jetstream";
import type { GraphNode, InputLog, Operator } from "../../dstream/Operator.js";
import { InvalidArgumentError, SpateError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { Allocations } from "../../dstream/Allocations.js";
import { RDD } from "../../rdd/RDD.js";
import {
  DEFAULT_UNAVAILABLE_TIMEOUT,
  isStreamNotFound,
  type JetStreamSession,
  type NatsConnectionOptions,
  openJetStream,
  streamInfo,
  streamNotFound,
  untilStreamLeader,
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
  /**
   * `[batch time, first sequence, last sequence, messages]` of every batch kept that got messages (0.1.0 listed
   * empty batches too, as `[t, 0, 0, 0]`).
   */
  batches: Array<[number, number, number, number]>;
  /** The latest batch time allocated: later ones not listed got no message (absent in 0.1.0). */
  through?: number;
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
/** How often the watchdog looks at the consumer. */
const WATCH_INTERVAL = 1000;
/** A consumer that delivered nothing for this long is checked against the stream (has it messages past ours?). */
const IDLE_CHECK = 3000;
/** Waits between attempts to re-create a consumer. */
const RECREATE_BACKOFF = [250, 500];

/** One ordered consumer, as created; a stalled one is retired and replaced by a new one. */
interface Reader {
  messages: ConsumerMessages;
  retired: boolean;
}

const decoder = new TextDecoder();

/**
 * `natsJetStream` (as Spark's direct Kafka stream): an ordered consumer reads the stream in the background into a
 * buffer; each batch takes the buffered messages after the last one consumed (at most `maxMessagesPerBatch`), and
 * its range of sequences `[from, to]` is recorded in metadata checkpoints. After a restart, the recorded ranges are
 * read again from the stream before any batch runs, so every batch gets the same messages as before the crash.
 */
export class NatsJetStreamInputOp implements Operator<NatsMessage> {
  readonly kind = "natsJetStream";
  readonly parents: readonly GraphNode<any>[] = [];
  readonly input = true;
  private readonly batches = new Allocations<Allocation>();
  private readonly stream: string;
  private readonly subjects: string[];
  private readonly maxPerBatch: number;
  private buffer: NatsMessage[] = [];
  private bufferedBytes = 0;
  private next: number;
  /** The highest sequence delivered by the consumer. */
  private delivered = 0;
  private session: Promise<JetStreamSession> | undefined;
  private reader: Reader | undefined;
  private reading: Promise<void> | undefined;
  /** The first sequence the first consumer was asked for. */
  private readFrom = 1;
  /** Wall-clock ms of the last message delivered (or of the last consumer created, or the last resume). */
  private lastProgress = 0;
  /** Wall-clock ms of the last check of an idle consumer against the stream. */
  private lastIdleCheck = 0;
  /** Wall-clock ms since when the stream has been unreadable (a stall not yet cured by a delivered message). */
  private troubleSince: number | undefined;
  private recovering: Promise<void> | undefined;
  private checking = false;
  private watchdog: NodeJS.Timeout | undefined;
  private owner: GraphNode<NatsMessage> | undefined;
  private replay: Replay | undefined;
  /** Resumes a consumer paused on a full buffer. */
  private resume: (() => void) | undefined;
  private failure: unknown;
  private stopped = false;
  private readonly unavailableTimeout: number;

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
    this.unavailableTimeout = options.unavailableTimeout ?? DEFAULT_UNAVAILABLE_TIMEOUT;
    this.next = positiveInt(options.startSequence, 1, "startSequence");
  }

  readonly inputLog: InputLog = {
    replayable: true,
    save: (keepFrom: number): NatsLogData => {
      this.batches.prune(keepFrom);
      return {
        batches: [...this.batches.entries()].map(([t, a]) => [t, a.from, a.to, a.count]),
        through: this.batches.through,
        next: this.next,
      };
    },
    allocateEmptyThrough: (time: number): void => this.batches.allocateEmptyThrough(time),
    restore: async (data: unknown, self: GraphNode<any>): Promise<void> => {
      this.owner = self;
      const d = data as NatsLogData;
      this.batches.restore(
        d.batches.map(([t, from, to, count]): [number, Allocation] => [t, { from, to, count, messages: [] }]),
        (a) => a.count === 0,
        d.through,
      );
      this.next = d.next;
      const pending = [...this.batches.values()].filter((a) => a.count > 0).sort((a, b) => a.from - b.from);
      try {
        const session = await this.connect(self);
        if (pending.length === 0) return;
        const info = await this.describe(session, self.env.log);
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
        self.env.log.info(
          { operatorId: self.id, stream: this.stream, from, to, batches: pending.length },
          "re-reading the messages of recorded batches from JetStream",
        );
        await this.startReading(session, from, self.env.log);
        await done;
      } catch (e) {
        await this.close();
        throw e;
      }
    },
  };

  async start(self: GraphNode<NatsMessage>): Promise<void> {
    this.owner = self;
    const session = await this.connect(self);
    if (!this.reading) await this.startReading(session, this.next, self.env.log);
  }

  async stop(): Promise<void> {
    await this.close();
  }

  describeInput(time: number): string | undefined {
    const a = this.batches.get(time);
    if (!a) return this.batches.has(time) ? `stream ${this.stream}: no messages` : undefined;
    return a.count === 0
      ? `stream ${this.stream}: no messages`
      : `stream ${this.stream}: sequences ${a.from} to ${a.to} (${a.count} messages)`;
  }

  compute(time: number, self: GraphNode<NatsMessage>): RDD<NatsMessage> {
    let a = this.batches.get(time);
    if (!a && this.batches.has(time)) a = { from: 0, to: 0, count: 0, messages: [] }; // allocated, given nothing
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
      this.batches.set(time, a, a.count === 0);
      this.wake();
      // Without checkpoints, only windows read past batches; with them, inputLog.save() prunes instead.
      if (self.env.checkpointDirectory === undefined) this.batches.prune(time - self.rememberDuration + 1);
    } else if (a.messages.length !== a.count) {
      throw this.replayFailed("they were not read again before the batch ran", a.from, a.to, time);
    }
    return RDD.fromPartitions([a.messages], self.env.rddEnv);
  }

  private connect(self: GraphNode<any>): Promise<JetStreamSession> {
    this.session ??= (async () => {
      const session = await openJetStream(
        this.options,
        self.env.log,
        `natsJetStream(${this.stream}) of ${self.env.appName}`,
      );
      try {
        await this.describe(session, self.env.log);
      } catch (e) {
        await session.close();
        throw e;
      }
      return session;
    })();
    return this.session;
  }

  /** The stream's description, asked again through an election (until `unavailableTimeout`). */
  private describe(session: JetStreamSession, log: Logger) {
    return untilStreamLeader(
      session,
      this.options,
      log,
      { stream: this.stream },
      "natsJetStream (asking for the stream's info)",
      () => streamInfo(session, this.stream, true),
    );
  }

  /**
   * Creates an ordered consumer from `from` (tried again through an election, until `unavailableTimeout`), reads it
   * in the background, and watches it.
   */
  private async startReading(session: JetStreamSession, from: number, log: Logger): Promise<void> {
    this.readFrom = from;
    await untilStreamLeader(
      session,
      this.options,
      log,
      { stream: this.stream },
      "natsJetStream (creating its consumer)",
      () => this.openReader(session, from, log, true),
    );
    this.watchdog ??= setInterval(() => this.watch(session, log), WATCH_INTERVAL);
    this.watchdog.unref();
  }

  /** The next sequence the job needs. */
  private get position(): number {
    return Math.max(this.delivered + 1, this.readFrom);
  }

  /**
   * Creates an ordered consumer from `from` and reads it in the background; `quick`: with requests that give up
   * soon (a re-creation, tried again until the stream has a leader).
   */
  private async openReader(
    session: JetStreamSession,
    from: number,
    log: Logger,
    quick = false,
  ): Promise<void> {
    const js = quick ? session.quick.js : session.js;
    let consumer: Awaited<ReturnType<typeof js.consumers.get>>;
    try {
      consumer = await js.consumers.get(this.stream, {
        deliver_policy: "by_start_sequence",
        opt_start_seq: from,
        ...(this.subjects.length > 0
          ? { filter_subjects: this.subjects.length === 1 ? this.subjects[0]! : this.subjects }
          : {}),
      });
    } catch (e) {
      if (isStreamNotFound(e)) throw streamNotFound(this.stream, session.servers);
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
    const reader: Reader = { messages, retired: false };
    this.reader = reader;
    this.lastProgress = Date.now();
    void (async () => {
      for await (const n of messages.status()) {
        if (reader.retired) break;
        if (n.type === "heartbeats_missed" && this.resume !== undefined) {
          // Paused on a full buffer, nothing pulls, so no heartbeat comes: expected, not trouble.
          log.debug({ stream: this.stream, notification: n.type }, "JetStream consumer paused");
        } else if (
          n.type === "heartbeats_missed" ||
          n.type === "consumer_deleted" ||
          n.type === "consumer_not_found" ||
          n.type === "no_responders"
        ) {
          // The client waits for the node that held the consumer to come back: re-create it elsewhere instead.
          this.recover(session, reader, n.type.replace(/_/g, " "), log);
        } else if (n.type === "stream_not_found") {
          this.fail(streamNotFound(this.stream, session.servers));
        }
      }
    })().catch(() => {});
    const reading = (async () => {
      for await (const m of messages) {
        if (this.stopped || reader.retired) break;
        this.deliver(m);
        while (!this.stopped && !reader.retired && this.full()) {
          await new Promise<void>((resolve) => (this.resume = resolve));
          this.lastProgress = Date.now();
        }
      }
      if (!this.stopped && !reader.retired) this.recover(session, reader, "the consumer ended", log);
    })().catch((e) => {
      if (!this.stopped && !reader.retired) this.recover(session, reader, (e as Error).message, log);
    });
    const before = this.reading;
    this.reading = before ? Promise.all([before, reading]).then(() => {}) : reading;
  }

  /**
   * Watches the consumer: one that delivered nothing for a while while the stream holds messages past our
   * position is stalled (re-created); a stream unreadable for longer than `unavailableTimeout` fails the job.
   */
  private watch(session: JetStreamSession, log: Logger): void {
    if (this.stopped || this.failure !== undefined) return;
    const now = Date.now();
    if (this.troubleSince !== undefined && now - this.troubleSince > this.unavailableTimeout) {
      this.fail(
        new SpateError(
          "SPATE_NATS_UNAVAILABLE",
          `The JetStream stream "${this.stream}" on ${session.servers} could not be read for ` +
            `${Math.round((now - this.troubleSince) / 1000)} s (unavailableTimeout ${this.unavailableTimeout} ms): ` +
            "no leader, or its consumer could not be re-created. Check the NATS cluster (a majority of the " +
            "stream's replicas must be up); the job reads on from its checkpoint when restarted.",
          { retriable: true },
        ),
      );
      return;
    }
    if (this.recovering || this.checking || this.resume !== undefined || this.reader === undefined) return;
    if (now - this.lastProgress < IDLE_CHECK || now - this.lastIdleCheck < IDLE_CHECK) return;
    this.lastIdleCheck = now;
    this.checking = true;
    const reader = this.reader;
    const position = this.position;
    void this.hasMessagesFrom(session, position)
      .then((more) => {
        if (reader !== this.reader || this.stopped) return;
        if (more) {
          if (this.lastProgress < now) this.recover(session, reader, "no progress", log);
        } else {
          this.troubleSince = undefined; // readable, and nothing to read
        }
      })
      .catch((e) => {
        if (isStreamNotFound(e)) this.fail(streamNotFound(this.stream, session.servers));
        else this.troubleSince ??= now;
      })
      .finally(() => {
        this.checking = false;
      });
  }

  /** Whether the stream holds a message at `seq` or later (on our subjects). */
  private async hasMessagesFrom(session: JetStreamSession, seq: number): Promise<boolean> {
    const info = await session.quick.jsm.streams.info(this.stream);
    if (info.state.last_seq < seq) return false;
    if (this.subjects.length === 0) return true;
    for (const subject of this.subjects) {
      // The server's MSG.GET takes next_by_subj (since 2.9); the client's type lists it for direct gets only.
      const query = { seq, next_by_subj: subject } as unknown as MsgRequest;
      const m = await session.quick.jsm.streams.getMessage(this.stream, query);
      if (m !== null) return true;
    }
    return false;
  }

  /**
   * Replaces a stalled consumer by a new one at the next sequence the job needs (the batches' recorded ranges are
   * untouched, so exactly-once holds), trying again until it works or `unavailableTimeout` has passed.
   */
  private recover(session: JetStreamSession, reader: Reader, reason: string, log: Logger): void {
    if (this.stopped || reader.retired || this.recovering || this.failure !== undefined) return;
    reader.retired = true;
    if (this.resume !== undefined) this.wake();
    const since = Math.min(this.lastProgress, Date.now());
    this.troubleSince ??= Date.now();
    void reader.messages.close().catch(() => {});
    log.warn(
      { stream: this.stream, reason, nextSequence: this.position },
      "JetStream consumer stalled; re-creating it",
    );
    this.recovering = (async () => {
      for (let attempt = 0; !this.stopped && this.failure === undefined; attempt++) {
        const from = this.position;
        try {
          await this.openReader(session, from, log, true);
        } catch (e) {
          if (e instanceof SpateError && e.code === "SPATE_NATS_STREAM_NOT_FOUND") {
            this.fail(e);
            return;
          }
          log.debug(
            { stream: this.stream, attempt, error: e },
            "cannot re-create the JetStream consumer yet",
          );
          await new Promise((resolve) =>
            setTimeout(resolve, RECREATE_BACKOFF[Math.min(attempt, RECREATE_BACKOFF.length - 1)]),
          );
          this.watch(session, log); // fails the job once the stream has been unreadable for too long
          continue;
        }
        const stalledMs = Date.now() - since;
        const message =
          `re-created the JetStream consumer of stream "${this.stream}" at sequence ${from} after ${reason} ` +
          `(${attempt + 1} attempt(s), no message for ${(stalledMs / 1000).toFixed(1)} s)`;
        log.info(
          { stream: this.stream, reason, nextSequence: from, attempts: attempt + 1, stalledMs },
          message,
        );
        const self = this.owner;
        self?.env.listenerBus.post("onInputRecovered", () => ({
          recoveryInfo: {
            streamId: self.id,
            kind: this.kind,
            time: Date.now(),
            message,
            stalledMs,
          },
        }));
        return;
      }
    })().finally(() => {
      this.recovering = undefined;
    });
  }

  private deliver(m: JsMsg): void {
    const seq = m.seq;
    if (seq <= this.delivered) return; // an ordered consumer never repeats itself; be sure anyway
    this.delivered = seq;
    this.lastProgress = Date.now();
    this.troubleSince = undefined;
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
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    this.wake();
    this.endReplay();
    await this.recovering;
    await this.reader?.messages.close().catch(() => {});
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
