import type { JetStreamClient, JetStreamManager, StreamInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { InvalidArgumentError, SpateError } from "../../errors.js";
import type { Logger } from "../../log.js";

/** How to reach the NATS servers, shared by the JetStream source and sink. */
export interface NatsConnectionOptions {
  /**
   * One or more servers, `host:port` or `nats://host:port` (a string may list several, separated by commas). Give
   * every node of a cluster: the client moves to another when the one it uses dies.
   */
  servers: string | string[];
  /**
   * How long to keep trying to reach the servers when the job starts, in ms (default 10000). Each failed attempt is
   * logged; after this the job fails with `SPATE_NATS_UNAVAILABLE`. Once connected, the client reconnects on its
   * own, without limit, logging each disconnection.
   */
  connectTimeout?: number;
  /**
   * How long a stream may stay unusable, in ms (default 30000): a NATS cluster electing a new stream leader after
   * losing a node takes 4-9 s. At start, the source and the sink wait this long for the stream's leader (each
   * attempt logged), then `start()` fails with `SPATE_NATS_UNAVAILABLE`. Once the job runs, the source re-creates a
   * stalled consumer until then, and fails the job with `SPATE_NATS_UNAVAILABLE` after; the sink retries a publish
   * until then, and fails the batch with `SPATE_NATS_PUBLISH_FAILED` after.
   */
  unavailableTimeout?: number;
}

/** A connection with its JetStream client and manager. */
export interface JetStreamSession {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /**
   * The same, with requests that give up after {@link QUICK_TIMEOUT} ms: for attempts repeated through a cluster
   * election, so that one that cannot succeed does not hold back the next one (the default waits 5 s).
   */
  readonly quick: { readonly js: JetStreamClient; readonly jsm: JetStreamManager };
  readonly servers: string;
  close(): Promise<void>;
}

const DEFAULT_CONNECT_TIMEOUT = 10_000;
/** The timeout of requests in `JetStreamSession.quick`, in ms. */
export const QUICK_TIMEOUT = 1500;
export const DEFAULT_UNAVAILABLE_TIMEOUT = 30_000;
const STREAM_NOT_FOUND = 10059;
/** Waits between attempts at start while a stream has no leader, in ms. */
const RETRY_WAIT = 500;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Checks the options every NATS connector takes; `what` names the call in messages. */
export function checkConnectionOptions(options: NatsConnectionOptions, what: string): void {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError(`${what} takes an options object with at least { servers }.`);
  }
  const servers = Array.isArray(options.servers) ? options.servers : [options.servers];
  if (
    servers.length === 0 ||
    servers.some((s) => typeof s !== "string" || s.split(",").some((one) => one.trim() === ""))
  ) {
    throw new InvalidArgumentError(
      `${what} needs servers: a "host:port" string or an array of them (got ${JSON.stringify(options.servers)}).`,
    );
  }
  const t = options.connectTimeout;
  if (t !== undefined && !(typeof t === "number" && Number.isFinite(t) && t >= 0)) {
    throw new InvalidArgumentError(`${what}: connectTimeout is a number of ms >= 0 (got ${String(t)}).`);
  }
  const u = options.unavailableTimeout;
  if (u !== undefined && !(typeof u === "number" && Number.isFinite(u) && u > 0)) {
    throw new InvalidArgumentError(`${what}: unavailableTimeout is a number of ms > 0 (got ${String(u)}).`);
  }
}

/** Checks a JetStream stream name as the server would (no spaces, dots or wildcards). */
export function checkStreamName(stream: unknown, what: string): string {
  if (typeof stream !== "string" || stream === "" || /[\s.*>/\\]/.test(stream)) {
    throw new InvalidArgumentError(
      `${what} needs the name of a JetStream stream, without spaces, dots, wildcards or slashes ` +
        `(got ${JSON.stringify(stream)}).`,
    );
  }
  return stream;
}

/**
 * Connects to NATS and JetStream, trying again (with backoff, each failure logged) until `connectTimeout` has
 * passed. The client is loaded on first use, so that jobs without NATS do not load it.
 */
export async function openJetStream(
  options: NatsConnectionOptions,
  log: Logger,
  name: string,
): Promise<JetStreamSession> {
  const [{ connect }, { jetstream, jetstreamManager }] = await Promise.all([
    import("@nats-io/transport-node"),
    import("@nats-io/jetstream"),
  ]);
  const servers = (Array.isArray(options.servers) ? options.servers : [options.servers]).flatMap((s) =>
    s.split(",").map((one) => one.trim()),
  );
  const where = servers.join(", ");
  const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
  const deadline = Date.now() + timeout;
  let nc: NatsConnection | undefined;
  for (let attempt = 1; nc === undefined; attempt++) {
    try {
      nc = await connect({
        servers,
        name,
        timeout: Math.max(200, Math.min(2000, deadline - Date.now())),
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
      });
    } catch (e) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new SpateError(
          "SPATE_NATS_UNAVAILABLE",
          `Cannot connect to NATS at ${where} for ${name}: ${attempt} attempt(s) in ${timeout} ms, the last failed ` +
            `with ${(e as Error).message}. Start the server (nats-server -js), or fix the servers option; ` +
            "connectTimeout sets how long spate keeps trying when the job starts.",
          { cause: e, retriable: true },
        );
      }
      log.warn(
        { servers: where, attempt, error: e, retryInMs: Math.min(250 * 2 ** (attempt - 1), 2000, left) },
        `cannot connect to NATS for ${name}; trying again`,
      );
      await sleep(Math.min(250 * 2 ** (attempt - 1), 2000, left));
    }
  }
  const conn = nc;
  void (async () => {
    for await (const s of conn.status()) {
      if (s.type === "disconnect")
        log.warn({ server: s.server, for: name }, "disconnected from NATS; reconnecting");
      else if (s.type === "reconnect") log.info({ server: s.server, for: name }, "reconnected to NATS");
      else if (s.type === "error") log.warn({ error: s.error, for: name }, "NATS reported an error");
    }
  })().catch(() => {});
  let checked: JetStreamManager | undefined;
  // A cluster that lost its meta leader answers nothing until it elects one (4-9 s): asked again until then.
  const patience = options.unavailableTimeout ?? DEFAULT_UNAVAILABLE_TIMEOUT;
  const since = Date.now();
  for (let attempt = 1; checked === undefined; attempt++) {
    try {
      // Quick: an attempt that cannot succeed does not use up the time left for the next.
      checked = await jetstreamManager(conn, { timeout: QUICK_TIMEOUT });
    } catch (e) {
      const waited = Date.now() - since;
      if (isTransient(e) && !isNotEnabled(e) && waited < patience) {
        log.warn(
          { servers: where, for: name, attempt, waitedMs: waited, error: e },
          "waiting for the leader of JetStream (the NATS cluster may be electing its meta leader)",
        );
        await sleep(Math.min(500, patience - waited));
        continue;
      }
      await conn.close().catch(() => {});
      throw isNotEnabled(e) || !isTransient(e)
        ? new SpateError(
            "SPATE_NATS_UNAVAILABLE",
            `JetStream is not available on the NATS server at ${where} (${(e as Error).message}): start the server ` +
              "with JetStream enabled (nats-server -js, or a jetstream block in its configuration).",
            { cause: e },
          )
        : new SpateError(
            "SPATE_NATS_UNAVAILABLE",
            `JetStream on ${where} did not answer for ${name} within ${Math.round(waited / 1000)} s ` +
              `(unavailableTimeout ${patience} ms; the last attempt failed with ${(e as Error).message}): the NATS ` +
              "cluster has no meta leader. A majority of its nodes must be up and connected to each other; " +
              "start the missing ones, or raise unavailableTimeout to wait longer at start.",
            { cause: e, retriable: true },
          );
    }
  }
  return {
    nc: conn,
    js: jetstream(conn),
    jsm: await jetstreamManager(conn, { checkAPI: false }),
    quick: {
      js: jetstream(conn, { timeout: QUICK_TIMEOUT }),
      jsm: checked,
    },
    servers: where,
    close: async () => {
      if (!conn.isClosed()) await conn.close();
    },
  };
}

/** Whether an error of the JetStream API says that a stream does not exist. */
export function isStreamNotFound(e: unknown): boolean {
  return (
    (e as { code?: unknown } | null)?.code === STREAM_NOT_FOUND ||
    (e as Error | null)?.name === "StreamNotFoundError"
  );
}

/** The error of a stream that does not exist, saying how to create it. */
export function streamNotFound(stream: string, servers: string, subjects = `${stream}.>`): SpateError {
  return new SpateError(
    "SPATE_NATS_STREAM_NOT_FOUND",
    `The JetStream stream "${stream}" does not exist on ${servers}. Create it first, with the NATS command line ` +
      `(nats stream add ${stream} --subjects "${subjects}" --storage file --defaults) or from code ` +
      `(await (await jetstreamManager(nc)).streams.add({ name: "${stream}", subjects: ["${subjects}"] })).`,
  );
}

/** The stream's description, or SPATE_NATS_STREAM_NOT_FOUND; `quick`: with a request that gives up soon. */
export async function streamInfo(
  session: JetStreamSession,
  stream: string,
  quick = false,
): Promise<StreamInfo> {
  try {
    return await (quick ? session.quick.jsm : session.jsm).streams.info(stream);
  } catch (e) {
    if (isStreamNotFound(e)) throw streamNotFound(stream, session.servers);
    throw e;
  }
}

/** Whether a JetStream request failed because JetStream is not enabled (no server answers its API). */
function isNotEnabled(e: unknown): boolean {
  return (e as Error | null)?.name === "JetStreamNotEnabled";
}

/**
 * Whether a failed JetStream request may succeed once the cluster has elected its leaders: a timeout, no one to
 * answer (no stream leader yet), or a 503 (JetStream temporarily unavailable).
 */
export function isTransient(e: unknown): boolean {
  if (e instanceof SpateError || isStreamNotFound(e)) return false;
  const name = (e as Error | null)?.name;
  if (name === "TimeoutError" || name === "RequestError" || name === "JetStreamNotEnabled") return true;
  const err = e as { status?: unknown; code?: unknown; message?: unknown } | null;
  if (err?.status === 503 || err?.code === 503 || err?.code === "503") return true;
  const api = (e as { api_error?: { code?: unknown } } | null)?.api_error;
  if (api?.code === 503) return true;
  return /timeout|temporarily unavailable|no responders|not enabled|no leader|offline|quorum/i.test(
    typeof err?.message === "string" ? err.message : "",
  );
}

/**
 * Runs `request` (JetStream requests that need the stream's leader) when a connector starts, through a cluster
 * election: each transient failure is logged ("waiting for the leader of the JetStream stream …") and the request
 * tried again, for at most `unavailableTimeout`; then `SPATE_NATS_UNAVAILABLE`. `request` uses the session's
 * `quick` clients, so that the bound holds within about {@link QUICK_TIMEOUT} ms. A missing stream and other errors
 * fail at once.
 */
export async function untilStreamLeader<T>(
  session: JetStreamSession,
  options: NatsConnectionOptions,
  log: Logger,
  target: { stream: string } | { subject: string },
  what: string,
  request: () => Promise<T>,
): Promise<T> {
  const label = "stream" in target ? `stream "${target.stream}"` : `stream of subject ${target.subject}`;
  const patience = options.unavailableTimeout ?? DEFAULT_UNAVAILABLE_TIMEOUT;
  const since = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (e) {
      const waited = Date.now() - since;
      if (!isTransient(e)) throw e;
      if (waited >= patience) {
        throw new SpateError(
          "SPATE_NATS_UNAVAILABLE",
          `The JetStream ${label} on ${session.servers} did not answer ${what} within ` +
            `${Math.round(waited / 1000)} s (${attempt} attempts; unavailableTimeout ${patience} ms; the last ` +
            `failed with ${(e as Error).message}): it has no leader. A majority of the stream's replicas must be ` +
            "up for it to elect one: start the NATS nodes that are down (nats stream info shows which replicas " +
            "are offline), or raise unavailableTimeout to wait longer at start.",
          { cause: e, retriable: true },
        );
      }
      log.warn(
        { ...target, for: what, attempt, waitedMs: waited, error: (e as Error).message },
        `waiting for the leader of the JetStream ${label} (the NATS cluster may be electing one)`,
      );
      await sleep(Math.min(RETRY_WAIT, Math.max(0, patience - waited)));
    }
  }
}
