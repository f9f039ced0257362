// A NATS cluster losing nodes under a running job: three nats-servers on loopback, R3 input and output streams,
// examples/nats-word-count.ts run as `spate run` (given all three servers), lines published all along. The node that
// leads the input stream is SIGKILLed (and restarted), then the node that leads the output stream: each time the job
// must go on reading new input within 15 s, and at the end the output holds, for every word, its running totals
// 1..n exactly once each, in order.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Child, spateRun } from "../support/child.js";
import { addStream, type NatsCluster, readStream, startNatsCluster } from "./server.js";

const WORDS = ["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"];
/** The acceptance bound: input read again this long after a node died. */
const FLOWING_WITHIN = 15_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cluster: NatsCluster;
let nc: NatsConnection;
const running: Child[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
}, 60_000);

afterAll(async () => {
  for (const job of running) await job.stop("SIGKILL");
  await nc?.close();
  await cluster?.stop();
});

/** The server name that leads a stream now (asked until the stream has a leader). */
async function leaderOf(stream: string): Promise<string> {
  const jsm = await jetstreamManager(nc, { timeout: 3000 });
  for (;;) {
    try {
      const leader = (await jsm.streams.info(stream)).cluster?.leader;
      if (leader) return leader;
    } catch {
      // an election: ask again
    }
    await sleep(250);
  }
}

/** Waits until every replica of the stream is current (a restarted node caught up). */
async function untilHealed(stream: string, what: string): Promise<void> {
  const jsm = await jetstreamManager(nc, { timeout: 3000 });
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      const c = (await jsm.streams.info(stream)).cluster;
      if (c?.leader && c.replicas?.length === 2 && c.replicas.every((r) => r.current && !r.offline)) return;
    } catch {
      // an election: ask again
    }
    if (Date.now() > end) throw new Error(`${stream} did not heal after ${what}`);
    await sleep(250);
  }
}

describe("natsJetStream and publishToJetStream on a 3-node NATS cluster", () => {
  it("go on through the loss of the input's and the output's leader; totals stay exact and in order", {
    timeout: 180_000,
  }, async () => {
    await addStream(cluster.urls, { name: "LINES", subjects: ["lines.>"], num_replicas: 3 });
    await addStream(cluster.urls, {
      name: "TOTALS",
      subjects: ["totals.>"],
      num_replicas: 3,
      duplicate_window: 10 * 60 * 1e9,
    });
    const job = spateRun(
      [
        "examples/nats-word-count.ts",
        cluster.urls.join(","),
        "LINES",
        "totals.words",
        "--checkpoint",
        mkdtempSync(path.join(tmpdir(), "spate-nats-cluster-")),
      ],
      { SPATE_LOG_LEVEL: "info" },
    );
    running.push(job);

    // Lines published all along, each retried (same message id) until JetStream acknowledges it.
    const js = jetstream(nc);
    const published: string[] = [];
    let publishing = true;
    const publisher = (async () => {
      for (let n = 0; publishing; n++) {
        const words = Array.from({ length: 1 + (n % 3) }, (_, k) => WORDS[(n * 7 + k * 3) % WORDS.length]!);
        for (;;) {
          try {
            await js.publish("lines.in", words.join(" "), { msgID: `line-${n}`, timeout: 2000 });
            break;
          } catch {
            await sleep(200);
          }
        }
        published.push(...words);
        await sleep(40);
      }
    })();

    const jsm = await jetstreamManager(nc, { timeout: 3000 });
    const totalsCount = async () => {
      try {
        return (await jsm.streams.info("TOTALS")).state.messages;
      } catch {
        return -1; // an election
      }
    };
    /** Time from now until the output holds a total of a word published after now: input read again. */
    const untilFlowing = async (what: string): Promise<number> => {
      const start = Date.now();
      const before = published.length;
      const end = start + 60_000;
      while ((await totalsCount()) <= before) {
        if (Date.now() > end)
          throw new Error(`no new input was read after ${what}:\n${job.output().slice(-4000)}`);
        await sleep(100);
      }
      return Date.now() - start;
    };

    await untilFlowing("the start");
    await sleep(2000);

    const kill = async (stream: string) => {
      const node = cluster.node(await leaderOf(stream));
      const killedAt = Date.now();
      await cluster.kill(node);
      const flowingAfter = await untilFlowing(`${node.name}, the leader of ${stream}, was killed`);
      return { node, killedAt, flowingAfter };
    };

    const first = await kill("LINES");
    await sleep(2000);
    await cluster.restart(first.node);
    await untilHealed("LINES", `${first.node.name} restarted`);
    await untilHealed("TOTALS", `${first.node.name} restarted`);
    await sleep(2000);

    const second = await kill("TOTALS");
    await sleep(2000);
    await cluster.restart(second.node);
    await untilHealed("TOTALS", `${second.node.name} restarted`);
    await sleep(2000);

    publishing = false;
    await publisher;
    const end = Date.now() + 60_000;
    while ((await totalsCount()) < published.length) {
      if (Date.now() > end) {
        throw new Error(
          `the totals did not catch up (${await totalsCount()} of ${published.length}):\n${job.output().slice(-4000)}`,
        );
      }
      await sleep(200);
    }
    await sleep(3000); // a few more batches: nothing more may appear
    await job.stop("SIGTERM");

    // The figures the README quotes: new input in the output this long after each kill, and what the job did.
    const recovered = job
      .output()
      .split("\n")
      .filter((line) => /re-created the JetStream consumer|accepts publishes again/.test(line));
    console.log(
      `new input reached the output ${first.flowingAfter} ms after ${first.node.name} (the input's leader) was ` +
        `killed at ${first.killedAt}, ${second.flowingAfter} ms after ${second.node.name} (the output's leader) ` +
        `was killed at ${second.killedAt}; ${published.length} words\n${recovered.join("\n")}`,
    );
    expect(first.flowingAfter).toBeLessThan(FLOWING_WITHIN);
    expect(second.flowingAfter).toBeLessThan(FLOWING_WITHIN);

    // What a run without failure publishes: for each word, its running totals 1..n, in order, once each.
    const expected = new Map<string, number[]>();
    for (const w of published) {
      const list = expected.get(w) ?? [];
      list.push(list.length + 1);
      expected.set(w, list);
    }
    const out = await readStream(cluster.urls, "TOTALS");
    expect(out.length).toBe(published.length);
    const got = new Map<string, number[]>();
    for (const [, , text] of out) {
      const [word, total] = JSON.parse(text) as [string, number];
      got.set(word, [...(got.get(word) ?? []), total]);
    }
    expect(got).toEqual(expected);
  });
});
