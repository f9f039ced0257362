// natsJetStream given what it cannot use: a server that is down at start (retried and logged, then a clear error), a
// server that comes up while the job retries, a stream that does not exist, bad options, and a restart whose recorded
// messages were purged from the stream.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type Logger, natsJetStream, type SpateError, StreamingContext } from "spate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addStream, freePort, type NatsServer, publishAll, startNatsServer, withNats } from "./server.js";

let server: NatsServer;

beforeAll(async () => {
  server = await startNatsServer();
});

afterAll(async () => {
  await server?.stop();
});

function recordingLogger(): Logger & { lines: Array<[string, string, Record<string, unknown>]> } {
  const lines: Array<[string, string, Record<string, unknown>]> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => {
    lines.push([level, message, fields]);
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("natsJetStream with bad input", () => {
  it("fails to start with SPATE_NATS_UNAVAILABLE when no server answers within connectTimeout, logging each attempt", async () => {
    const port = await freePort();
    const logger = recordingLogger();
    const ssc = new StreamingContext({ batchDuration: 100, logger });
    natsJetStream(ssc, { servers: `127.0.0.1:${port}`, stream: "ANY", connectTimeout: 700 }).foreachRDD(
      () => {},
    );
    const error = (await ssc.start().catch((e: unknown) => e)) as SpateError;
    expect(error.code).toBe("SPATE_NATS_UNAVAILABLE");
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain("nats-server -js");
    const retries = logger.lines.filter(
      ([level, message]) => level === "warn" && /trying again/.test(message),
    );
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(ssc.state()).toBe("stopped");
    await expect(ssc.awaitTermination()).rejects.toBe(error);
  });

  it("keeps trying while the server is down at start, and reads once it is up", async () => {
    // A server whose store holds the stream, stopped: the job starts while it is down.
    const first = await startNatsServer();
    await addStream(first.url, { name: "LATE", subjects: ["late.>"] });
    await publishAll(first.url, [["late.x", "kept"]]);
    await first.stop({ keepStore: true });

    const logger = recordingLogger();
    const ssc = new StreamingContext({ batchDuration: 100, logger });
    const texts: string[] = [];
    natsJetStream(ssc, { servers: first.url, stream: "LATE", connectTimeout: 20_000 }).foreachRDD(
      async (rdd) => {
        for (const m of await rdd.collect()) texts.push(m.text);
      },
    );
    const starting = ssc.start();
    await until(
      () => logger.lines.some(([level, message]) => level === "warn" && /trying again/.test(message)),
      "a logged failed attempt",
    );
    const second = await startNatsServer({ port: first.port, storeDir: first.storeDir });
    try {
      await starting;
      await until(() => texts.length === 1, "the stored message");
      await publishAll(second.url, [["late.x", "new"]]);
      await until(() => texts.length === 2, "the new message");
      expect(texts).toEqual(["kept", "new"]);
    } finally {
      await ssc.stop();
      await second.stop();
    }
  });

  it("fails to start with SPATE_NATS_STREAM_NOT_FOUND for a stream that does not exist, saying how to create it", async () => {
    const ssc = new StreamingContext({ batchDuration: 100 });
    natsJetStream(ssc, { servers: server.url, stream: "MISSING" }).foreachRDD(() => {});
    const error = (await ssc.start().catch((e: unknown) => e)) as SpateError;
    expect(error.code).toBe("SPATE_NATS_STREAM_NOT_FOUND");
    expect(error.message).toContain('"MISSING" does not exist');
    expect(error.message).toContain('nats stream add MISSING --subjects "MISSING.>"');
    expect(error.message).toContain("streams.add(");
    expect(ssc.state()).toBe("stopped");
  });

  it("fails to start with SPATE_NATS_UNAVAILABLE when the server has no JetStream", async () => {
    const plain = await startNatsServer({ jetstream: false });
    try {
      const ssc = new StreamingContext({ batchDuration: 100 });
      natsJetStream(ssc, { servers: plain.url, stream: "ANY" }).foreachRDD(() => {});
      const error = (await ssc.start().catch((e: unknown) => e)) as SpateError;
      expect(error.code).toBe("SPATE_NATS_UNAVAILABLE");
      expect(error.message).toContain("JetStream is not available");
      expect(ssc.state()).toBe("stopped");
    } finally {
      await plain.stop();
    }
  });

  it("filters on several subjects where the server can (2.10 and later), and says so where it cannot", async () => {
    await addStream(server.url, { name: "MULTI", subjects: ["multi.>"] });
    await publishAll(server.url, [
      ["multi.a", "a1"],
      ["multi.b", "b1"],
      ["multi.c", "c1"],
      ["multi.a", "a2"],
    ]);
    const version = await withNats(server.url, async (nc) => nc.info!.version);
    const [major, minor] = version.split(".").map(Number) as [number, number];
    const ssc = new StreamingContext({ batchDuration: 100 });
    const texts: string[] = [];
    natsJetStream(ssc, { servers: server.url, stream: "MULTI", subjects: ["multi.a", "multi.c"] }).foreachRDD(
      async (rdd) => {
        for (const m of await rdd.collect()) texts.push(m.text);
      },
    );
    if (major > 2 || (major === 2 && minor >= 10)) {
      await ssc.start();
      await until(() => texts.length === 3, "the filtered messages");
      await ssc.stop();
      expect(texts).toEqual(["a1", "c1", "a2"]);
    } else {
      const error = (await ssc.start().catch((e: unknown) => e)) as SpateError;
      expect(error.code).toBe("SPATE_INVALID_ARGUMENT");
      expect(error.message).toContain("2.10");
      expect(ssc.state()).toBe("stopped");
    }
  });

  it("fails the job with SPATE_NATS_STREAM_NOT_FOUND when its stream is deleted while it runs", async () => {
    await addStream(server.url, { name: "DELETED", subjects: ["deleted.>"] });
    const ssc = new StreamingContext({ batchDuration: 100 });
    const texts: string[] = [];
    natsJetStream(ssc, { servers: server.url, stream: "DELETED" }).foreachRDD(async (rdd) => {
      for (const m of await rdd.collect()) texts.push(m.text);
    });
    await ssc.start();
    await publishAll(server.url, [["deleted.x", "one"]]);
    await until(() => texts.length === 1, "the first message");
    await withNats(server.url, async (_nc, jsm) => {
      await jsm.streams.delete("DELETED");
    });
    const error = (await ssc.awaitTermination().catch((e: unknown) => e)) as SpateError;
    expect(error.code).toBe("SPATE_NATS_STREAM_NOT_FOUND");
    await ssc.stop();
  });

  it("rejects bad options when the stream is built", () => {
    const ssc = new StreamingContext({ batchDuration: 100 });
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as SpateError).code;
      }
      return "no error";
    };
    expect(codeOf(() => natsJetStream(ssc, { servers: server.url, stream: "a.b" }))).toBe(
      "SPATE_INVALID_ARGUMENT",
    );
    expect(codeOf(() => natsJetStream(ssc, { servers: [], stream: "S" }))).toBe("SPATE_INVALID_ARGUMENT");
    expect(
      codeOf(() => natsJetStream(ssc, { servers: server.url, stream: "S", maxMessagesPerBatch: 0 })),
    ).toBe("SPATE_INVALID_ARGUMENT");
    expect(codeOf(() => natsJetStream(ssc, { servers: server.url, stream: "S", subjects: "a b" }))).toBe(
      "SPATE_INVALID_ARGUMENT",
    );
    expect(codeOf(() => natsJetStream({} as StreamingContext, { servers: server.url, stream: "S" }))).toBe(
      "SPATE_INVALID_ARGUMENT",
    );
  });

  it("fails the restart with SPATE_NATS_REPLAY_FAILED when the messages of recorded batches were purged", async () => {
    await addStream(server.url, { name: "PURGED", subjects: ["purged.>"] });
    const checkpoint = mkdtempSync(path.join(tmpdir(), "spate-nats-purged-"));
    let crash = true;
    const create = () => {
      const ssc = new StreamingContext({ batchDuration: 100, appName: "nats-purged" });
      natsJetStream(ssc, { servers: server.url, stream: "PURGED" }).foreachRDD(async (rdd) => {
        if (crash && !(await rdd.isEmpty())) throw new Error("crash inside the batch");
      });
      return ssc;
    };
    const first = await StreamingContext.getOrCreate(checkpoint, create);
    await first.start();
    await publishAll(server.url, [
      ["purged.x", "a"],
      ["purged.x", "b"],
    ]);
    await expect(first.awaitTermination()).rejects.toThrow(/crash inside the batch/);
    await first.stop();
    await withNats(server.url, async (_nc, jsm) => {
      await jsm.streams.purge("PURGED");
    });

    crash = false;
    const second = await StreamingContext.getOrCreate(checkpoint, create);
    const error = (await second.start().catch((e: unknown) => e)) as SpateError;
    expect(error.code).toBe("SPATE_NATS_REPLAY_FAILED");
    expect(error.message).toContain('"PURGED"');
    expect(error.message).toMatch(/read messages 1 to 2/);
    await second.stop();
  });
});
