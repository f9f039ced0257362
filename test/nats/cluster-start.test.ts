// A job started while its NATS cluster is electing: three nats-servers on loopback, R3 input and output streams, one
// node SIGKILLed just before the job starts (the input stream's leader, or a follower of it that is the cluster's
// meta leader). The job must start (natsJetStream and publishToJetStream wait for the leader, saying so in the log)
// and end with exactly the output of a run on a healthy cluster. With two of three nodes down the stream never gets
// a leader: the start fails with SPATE_NATS_UNAVAILABLE within unavailableTimeout, saying what to do.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type Logger, natsJetStream, publishToJetStream, type SpateError, StreamingContext } from "spate";
import { afterEach, describe, expect, it } from "vitest";
import { addStream, type NatsCluster, publishAll, readStream, startNatsCluster, withNats } from "./server.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const N = 200;

let cluster: NatsCluster | undefined;
let ssc: StreamingContext | undefined;
afterEach(async () => {
  await ssc?.stop().catch(() => {});
  ssc = undefined;
  await cluster?.stop();
  cluster = undefined;
});

function recordingLogger(): Logger & { lines: Array<[string, string, Record<string, unknown>]> } {
  const lines: Array<[string, string, Record<string, unknown>]> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => {
    lines.push([level, message, fields]);
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** The server name that leads a stream now and the names of its followers (asked until it has a leader). */
async function membersOf(c: NatsCluster, stream: string): Promise<{ leader: string; followers: string[] }> {
  const nc = await connect({ servers: c.urls });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 3000 });
    const end = Date.now() + 30_000;
    for (;;) {
      try {
        const info = (await jsm.streams.info(stream)).cluster;
        if (info?.leader && info.replicas?.length === 2) {
          return { leader: info.leader, followers: info.replicas.map((r) => r.name) };
        }
      } catch {
        // an election: ask again
      }
      if (Date.now() > end) throw new Error(`${stream} has no leader`);
      await sleep(250);
    }
  } finally {
    await nc.close();
  }
}

/** A cluster with R3 streams IN (holding N lines) and OUT. */
async function prepare(): Promise<{ c: NatsCluster; lines: string[] }> {
  const c = await startNatsCluster(3);
  cluster = c;
  await addStream(c.urls, { name: "IN", subjects: ["in.>"], num_replicas: 3 });
  await addStream(c.urls, {
    name: "OUT",
    subjects: ["out.>"],
    num_replicas: 3,
    duplicate_window: 10 * 60 * 1e9,
  });
  const lines = Array.from({ length: N }, (_, i) => `line-${i}`);
  await publishAll(
    c.urls,
    lines.map((l) => ["in.lines", l]),
  );
  // Every replica holds the lines before a node dies.
  await membersOf(c, "IN");
  return { c, lines };
}

/** Starts the job (IN → upper case → OUT); resolves once OUT holds `count` messages, then stops it. */
async function runJob(c: NatsCluster, count: number, logger: Logger): Promise<void> {
  const context = new StreamingContext({ batchDuration: 200, appName: "cluster-start", logger });
  ssc = context;
  const input = natsJetStream(context, { servers: c.urls, stream: "IN", maxMessagesPerBatch: 50 });
  publishToJetStream(
    input.map((m) => m.text.toUpperCase()),
    { servers: c.urls, subject: "out.lines" },
  );
  await context.start();
  const nc = await connect({ servers: c.urls, maxReconnectAttempts: -1 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 3000, checkAPI: false });
    const end = Date.now() + 60_000;
    for (;;) {
      const n = await jsm.streams
        .info("OUT")
        .then((i) => i.state.messages)
        .catch(() => -1);
      if (n >= count) break;
      if (Date.now() > end) throw new Error(`OUT holds ${n} of ${count} messages`);
      await sleep(200);
    }
  } finally {
    await nc.close();
  }
  await sleep(1000); // a few more batches: nothing more may appear
  await context.stop();
  ssc = undefined;
}

async function expectExactOutput(c: NatsCluster, lines: string[]): Promise<void> {
  // Read back once the cluster answers again (its meta leader may still be being elected).
  const end = Date.now() + 30_000;
  let out: Array<[number, string, string]>;
  for (;;) {
    try {
      out = await readStream(c.urls, "OUT");
      break;
    } catch (e) {
      if (Date.now() > end) throw e;
      await sleep(500);
    }
  }
  expect(out.map(([, , text]) => JSON.parse(text))).toEqual(lines.map((l) => l.toUpperCase()));
}

describe("natsJetStream and publishToJetStream started while the NATS cluster lost a node", () => {
  it("start while the input stream's leader is dead (waiting for the new leader) and end exact", {
    timeout: 150_000,
  }, async () => {
    const { c, lines } = await prepare();
    const { leader } = await membersOf(c, "IN");
    await c.kill(c.node(leader));
    const logger = recordingLogger();
    await runJob(c, N, logger);
    await expectExactOutput(c, lines);
    // The stream's leader, or the cluster's meta leader when it was on the same node.
    const waits = logger.lines.filter(
      ([level, message]) => level === "warn" && /waiting for the leader of/.test(message),
    );
    expect(waits.length).toBeGreaterThanOrEqual(1);
  });

  it("start while a follower of the input stream, the cluster's meta leader, is dead and end exact", {
    timeout: 150_000,
  }, async () => {
    const { c, lines } = await prepare();
    // The follower killed is the cluster's meta leader, so that JetStream itself has to elect one as the job starts
    // (the stream's leader is moved off it first when it led the stream too).
    let { leader } = await membersOf(c, "IN");
    for (let attempt = 1; ; attempt++) {
      const meta = await c.metaLeader();
      if (meta !== undefined && meta !== leader) {
        await c.kill(c.node(meta));
        break;
      }
      if (attempt > 10) throw new Error(`the meta leader (${meta}) stays the leader of IN (${leader})`);
      const before = leader;
      await withNats(c.urls, (nc) =>
        nc.request("$JS.API.STREAM.LEADER.STEPDOWN.IN", "", { timeout: 3000 }),
      ).catch(() => {});
      const end = Date.now() + 30_000;
      while (leader === before && Date.now() < end) {
        await sleep(250);
        leader = (await membersOf(c, "IN")).leader;
      }
    }
    const logger = recordingLogger();
    await runJob(c, N, logger);
    await expectExactOutput(c, lines);
    expect(
      logger.lines.some(([level, message]) => level === "warn" && /waiting for the leader of/.test(message)),
    ).toBe(true);
  });

  it("fail to start with SPATE_NATS_UNAVAILABLE within unavailableTimeout when the stream never gets a leader", {
    timeout: 120_000,
  }, async () => {
    const { c } = await prepare();
    // The leader and a follower: the one left cannot elect a leader (a leader left alone answers for a while).
    const { leader, followers } = await membersOf(c, "IN");
    for (const name of [leader, followers[0]!]) await c.kill(c.node(name));
    const logger = recordingLogger();
    const context = new StreamingContext({ batchDuration: 200, appName: "cluster-start", logger });
    ssc = context;
    natsJetStream(context, { servers: c.urls, stream: "IN", unavailableTimeout: 4000 }).foreachRDD(() => {});
    const began = Date.now();
    const error = (await context.start().catch((e: unknown) => e)) as SpateError;
    const took = Date.now() - began;
    expect(error.code).toBe("SPATE_NATS_UNAVAILABLE");
    // No stream leader, or no meta leader either (when the two nodes killed included it).
    expect(error.message).toMatch(/"IN"|natsJetStream\(IN\)/);
    expect(error.message).toContain("unavailableTimeout");
    expect(error.message).toMatch(/majority of (the stream's replicas|its nodes) must be up/);
    // Bounded: unavailableTimeout, plus one attempt under way and the connection's own setup (generous: a loaded
    // machine).
    expect(took).toBeGreaterThanOrEqual(4000);
    expect(took).toBeLessThan(30_000);
    expect(
      logger.lines.some(([level, message]) => level === "warn" && /waiting for the leader of/.test(message)),
    ).toBe(true);
    expect(context.state()).toBe("stopped");
  });

  it("publishToJetStream fails to start with SPATE_NATS_UNAVAILABLE within unavailableTimeout when the output stream never gets a leader", {
    timeout: 120_000,
  }, async () => {
    const { c } = await prepare();
    // The leader and a follower: the one left cannot elect a leader (a leader left alone answers for a while).
    const { leader, followers } = await membersOf(c, "OUT");
    for (const name of [leader, followers[0]!]) await c.kill(c.node(name));
    const context = new StreamingContext({
      batchDuration: 200,
      appName: "cluster-start",
      logger: recordingLogger(),
    });
    ssc = context;
    publishToJetStream(context.queueStream([["a"]]), {
      servers: c.urls,
      subject: "out.lines",
      unavailableTimeout: 4000,
    });
    const began = Date.now();
    const error = (await context.start().catch((e: unknown) => e)) as SpateError;
    const took = Date.now() - began;
    expect(error.code).toBe("SPATE_NATS_UNAVAILABLE");
    expect(error.message).toContain("out.lines");
    expect(error.message).toContain("unavailableTimeout");
    expect(took).toBeLessThan(30_000);
  });
});
