import { createHash } from "node:crypto";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import type { CheckpointRecord, CheckpointStore } from "../../checkpoint/CheckpointStore.js";
import { InvalidArgumentError, SpateError } from "../../errors.js";
import { createLogger, type Logger } from "../../log.js";
import {
  checkConnectionOptions,
  DEFAULT_UNAVAILABLE_TIMEOUT,
  type JetStreamSession,
  type NatsConnectionOptions,
  openJetStream,
} from "./connection.js";

/** Where a {@link jetStreamCheckpointStore} keeps a job's checkpoints. */
export interface JetStreamCheckpointStoreOptions extends NatsConnectionOptions {
  /**
   * The name of the bucket (letters, digits, `-` and `_`): checkpoint files go into the object store of that name,
   * the ownership record into the key-value bucket of that name. Both are created when missing. One bucket per
   * job, as one folder per job.
   */
  bucket: string;
  /**
   * How many servers of a cluster hold each bucket when spate creates it (1 to 5, default 1). With 3 a checkpoint
   * survives the loss of one server; buckets that exist keep their own setting.
   */
  replicas?: number;
  /**
   * The timeout of each request to JetStream, in ms (default 5000). A request that times out is tried again until
   * `unavailableTimeout`.
   */
  requestTimeout?: number;
}

const BUCKET = /^[A-Za-z0-9_-]+$/;
/** A record is a key of the KV bucket: KV keys allow these. */
const RECORD = /^[A-Za-z0-9_=-]+$/;
/** JetStream's "wrong last sequence": a conditional write that found another revision. */
const WRONG_LAST_SEQUENCE = new Set([10071, 10164]);
const DEFAULT_REQUEST_TIMEOUT = 5000;
const MAX_CHUNK = 1024 * 1024;
/** How long a read waits for a chunk before it looks whether its file was replaced, in ms. */
const WATCH_MS = 200;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Opened {
  session: JetStreamSession;
  /** Requests with the store's timeout. */
  jsm: JetStreamManager;
  js: JetStreamClient;
  objects: ObjectStore;
  records: KV;
  stream: string;
}

/** A read that found its file replaced or deleted under it: read again at once. */
class ReadRace extends Error {}

/** Whether an error of the client may go away by itself (a timeout, a lost connection, an election under way). */
function isTransient(e: unknown): boolean {
  const err = e as { name?: unknown; code?: unknown; status?: unknown } | null;
  if (err instanceof SpateError) return false;
  if (err?.name === "JetStreamApiError") {
    // 503 and "JetStream system temporarily unavailable" (10008) pass with the election; others do not.
    return err.status === 503 || err.code === 10008;
  }
  return true;
}

/**
 * A {@link CheckpointStore} on NATS JetStream, for a job that may restart on another machine: files in a JetStream
 * object store, the ownership record in a key-value bucket of the same name, whose revision (a compare-and-set
 * write: `create` for a new record, `update` with the expected revision otherwise) is the fencing token of
 * {@link StreamingContext.getOrCreate}'s single owner.
 *
 * A write is atomic: an object's chunks go under a fresh id, and the object appears with its description,
 * published last, in one message; a reader reads the chunks the description names and checks their SHA-256, so it
 * sees the whole old file or the whole new one. It is durable as JetStream's storage is (with `replicas: 3`,
 * acknowledged once a majority of servers hold it). A request that fails while the cluster elects a leader (4 to 9
 * s after a server dies) is tried again until `unavailableTimeout`. The connection opens on first use and closes
 * when the context stops (and opens again if the store is used after).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, writeFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { jetStreamCheckpointStore, ManualClock, StreamingContext } from "spate";
 *
 * const incoming = mkdtempSync(join(tmpdir(), "spate-example-"));
 * let totals: Array<[string, number]> = [];
 * function create(): StreamingContext {
 *   const ssc = new StreamingContext({ batchDuration: 1000, clock: new ManualClock(0) });
 *   ssc.textFileStream(incoming)
 *     .map((word) => [word, 1] as [string, number])
 *     .updateStateByKey((ones: number[], total: number | undefined) => (total ?? 0) + ones.length)
 *     .uid("totals")
 *     .foreachRDD(async (rdd) => {
 *       totals = await rdd.collect();
 *     });
 *   return ssc;
 * }
 *
 * // Checkpoints go to the JetStream bucket "word-totals" (created if missing), which any machine can reach.
 * const store = jetStreamCheckpointStore({ servers: "localhost:4222", bucket: "word-totals" });
 * const first = await StreamingContext.getOrCreate(store, create);
 * await first.start();
 * writeFileSync(join(incoming, "1.txt"), "a\nb\na\n");
 * (first.clock as ManualClock).advance(1000);
 * await first.awaitIdle();
 * await first.stop();
 *
 * // Run again (here, or on another machine): the totals come back from JetStream.
 * const second = await StreamingContext.getOrCreate(store, create);
 * assert.notEqual(second.restoredFrom, undefined);
 * await second.start();
 * writeFileSync(join(incoming, "2.txt"), "a\n");
 * (second.clock as ManualClock).advance(1000);
 * await second.awaitIdle();
 * await second.stop();
 * assert.deepEqual(totals.sort(), [["a", 3], ["b", 1]]);
 * ```
 */
export function jetStreamCheckpointStore(options: JetStreamCheckpointStoreOptions): JetStreamCheckpointStore {
  return new JetStreamCheckpointStore(options);
}

/** The {@link CheckpointStore} that {@link jetStreamCheckpointStore} returns. */
export class JetStreamCheckpointStore implements CheckpointStore {
  readonly location: string;
  readonly bucket: string;
  private readonly options: JetStreamCheckpointStoreOptions;
  private readonly log: Logger;
  private opening: Promise<Opened> | undefined;

  constructor(options: JetStreamCheckpointStoreOptions) {
    checkConnectionOptions(options, "jetStreamCheckpointStore()");
    const { bucket, replicas, requestTimeout } = options;
    if (typeof bucket !== "string" || !BUCKET.test(bucket)) {
      throw new InvalidArgumentError(
        `jetStreamCheckpointStore() needs a bucket name of letters, digits, "-" and "_" (got ${JSON.stringify(bucket)}).`,
      );
    }
    if (replicas !== undefined && !(Number.isInteger(replicas) && replicas >= 1 && replicas <= 5)) {
      throw new InvalidArgumentError(
        `jetStreamCheckpointStore(): replicas is a whole number from 1 to 5 (got ${String(replicas)}).`,
      );
    }
    if (
      requestTimeout !== undefined &&
      !(typeof requestTimeout === "number" && Number.isFinite(requestTimeout) && requestTimeout > 0)
    ) {
      throw new InvalidArgumentError(
        `jetStreamCheckpointStore(): requestTimeout is a number of ms > 0 (got ${String(requestTimeout)}).`,
      );
    }
    this.options = options;
    this.bucket = bucket;
    const servers = (Array.isArray(options.servers) ? options.servers : [options.servers]).join(",");
    this.location = `nats://${servers.replace(/nats:\/\//g, "")}/${bucket}`;
    this.log = createLogger("spate");
  }

  /** The connection and both buckets, opened (and the buckets created) on first use. */
  private open(): Promise<Opened> {
    this.opening ??= this.openOnce().catch((e) => {
      this.opening = undefined;
      throw e;
    });
    return this.opening;
  }

  private async openOnce(): Promise<Opened> {
    const session = await openJetStream(this.options, this.log, `the checkpoint store ${this.location}`);
    try {
      const [{ jetstream, jetstreamManager }, { Objm, setSha256Backend }, { Kvm }] = await Promise.all([
        import("@nats-io/jetstream"),
        import("@nats-io/obj"),
        import("@nats-io/kv"),
      ]);
      // The object store hashes every object with SHA-256, in pure JavaScript unless told to use Node's crypto
      // (the same digests, process-wide, many times faster: most of a large write's time otherwise).
      setSha256Backend("native");
      const timeout = this.options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT;
      const js = jetstream(session.nc, { timeout });
      const jsm = await jetstreamManager(session.nc, { timeout, checkAPI: false });
      const replicas = this.options.replicas ?? 1;
      const { objects, records } = await this.retry("opening the buckets", async () => ({
        objects: await new Objm(js).create(this.bucket, { replicas }),
        records: await new Kvm(js).create(this.bucket, { replicas, history: 1 }),
      }));
      return { session, js, jsm, objects, records, stream: `OBJ_${this.bucket}` };
    } catch (e) {
      await session.close().catch(() => {});
      throw e;
    }
  }

  /**
   * Runs `fn` on the open connection until it succeeds, trying again while its errors are transient, for at most
   * `unavailableTimeout`; then fails with SPATE_NATS_UNAVAILABLE. A connection closed meanwhile is opened again.
   */
  private retrying<R>(what: string, fn: (opened: Opened) => Promise<R>): Promise<R> {
    return this.retry(what, async () => {
      const opened = await this.open();
      if (opened.session.nc.isClosed()) {
        if (this.opening && (await this.opening.catch(() => undefined)) === opened) this.opening = undefined;
        throw new Error("the connection was closed");
      }
      return fn(opened);
    });
  }

  private async retry<R>(what: string, fn: () => Promise<R>): Promise<R> {
    const limit = this.options.unavailableTimeout ?? DEFAULT_UNAVAILABLE_TIMEOUT;
    const deadline = performance.now() + limit;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!isTransient(e)) throw e;
        const left = deadline - performance.now();
        if (e instanceof ReadRace && left > 0) continue;
        if (left <= 0) {
          throw new SpateError(
            "SPATE_NATS_UNAVAILABLE",
            `JetStream did not answer while ${what} in ${this.location}: ${attempt} attempt(s) in ${limit} ms, the ` +
              `last failed with ${(e as Error).message}. Check that the servers run (with -js) and, in a cluster, ` +
              "that a majority of them are up; unavailableTimeout sets how long spate keeps trying.",
            { cause: e, retriable: true },
          );
        }
        const wait = Math.min(100 * 2 ** (attempt - 1), 1000, left);
        this.log.warn(
          { location: this.location, attempt, error: e, retryInMs: Math.round(wait) },
          `JetStream failed while ${what}; trying again`,
        );
        await sleep(wait);
      }
    }
  }

  private checkName(name: string): string {
    if (typeof name !== "string" || name === "" || /[/\\]/.test(name) || name.startsWith(".")) {
      throw new InvalidArgumentError(
        `A checkpoint file name must be a plain name (got ${JSON.stringify(name)}).`,
      );
    }
    return name;
  }

  private checkRecord(name: string): string {
    if (typeof name !== "string" || !RECORD.test(name)) {
      throw new InvalidArgumentError(
        `A checkpoint record name is letters, digits, "-", "_" and "=" (got ${JSON.stringify(name)}).`,
      );
    }
    return name;
  }

  async write(name: string, data: Uint8Array): Promise<void> {
    this.checkName(name);
    await this.retrying(`writing ${name}`, async ({ objects }) => {
      // Chunks as large as the server takes (the client caps this at its max_payload, 1 MiB by default): each is a
      // publish waiting for its acknowledgement, so fewer chunks write faster (8 times the client's default 128 KiB).
      await objects.putBlob({ name, options: { max_chunk_size: MAX_CHUNK } }, data);
    });
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    this.checkName(name);
    return this.retrying(`reading ${name}`, (opened) => this.readOnce(opened, name));
  }

  /**
   * Reads the chunks the object's description names and checks their digest. The chunks of a file replaced or
   * deleted meanwhile are removed: the read then ends short and is tried again (from the description).
   */
  private async readOnce(
    { objects, js, jsm, stream }: Opened,
    name: string,
  ): Promise<Uint8Array | undefined> {
    const info = await objects.info(name);
    if (info === null || info.deleted) return undefined;
    if (info.size === 0) return new Uint8Array(0);
    const subject = `$O.${this.bucket}.C.${info.nuid}`;
    // Chunks removed already (a newer write or a delete won) are read again from the description at once, rather
    // than waited for; chunks removed after this look end the fetch short, after its expiry.
    const held =
      (await jsm.streams.info(stream, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
    if (held !== info.chunks) throw new ReadRace(`${name} changed while it was read`);
    const consumer = await js.consumers.get(stream, { filter_subjects: subject });
    const chunks: Uint8Array[] = [];
    const messages = await consumer.fetch({
      max_messages: info.chunks,
      expires: this.options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT,
    });
    // A fetch waits for chunks that will not come once a newer write or a delete removed them: while no chunk
    // arrives, the description is looked at again, and the read starts over when it changed.
    let lastChunk = performance.now();
    let replaced = false;
    const watchdog = setInterval(() => {
      if (performance.now() - lastChunk < WATCH_MS) return;
      void objects.info(name).then(
        (now) => {
          if (now === null || now.nuid !== info.nuid) {
            replaced = true;
            messages.stop();
          }
        },
        () => {},
      );
    }, WATCH_MS);
    try {
      for await (const m of messages) {
        lastChunk = performance.now();
        chunks.push(m.data);
        if (chunks.length === info.chunks) break;
      }
    } finally {
      clearInterval(watchdog);
    }
    if (replaced) throw new ReadRace(`${name} changed while it was read`);
    const data = Buffer.concat(chunks);
    const expected = Buffer.from(info.digest.replace(/^SHA-256=/, ""), "base64url");
    const actual = createHash("sha256").update(data).digest();
    if (chunks.length !== info.chunks || data.length !== info.size || !expected.equals(actual)) {
      throw new ReadRace(`${name} changed while it was read (${chunks.length} of ${info.chunks} chunks)`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  /**
   * The names of the descriptions the stream holds, asked of the stream's leader (the object store's own `list()`
   * reads through a consumer, which a cluster may place on a replica that is behind). A description marked
   * deleted (left by another tool: this store's delete leaves none) is not a file.
   */
  async list(): Promise<string[]> {
    return this.retrying("listing files", async ({ jsm, stream }) => {
      const prefix = `$O.${this.bucket}.M.`;
      const info = await jsm.streams.info(stream, { subjects_filter: `${prefix}>` });
      const names: string[] = [];
      for (const subject of Object.keys(info.state.subjects ?? {})) {
        const encoded = subject.slice(prefix.length).replace(/-/g, "+").replace(/_/g, "/");
        const m = await jsm.streams.getMessage(stream, { last_by_subj: subject });
        if (m !== null && (m.json() as { deleted?: boolean }).deleted !== true) {
          names.push(Buffer.from(encoded, "base64").toString("utf8"));
        }
      }
      return names;
    });
  }

  /** Removes the description first (the file is gone at once), then the chunks, leaving no marker behind. */
  async delete(name: string): Promise<void> {
    this.checkName(name);
    await this.retrying(`deleting ${name}`, async ({ objects, jsm, stream }) => {
      const info = await objects.info(name);
      if (info === null) return;
      // The object store's name of the description's subject: the name in padded URL-safe base64.
      const encoded = Buffer.from(name).toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
      await jsm.streams.purge(stream, { filter: `$O.${this.bucket}.M.${encoded}` });
      await jsm.streams.purge(stream, { filter: `$O.${this.bucket}.C.${info.nuid}` });
    });
  }

  /** Asked of the stream's leader (a KV bucket may let replicas that are behind answer its own `get`). */
  async readRecord(name: string): Promise<CheckpointRecord | undefined> {
    this.checkRecord(name);
    return this.retrying(`reading the record ${name}`, async ({ jsm }) => {
      const m = await jsm.streams.getMessage(`KV_${this.bucket}`, {
        last_by_subj: `$KV.${this.bucket}.${name}`,
      });
      const operation = m?.header?.get("KV-Operation");
      if (m === null || operation === "DEL" || operation === "PURGE") return undefined;
      return { revision: m.seq, data: m.data };
    });
  }

  async compareAndSetRecord(name: string, data: Uint8Array, expected: number): Promise<number | undefined> {
    this.checkRecord(name);
    return this.retrying(`writing the record ${name}`, async ({ records }) => {
      try {
        return expected === 0 ? await records.create(name, data) : await records.update(name, data, expected);
      } catch (e) {
        const code = (e as { code?: unknown } | null)?.code;
        if (typeof code === "number" && WRONG_LAST_SEQUENCE.has(code)) return undefined;
        throw e;
      }
    });
  }

  /** Closes the connection (opened again if the store is used after). */
  async close(): Promise<void> {
    const opening = this.opening;
    this.opening = undefined;
    const opened = await opening?.catch(() => undefined);
    await opened?.session.close();
  }
}
