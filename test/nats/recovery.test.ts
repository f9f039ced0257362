// natsJetStream getting over a lost consumer on its own: the server drops the job's consumer, and the source
// re-creates it at the next sequence it needs (no message lost or repeated), saying so in its log, to listeners,
// in the UI's JSON and in its metrics; a stream that stays unreadable past unavailableTimeout fails the job with a
// coded error; an idle consumer on quiet subjects is left alone.
import {
  type InputRecoveryInfo,
  type Logger,
  type NatsMessage,
  natsJetStream,
  type SpateError,
  StreamingContext,
} from "spate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, metricValue, parseMetrics } from "../ui/support.js";
import { addStream, type NatsServer, publishAll, startNatsServer, withNats } from "./server.js";

let server: NatsServer;

beforeAll(async () => {
  server = await startNatsServer();
});

afterAll(async () => {
  await server?.stop();
});

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function recordingLogger(): Logger & { lines: Array<[string, string, Record<string, unknown>]> } {
  const lines: Array<[string, string, Record<string, unknown>]> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => {
    lines.push([level, message, fields]);
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

describe("natsJetStream recovering on its own", () => {
  it("re-creates a consumer the server lost at the next sequence, and reports it (log, event, JSON, metric)", {
    timeout: 60_000,
  }, async () => {
    await addStream(server.url, { name: "LOST", subjects: ["lost.>"] });
    const logger = recordingLogger();
    const ssc = new StreamingContext({
      batchDuration: 100,
      appName: "nats-recovery",
      logger,
      conf: { "spate.ui.port": await freePort() },
    });
    const got: NatsMessage[] = [];
    const input = natsJetStream(ssc, { servers: server.url, stream: "LOST" });
    input.foreachRDD(async (rdd) => {
      got.push(...(await rdd.collect()));
    });
    const events: InputRecoveryInfo[] = [];
    ssc.addStreamingListener({ onInputRecovered: ({ recoveryInfo }) => events.push(recoveryInfo) });
    await ssc.start();
    try {
      const first = await publishAll(
        server.url,
        Array.from({ length: 5 }, (_, i) => ["lost.x", `a${i}`]),
      );
      await until(() => got.length === 5, "the first messages");
      // The server loses the consumer (as when the node holding it dies): nothing tells the client to make another.
      await withNats(server.url, async (_nc, jsm) => {
        for await (const c of jsm.consumers.list("LOST")) await jsm.consumers.delete("LOST", c.name);
      });
      const second = await publishAll(
        server.url,
        Array.from({ length: 5 }, (_, i) => ["lost.x", `b${i}`]),
      );
      await until(() => got.length >= 10 && events.length > 0, "the messages after the loss");
      await new Promise((r) => setTimeout(r, 300)); // nothing more may come
      expect(got.map((m) => [m.seq, m.text])).toEqual([
        ...first.map((seq, i) => [seq, `a${i}`]),
        ...second.map((seq, i) => [seq, `b${i}`]),
      ]);

      expect(events[0]).toMatchObject({ streamId: input.id, kind: "natsJetStream" });
      expect(events[0]!.message).toContain(`at sequence ${first.at(-1)! + 1}`);
      const logged = logger.lines.find(([, message]) =>
        message.startsWith("re-created the JetStream consumer"),
      );
      expect(logged?.[0]).toBe("info");
      expect(logged?.[2]).toMatchObject({ stream: "LOST", nextSequence: first.at(-1)! + 1 });

      const inputs = (await (await fetch(`${ssc.uiUrl}/api/v1/streaming/inputs`)).json()) as Array<{
        streamId: string;
        numRecoveries?: number;
        lastRecovery?: { message: string };
      }>;
      const json = inputs.find((i) => i.streamId === input.id);
      expect(json?.numRecoveries).toBe(events.length);
      expect(json?.lastRecovery?.message).toBe(events.at(-1)!.message);
      const metrics = parseMetrics(await (await fetch(`${ssc.uiUrl}/metrics`)).text());
      expect(
        metricValue(metrics, "spate_input_recoveries_total", { stream: input.id, kind: "natsJetStream" }),
      ).toBe(events.length);
    } finally {
      await ssc.stop();
    }
  });

  it("fails the job with SPATE_NATS_UNAVAILABLE when the stream stays unreadable past unavailableTimeout", {
    timeout: 60_000,
  }, async () => {
    const own = await startNatsServer();
    try {
      await addStream(own.url, { name: "GONE", subjects: ["gone.>"] });
      const ssc = new StreamingContext({ batchDuration: 100, logger: recordingLogger() });
      const texts: string[] = [];
      natsJetStream(ssc, { servers: own.url, stream: "GONE", unavailableTimeout: 2000 }).foreachRDD(
        async (rdd) => {
          for (const m of await rdd.collect()) texts.push(m.text);
        },
      );
      await ssc.start();
      await publishAll(own.url, [["gone.x", "one"]]);
      await until(() => texts.length === 1, "the first message");
      const stopped = Date.now();
      await own.stop({ keepStore: true });
      const error = (await ssc.awaitTermination().catch((e: unknown) => e)) as SpateError;
      expect(error.code).toBe("SPATE_NATS_UNAVAILABLE");
      expect(error.message).toContain("unavailableTimeout 2000 ms");
      expect(Date.now() - stopped).toBeGreaterThanOrEqual(2000);
      await ssc.stop();
    } finally {
      await own.stop();
    }
  });

  it("leaves alone an idle consumer whose subjects have nothing new, while other subjects of the stream do", {
    timeout: 60_000,
  }, async () => {
    await addStream(server.url, { name: "QUIET", subjects: ["quiet.>"] });
    const logger = recordingLogger();
    const ssc = new StreamingContext({ batchDuration: 100, logger });
    const texts: string[] = [];
    natsJetStream(ssc, {
      servers: server.url,
      stream: "QUIET",
      subjects: "quiet.mine",
      unavailableTimeout: 1000,
    }).foreachRDD(async (rdd) => {
      for (const m of await rdd.collect()) texts.push(m.text);
    });
    const events: InputRecoveryInfo[] = [];
    ssc.addStreamingListener({ onInputRecovered: ({ recoveryInfo }) => events.push(recoveryInfo) });
    await ssc.start();
    try {
      await publishAll(server.url, [["quiet.mine", "one"]]);
      await until(() => texts.length === 1, "the first message");
      // Only other subjects get messages for several idle checks (and longer than unavailableTimeout).
      for (let i = 0; i < 8; i++) {
        await publishAll(server.url, [["quiet.other", `other-${i}`]]);
        await new Promise((r) => setTimeout(r, 1000));
      }
      expect(ssc.state()).toBe("active");
      expect(events).toEqual([]);
      expect(logger.lines.filter(([level]) => level === "warn" || level === "error")).toEqual([]);
      await publishAll(server.url, [["quiet.mine", "two"]]);
      await until(() => texts.length === 2, "the next message");
      expect(texts).toEqual(["one", "two"]);
    } finally {
      await ssc.stop();
    }
  });
});
