// publishToJetStream against a real nats-server: every record is published and acknowledged; a batch that runs
// again publishes the same message ids, which JetStream drops, whatever the order of its records; a record larger
// than the server's max_payload fails the batch with nothing of it published; publishes are retried in order while
// the server is away, and fail the batch after unavailableTimeout.
import { type DStream, ManualClock, publishToJetStream, type SpateError, StreamingContext } from "spate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addStream, type NatsServer, publishAll, readStream, startNatsServer, withNats } from "./server.js";

let server: NatsServer;

beforeAll(async () => {
  server = await startNatsServer();
  await addStream(server.url, { name: "OUT", subjects: ["out.>"] });
});

afterAll(async () => {
  await server?.stop();
});

/** Runs a job over `batches` (one per second on a manual clock) that publishes what `sink` says. */
async function runJob(
  batches: string[][],
  sink: (stream: DStream<string>) => void,
  appName = "nats-sink",
): Promise<StreamingContext> {
  const clock = new ManualClock(0);
  const ssc = new StreamingContext({ batchDuration: 1000, clock, appName });
  sink(ssc.queueStream(batches.map((b) => [...b])));
  await ssc.start();
  for (let i = 0; i < batches.length; i++) clock.advance(1000);
  await ssc.awaitIdle().catch(() => {});
  await ssc.stop();
  return ssc;
}

const texts = async (subject: string) =>
  (await readStream(server.url, "OUT")).filter(([, s]) => s === subject).map(([, , text]) => text);

describe("publishToJetStream", () => {
  it("publishes every record once; a batch run again, in any order, is de-duplicated by its message ids", async () => {
    const toWords = (stream: DStream<string>) =>
      publishToJetStream(stream, {
        servers: server.url,
        subject: "out.words",
        encode: (w) => w.toUpperCase(),
      });
    await runJob([["a", "b", "c"], ["d"], ["a", "a"]], toWords);
    expect(await texts("out.words")).toEqual(["A", "B", "C", "D", "A", "A"]);

    // The same batches again (as after a crash, in another order): nothing new is stored.
    await runJob([["c", "b", "a"], ["d"], ["a", "a"]], toWords);
    expect(await texts("out.words")).toEqual(["A", "B", "C", "D", "A", "A"]);

    // A batch at the same time with other content is other messages; one more "a" is a new message too.
    await runJob([["e"], ["d"], ["a", "a", "a"]], toWords);
    expect(await texts("out.words")).toEqual(["A", "B", "C", "D", "A", "A", "E", "A"]);
  });

  it("takes message ids from msgId, and the subject from a function of the record", async () => {
    const keyed = (stream: DStream<string>) =>
      publishToJetStream(stream, {
        servers: server.url,
        subject: (w) => `out.keyed.${w[0]}`,
        msgId: (w, at) => `keyed-${w}-${at.partition}`,
      });
    await runJob([["x1", "y1"], ["x1"]], keyed);
    // The default encoding is JSON; the second "x1" had the same id (msgId ignores the batch time) and was dropped.
    expect(await texts("out.keyed.x")).toEqual(['"x1"']);
    expect(await texts("out.keyed.y")).toEqual(['"y1"']);
  });

  it("fails a batch holding a record larger than max_payload with SPATE_NATS_PAYLOAD_TOO_LARGE, publishing none of it", async () => {
    const maxPayload = await withNats(server.url, async (nc) => nc.info!.max_payload);
    const huge = "x".repeat(maxPayload + 1);
    const ssc = await runJob([["small"], ["before", huge, "after"], ["later"]], (stream) =>
      publishToJetStream(stream, { servers: server.url, subject: "out.big" }),
    );
    const error = (await ssc.awaitTermination().catch((e: unknown) => e)) as SpateError;
    expect(error.code).toBe("SPATE_NATS_PAYLOAD_TOO_LARGE");
    expect(error.message).toContain(`batch 2000`);
    expect(error.message).toContain(`max_payload ${maxPayload}`);
    // The batch before was published; nothing of the failed batch, nor after it.
    expect(await texts("out.big")).toEqual([JSON.stringify("small")]);
  });

  it("refuses to start without a stream for its subject (SPATE_NATS_STREAM_NOT_FOUND), saying how to create one", async () => {
    const ssc = new StreamingContext({ batchDuration: 1000, clock: new ManualClock(0) });
    publishToJetStream(ssc.queueStream([["a"]]), { servers: server.url, subject: "nowhere.x" });
    const error = (await ssc.start().catch((e: unknown) => e)) as SpateError;
    expect(error.code).toBe("SPATE_NATS_STREAM_NOT_FOUND");
    expect(error.message).toContain("nowhere.x");
    expect(error.message).toContain('nats stream add NOWHERE --subjects "nowhere.>"');
    expect(ssc.state()).toBe("stopped");
    await expect(ssc.awaitTermination()).rejects.toBe(error);
  });

  it("fails the batch when a subject chosen per record has no stream, instead of losing the records", async () => {
    const ssc = await runJob([["a"]], (stream) =>
      publishToJetStream(stream, { servers: server.url, subject: (w) => `nowhere.${w}` }),
    );
    const error = (await ssc.awaitTermination().catch((e: unknown) => e)) as SpateError;
    expect(error.code).toBe("SPATE_NATS_STREAM_NOT_FOUND");
    expect(error.message).toContain("nowhere.a");
  });

  it("retries publishes while the server is away, in order, each once, and fails the batch past unavailableTimeout", {
    timeout: 60_000,
  }, async () => {
    let own = await startNatsServer();
    const kill = async () => {
      const exited = new Promise((resolve) => own.process.once("exit", resolve));
      own.process.kill("SIGKILL");
      await exited;
    };
    try {
      await addStream(own.url, { name: "AWAY", subjects: ["away.>"] });
      const records = (from: number) => Array.from({ length: 50 }, (_, i) => `m${from + i}`);
      const clock = new ManualClock(0);
      const ssc = new StreamingContext({ batchDuration: 1000, clock, appName: "nats-away" });
      publishToJetStream(ssc.queueStream([records(0), records(50), records(100)]), {
        servers: own.url,
        subject: "away.x",
        encode: (r) => r,
        ackTimeout: 1000,
        unavailableTimeout: 20_000,
      });
      await ssc.start();
      clock.advance(1000);
      await ssc.awaitIdle();
      // The server dies; the next batch publishes while it is away, and it comes back on its store 3 s later.
      await kill();
      clock.advance(1000);
      await new Promise((r) => setTimeout(r, 3000));
      own = await startNatsServer({ port: own.port, storeDir: own.storeDir });
      await ssc.awaitIdle();
      clock.advance(1000);
      await ssc.awaitIdle();
      expect(ssc.state()).toBe("active");
      const texts = (await readStream(own.url, "AWAY")).map(([, , text]) => text);
      expect(texts).toEqual([...records(0), ...records(50), ...records(100)]);

      // Away for longer than unavailableTimeout: the batch fails, saying so.
      const clock2 = new ManualClock(0);
      const failing = new StreamingContext({ batchDuration: 1000, clock: clock2, appName: "nats-away-long" });
      publishToJetStream(failing.queueStream([["late"]]), {
        servers: own.url,
        subject: "away.y",
        ackTimeout: 500,
        unavailableTimeout: 1500,
      });
      await failing.start();
      await publishAll(own.url, [["away.z", "the server is up"]]);
      await kill();
      clock2.advance(1000);
      const error = (await failing.awaitTermination().catch((e: unknown) => e)) as SpateError;
      expect(error.code).toBe("SPATE_NATS_PUBLISH_FAILED");
      expect(error.message).toContain("unavailableTimeout");
      await ssc.stop();
      await failing.stop();
    } finally {
      await own.stop();
    }
  });
});
