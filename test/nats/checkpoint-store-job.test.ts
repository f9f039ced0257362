// A job whose checkpoints live in NATS JetStream (jetStreamCheckpointStore), tested for real: counts-job.ts
// (JetStream in → mapWithState running counts → JetStream out) as child processes restarted with getOrCreate from
// the store, no folder at all. On one server: SIGKILLed at random instants and restarted, it ends with exactly the
// outputs of a run that never failed, and a second instance on the same bucket fails with SPATE_CHECKPOINT_LOCKED.
// On a 3-node cluster with R3 buckets: the node leading the checkpoint bucket is SIGKILLed while the job checkpoints
// every 300 ms; the job runs on (its writes retried through the election), and the checkpoints it wrote after the
// kill are there for a restart, which ends exact.
import { existsSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { jetStreamCheckpointStore } from "spate";
import { afterEach, describe, expect, it } from "vitest";
import { type Child, root, runTs } from "../support/child.js";
import {
  addStream,
  type NatsCluster,
  type NatsServer,
  readStream,
  startNatsCluster,
  startNatsServer,
  untilJetStream,
  withNats,
} from "./server.js";

const JOB = path.join(path.dirname(fileURLToPath(import.meta.url)), "counts-job.ts");
const WORDS = Array.from({ length: 10 }, (_, i) => `w${i}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const children: Child[] = [];
let server: NatsServer | undefined;
let cluster: NatsCluster | undefined;
afterEach(async () => {
  for (const c of children.splice(0)) await c.stop("SIGKILL");
  await server?.stop();
  server = undefined;
  await cluster?.stop();
  cluster = undefined;
});

function startJob(servers: string, checkpoint: string): Child {
  const child = runTs([JOB, servers, checkpoint]);
  children.push(child);
  return child;
}

let sent = 0;
/**
 * Publishes a burst of random words to in.words, remembering them. Each has its own message id, so that a publish
 * retried through a cluster election (it timed out, but may have landed) is stored once.
 */
async function burst(servers: string | string[], published: string[]): Promise<void> {
  const words = Array.from({ length: 10 + Math.floor(Math.random() * 20) }, () => {
    return WORDS[Math.floor(Math.random() * WORDS.length)]!;
  });
  // Not withNats: its manager asks for the account's info, which fails while the cluster has no meta leader.
  const nc = await connect({ servers });
  try {
    const js = jetstream(nc, { timeout: 2000 });
    for (const w of words) {
      const msgID = `word-${++sent}`;
      for (let attempt = 1; ; attempt++) {
        try {
          await js.publish("in.words", w, { msgID });
          break;
        } catch (e) {
          if (attempt >= 30) throw e;
          await sleep(500);
        }
      }
    }
  } finally {
    await nc.close();
  }
  published.push(...words);
}

async function createStreams(servers: string | string[], replicas: number): Promise<void> {
  await addStream(servers, { name: "IN", subjects: ["in.>"], num_replicas: replicas });
  // A duplicate window longer than the test: every re-published output is recognised.
  await addStream(servers, {
    name: "OUT",
    subjects: ["out.>"],
    duplicate_window: 10 * 60 * 1e9,
    num_replicas: replicas,
  });
}

/** Waits until OUT holds one message per word published, with the job still running. */
async function outputsCatchUp(servers: string | string[], published: string[], job: Child): Promise<void> {
  // During a cluster election the question may time out: asked again.
  const count = () =>
    withNats(servers, async (_nc, jsm) => (await jsm.streams.info("OUT")).state.messages).catch(() => -1);
  const end = Date.now() + 60_000;
  while ((await count()) < published.length) {
    if (job.process.exitCode !== null || Date.now() > end) {
      throw new Error(
        `the outputs did not catch up (${await count()} of ${published.length}):\n${job.output()}`,
      );
    }
    await sleep(100);
  }
  await sleep(500); // a few more batches: nothing more may appear
}

/** OUT holds, for every word, "word 1" … "word n" once each and in order: what a run without failure publishes. */
async function expectExact(servers: string | string[], published: string[]): Promise<void> {
  const expected = new Map<string, string[]>();
  for (const w of published) {
    const list = expected.get(w) ?? [];
    list.push(`${w} ${list.length + 1}`);
    expected.set(w, list);
  }
  const out = await readStream(servers, "OUT");
  const got = new Map<string, string[]>();
  for (const [, , text] of out) {
    const w = text.split(" ")[0]!;
    got.set(w, [...(got.get(w) ?? []), text]);
  }
  expect(got).toEqual(expected);
  expect(out.length).toBe(published.length);
}

/** The batch time a run restored from ("started restored <t>"), or undefined for a fresh start. */
function restoredTime(job: Child): number | undefined {
  const m = /started restored (\d+)/.exec(job.stdout());
  return m ? Number(m[1]) : undefined;
}

describe("a job checkpointing to NATS JetStream", () => {
  it("restarts exactly after SIGKILLs, and a second instance on the bucket fails with SPATE_CHECKPOINT_LOCKED", {
    timeout: 150_000,
  }, async () => {
    server = await startNatsServer();
    const url = server.url;
    await createStreams(url, 1);
    const checkpoint = "jetstream:counts";
    const published: string[] = [];
    const restoredFrom: Array<number | undefined> = [];
    for (let k = 0; k < 5; k++) {
      const job = startJob(url, checkpoint);
      await job.until((o) => /^started /m.test(o), 60_000);
      restoredFrom.push(restoredTime(job));
      await burst(url, published);
      if (k === 1) {
        // The running job owns the bucket: a second instance stops at once, naming it, and the first runs on.
        const second = startJob(url, checkpoint);
        expect(await second.exited).not.toBe(0);
        expect(second.output()).toContain("SPATE_CHECKPOINT_LOCKED");
        expect(second.output()).toContain(`pid ${job.process.pid}`);
        expect(second.stdout()).not.toContain("started");
        await burst(url, published);
      }
      // The first run is left until it checkpointed (so that every later run restores); the others are killed at a
      // random instant: before, while or after their batches run and checkpoint.
      if (k === 0) {
        await job.until((o) => o.includes("published "), 60_000);
        await sleep(1000);
      }
      await sleep(100 + Math.random() * 900);
      await job.stop("SIGKILL");
    }
    const final = startJob(url, checkpoint);
    await final.until((o) => /^started /m.test(o), 60_000);
    restoredFrom.push(restoredTime(final));
    await burst(url, published);
    await outputsCatchUp(url, published, final);
    await final.stop("SIGKILL");
    await expectExact(url, published);
    // Every run after the first restored from a checkpoint in JetStream.
    expect(restoredFrom[0]).toBeUndefined();
    expect(restoredFrom.slice(1).every((t) => t !== undefined)).toBe(true);
    // In the bucket, not in a folder of that name.
    expect(existsSync(path.join(root, checkpoint))).toBe(false);
    const store = jetStreamCheckpointStore({ servers: url, bucket: "counts" });
    const names = await store.list();
    expect(names.some((n) => n.startsWith("metadata-"))).toBe(true);
    expect(names.some((n) => n.startsWith("state-counts-"))).toBe(true);
    await store.close();
  });

  it("loses no checkpoint when the node leading its R3 bucket is SIGKILLed while it checkpoints", {
    timeout: 180_000,
  }, async () => {
    cluster = await startNatsCluster(3);
    const urls = cluster.urls;
    const servers = urls.join(",");
    await createStreams(urls, 3);
    const published: string[] = [];
    const job = startJob(servers, "jetstream:counts-r3:3");
    await job.until((o) => /^started /m.test(o), 60_000);
    await burst(urls, published);
    await outputsCatchUp(urls, published, job);

    // The node that leads the object store's stream, where every checkpoint file goes.
    const leader = await withNats(
      urls,
      async (_nc, jsm) => (await jsm.streams.info("OBJ_counts-r3")).cluster?.leader,
    );
    expect(leader).toBeDefined();
    const killedAt = Date.now();
    await cluster.kill(cluster.node(leader!));
    const alive = cluster.nodes.filter((n) => n.server !== undefined).map((n) => n.url);
    // Input goes on during the election and after.
    for (let i = 0; i < 5; i++) {
      await burst(alive, published);
      await sleep(1000);
    }
    await outputsCatchUp(alive, published, job);
    expect(job.output()).not.toMatch(/SPATE_[A-Z_]+/);

    await job.stop("SIGKILL");

    // Checkpoints of batches after the node's kill were written, and read back whole from the surviving nodes.
    const store = jetStreamCheckpointStore({ servers: alive, bucket: "counts-r3" });
    const completed = (await store.list()).filter((n) => /^metadata-e\d{10}-\d{16}-1$/.test(n)).sort();
    const newest = completed.at(-1)!;
    expect(Number(newest.split("-")[2])).toBeGreaterThan(killedAt);
    expect((await store.read(newest))?.length).toBeGreaterThan(0);
    await store.close();

    // Restarted, the job resumes from such a checkpoint, and the outputs end exact. (The dead node is started again
    // first: with a node of its stream down, the JetStream source cannot create its consumer at start.)
    await cluster.restart(cluster.node(leader!));
    for (const n of cluster.nodes) await untilJetStream(n.url);
    const restarted = startJob(servers, "jetstream:counts-r3:3");
    await restarted.until((o) => /^started /m.test(o), 60_000);
    expect(restoredTime(restarted)).toBeGreaterThan(killedAt);
    await burst(alive, published);
    await outputsCatchUp(alive, published, restarted);
    await expectExact(alive, published);
  });
});
