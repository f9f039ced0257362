// natsJetStream against a real nats-server: what is published is read, batch by batch, in stream order; a job that
// fails inside a batch and is restarted from its checkpoint gives the re-run batches exactly the messages they had.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type NatsMessage, natsJetStream, StreamingContext } from "spate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { addStream, type NatsServer, publishAll, startNatsServer, withNats } from "./server.js";

let server: NatsServer;

beforeAll(async () => {
  server = await startNatsServer();
});

afterAll(async () => {
  await server?.stop();
});

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("natsJetStream", () => {
  it("gives each batch the messages stored since the previous one, in order, at most maxMessagesPerBatch", async () => {
    await addStream(server.url, { name: "SRC", subjects: ["src.>"] });
    const wave1: Array<[string, string]> = Array.from({ length: 20 }, (_, i) => [
      i % 2 === 0 ? "src.a" : "src.b",
      `one-${i}`,
    ]);
    const seqs1 = await publishAll(server.url, wave1);
    const before = Date.now();

    const ssc = new StreamingContext({ batchDuration: 100, appName: "nats-source" });
    const batches: NatsMessage[][] = [];
    const byTime = new Map<number, NatsMessage[]>();
    const described = new Map<number, string | undefined>();
    ssc.addStreamingListener({
      onBatchCompleted: ({ batchInfo }) =>
        described.set(batchInfo.batchTime, Object.values(batchInfo.streamIdToDescription)[0]),
    });
    natsJetStream(ssc, {
      servers: server.url,
      stream: "SRC",
      subjects: "src.a",
      maxMessagesPerBatch: 20,
    }).foreachRDD(async (rdd, time) => {
      const messages = await rdd.collect();
      if (messages.length > 0) batches.push(messages);
      byTime.set(time, messages);
    });
    await ssc.start();
    try {
      const seen = () => batches.reduce((n, b) => n + b.length, 0);
      await until(() => seen() === 10, "the first wave");
      const firstWaveBatches = batches.length;
      const wave2: Array<[string, string]> = Array.from({ length: 50 }, (_, i) => ["src.a", `two-${i}`]);
      const seqs2 = await publishAll(server.url, wave2);
      await until(() => seen() === 60, "the second wave");

      const expected = [
        ...wave1
          .map(([subject, text], i) => ({ subject, text, seq: seqs1[i]! }))
          .filter((m) => m.subject === "src.a"),
        ...wave2.map(([subject, text], i) => ({ subject, text, seq: seqs2[i]! })),
      ];
      const got = batches.flat();
      expect(got.map((m) => ({ subject: m.subject, text: m.text, seq: m.seq }))).toEqual(expected);
      for (const m of got) {
        expect(new TextDecoder().decode(m.data)).toBe(m.text);
        expect(m.timestamp).toBeGreaterThan(before - 60_000);
        expect(m.timestamp).toBeLessThanOrEqual(Date.now() + 1000);
      }
      // No batch holds more than the bound, and none mixes the waves (the second came after the first was read).
      for (const b of batches) expect(b.length).toBeLessThanOrEqual(20);
      expect(
        batches
          .slice(firstWaveBatches)
          .flat()
          .every((m) => m.text.startsWith("two-")),
      ).toBe(true);
      expect(batches.length - firstWaveBatches).toBeGreaterThanOrEqual(3);
      // Each batch describes the range of sequences it read (the UI's batch page shows it).
      for (const [time, messages] of byTime) {
        if (!described.has(time)) continue; // the last batch may still be completing
        expect(described.get(time)).toBe(
          messages.length === 0
            ? "stream SRC: no messages"
            : `stream SRC: sequences ${messages[0]!.seq} to ${messages.at(-1)!.seq} (${messages.length} messages)`,
        );
      }
      expect(
        [...byTime.keys()].filter((t) => described.has(t) && byTime.get(t)!.length > 0).length,
      ).toBeGreaterThan(3);
    } finally {
      await ssc.stop();
    }
    expect(ssc.state()).toBe("stopped");
  });

  it("gives a message's headers as a plain object, and none to a message without", async () => {
    await addStream(server.url, { name: "HDR", subjects: ["hdr.>"] });
    await withNats(server.url, async (nc) => {
      const h = headers();
      h.append("Trace-Id", "t-1");
      h.append("Tag", "a");
      h.append("Tag", "b");
      await jetstream(nc).publish("hdr.x", "with", { headers: h });
      await jetstream(nc).publish("hdr.x", "without");
    });
    const ssc = new StreamingContext({ batchDuration: 100, appName: "nats-headers" });
    const got: NatsMessage[] = [];
    natsJetStream(ssc, { servers: server.url, stream: "HDR" }).foreachRDD(async (rdd) => {
      got.push(...(await rdd.collect()));
    });
    await ssc.start();
    try {
      await until(() => got.length === 2, "both messages");
    } finally {
      await ssc.stop();
    }
    expect(got[0]!.text).toBe("with");
    expect(got[0]!.headers).toEqual({ "Trace-Id": ["t-1"], Tag: ["a", "b"] });
    expect(Object.getPrototypeOf(got[0]!.headers)).toBe(Object.prototype);
    expect(got[1]!.text).toBe("without");
    expect(got[1]!.headers).toBeUndefined();
  });

  it("re-reads the recorded ranges after a restart: re-run batches get the same messages, state counts each once", async () => {
    await addStream(server.url, { name: "REC", subjects: ["rec.>"] });
    const checkpoint = mkdtempSync(path.join(tmpdir(), "spate-nats-recovery-"));
    const attempts: Array<{ run: number; time: number; seqs: number[] }> = [];
    const totals: Array<{ run: number; total: number }> = [];
    let run = 0;
    let crashAt = 6; // run 1 fails inside the first batch that holds message 6 or later
    const create = () => {
      const ssc = new StreamingContext({ batchDuration: 100, appName: "nats-recovery" });
      const messages = natsJetStream(ssc, { servers: server.url, stream: "REC" });
      messages
        .map(() => ["n", 1] as [string, number])
        .updateStateByKey((ones: number[], total: number | undefined) => (total ?? 0) + ones.length)
        .uid("total")
        .foreachRDD(async (rdd) => {
          for (const [, total] of await rdd.collect()) totals.push({ run, total });
        });
      messages.foreachRDD(async (rdd, time) => {
        const seqs = (await rdd.collect()).map((m) => m.seq);
        if (seqs.length === 0) return;
        attempts.push({ run, time, seqs });
        if (seqs.some((s) => s >= crashAt)) throw new Error("crash inside the batch");
      });
      return ssc;
    };
    const text = (from: number, to: number): Array<[string, string]> =>
      Array.from({ length: to - from + 1 }, (_, i) => ["rec.x", `m${from + i}`]);

    run = 1;
    await publishAll(server.url, text(1, 5));
    const first = await StreamingContext.getOrCreate(checkpoint, create);
    await first.start();
    await until(() => attempts.flatMap((a) => a.seqs).length === 5, "messages 1 to 5");
    await publishAll(server.url, text(6, 8));
    await expect(first.awaitTermination()).rejects.toThrow(/crash inside the batch/);
    await first.stop();
    const failed = attempts.at(-1)!;
    expect(failed.seqs[0]).toBe(6);
    // While the job is down, more arrives: a re-run batch must not take any of it.
    await publishAll(server.url, text(9, 12));

    run = 2;
    crashAt = Number.POSITIVE_INFINITY;
    const second = await StreamingContext.getOrCreate(checkpoint, create);
    expect(second.restoredFrom).toBeDefined();
    await second.start();
    try {
      await until(
        () => attempts.some((a) => a.run === 2 && a.seqs.includes(12)),
        "message 12 after the restart",
      );
      await until(() => totals.some((t) => t.run === 2 && t.total === 12), "the total of 12");
    } finally {
      await second.stop();
    }
    const rerun = attempts.filter((a) => a.run === 2);
    expect(rerun.find((a) => a.time === failed.time)?.seqs).toEqual(failed.seqs);
    for (const a of rerun) {
      const before = attempts.find((b) => b.run === 1 && b.time === a.time);
      if (before) expect(a.seqs).toEqual(before.seqs);
    }
    // Batches completed in run 1 and the batches of run 2 hold every message exactly once.
    const completed1 = attempts.filter((a) => a.run === 1 && a !== failed);
    expect([...completed1, ...rerun].flatMap((a) => a.seqs).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    // The state replayed the batches completed before the crash from their recorded ranges.
    expect(Math.max(...totals.filter((t) => t.run === 2).map((t) => t.total))).toBe(12);
  });
});
