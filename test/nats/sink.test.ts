// publishToJetStream against a real nats-server: every record is published and acknowledged; a batch that runs
// again publishes the same message ids, which JetStream drops, whatever the order of its records; a record larger
// than the server's max_payload fails the batch with nothing of it published.
import { type DStream, ManualClock, publishToJetStream, type SpateError, StreamingContext } from "spate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addStream, type NatsServer, readStream, startNatsServer, withNats } from "./server.js";

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
});
