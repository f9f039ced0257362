// One CheckpointStore contract, run against the local folder (FileCheckpointStore) and NATS JetStream (a real
// nats-server on loopback): files written, read, listed, deleted; an overwrite never read half-done; records'
// compare-and-set (create refused on an existing record, a stale revision refused, one winner of a race). Then
// what only the JetStream store has: the error of a missing server, and no trace left by a deleted file.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CheckpointStore,
  FileCheckpointStore,
  JetStreamCheckpointStore,
  jetStreamCheckpointStore,
  StreamingContext,
} from "spate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTs } from "../support/child.js";
import { rejection } from "../support/rejection.js";
import { freePort, type NatsServer, startNatsServer, withNats } from "./server.js";

let server: NatsServer;
const opened: CheckpointStore[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});

afterAll(async () => {
  for (const s of opened) await s.close?.();
  await server?.stop();
});

let bucketNo = 0;
const stores: Array<[string, () => CheckpointStore]> = [
  ["FileCheckpointStore", () => new FileCheckpointStore(mkdtempSync(path.join(tmpdir(), "spate-store-")))],
  [
    "JetStreamCheckpointStore",
    () => {
      const store = jetStreamCheckpointStore({ servers: server.url, bucket: `contract-${++bucketNo}` });
      opened.push(store);
      return store;
    },
  ],
];

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

describe.each(stores)("CheckpointStore contract: %s", (_name, make) => {
  it("writes, reads, lists and deletes files", async () => {
    const store = make();
    expect(await store.list()).toEqual([]);
    expect(await store.read("missing")).toBeUndefined();
    await store.write("a", bytes("first"));
    await store.write("b", new Uint8Array(0));
    expect(text(await store.read("a"))).toBe("first");
    expect((await store.read("b"))?.length).toBe(0);
    expect((await store.list()).sort()).toEqual(["a", "b"]);
    await store.delete("a");
    await store.delete("never-written");
    expect(await store.read("a")).toBeUndefined();
    expect(await store.list()).toEqual(["b"]);
    // A deleted name can be written again.
    await store.write("a", bytes("again"));
    expect(text(await store.read("a"))).toBe("again");
    expect((await store.list()).sort()).toEqual(["a", "b"]);
  });

  it("round-trips files of several chunks byte for byte, and refuses names with slashes", async () => {
    const store = make();
    const big = randomBytes(3 * 2 ** 20 + 3);
    await store.write("big", big);
    expect(Buffer.from((await store.read("big"))!).equals(big)).toBe(true);
    const e = await rejection(store.write("a/b", bytes("x")));
    expect(e.code).toBe("SPATE_INVALID_ARGUMENT");
  });

  it("an overwrite is atomic: concurrent readers see the whole old file or the whole new one", async () => {
    const store = make();
    // Several chunks each (the JetStream store cuts at 1 MiB), every byte telling which version it belongs to.
    const versions = Array.from({ length: 6 }, (_, i) => new Uint8Array(2.5 * 2 ** 20 + i).fill(i + 1));
    await store.write("file", versions[0]!);
    const seen = new Set<number>();
    let writing = true;
    const readers = Array.from({ length: 3 }, async () => {
      while (writing) {
        const got = (await store.read("file"))!;
        const v = got[0]! - 1;
        expect(got.length).toBe(versions[v]!.length);
        expect(got.every((b) => b === v + 1)).toBe(true);
        seen.add(v);
      }
    });
    for (const v of versions.slice(1)) await store.write("file", v);
    writing = false;
    await Promise.all(readers);
    expect(seen.size).toBeGreaterThan(1);
    expect((await store.read("file"))![0]).toBe(versions.length);
  });

  it("records: create refused on an existing record, a stale revision refused, revisions grow", async () => {
    const store = make();
    expect(await store.readRecord!("owner")).toBeUndefined();
    const r1 = await store.compareAndSetRecord!("owner", bytes("one"), 0);
    expect(r1).toBeGreaterThan(0);
    expect(await store.compareAndSetRecord!("owner", bytes("create again"), 0)).toBeUndefined();
    const r2 = await store.compareAndSetRecord!("owner", bytes("two"), r1!);
    expect(r2).toBeGreaterThan(r1!);
    // The first revision is stale now.
    expect(await store.compareAndSetRecord!("owner", bytes("stale"), r1!)).toBeUndefined();
    expect(await store.compareAndSetRecord!("owner", bytes("ahead"), r2! + 1)).toBeUndefined();
    const now = await store.readRecord!("owner");
    expect(now?.revision).toBe(r2);
    expect(text(now?.data)).toBe("two");
    // Records are not files.
    await store.write("file", bytes("x"));
    expect(await store.list()).toEqual(["file"]);
    expect(await store.read("owner")).toBeUndefined();
  });

  it("records: of writers expecting the same revision, exactly one wins", async () => {
    const store = make();
    const r1 = (await store.compareAndSetRecord!("owner", bytes("start"), 0))!;
    for (let round = 0; round < 3; round++) {
      const current = (await store.readRecord!("owner"))!.revision;
      const results = await Promise.all(
        Array.from({ length: 4 }, (_, i) => store.compareAndSetRecord!("owner", bytes(`w${i}`), current)),
      );
      const winners = results.filter((r) => r !== undefined);
      expect(winners).toHaveLength(1);
      expect(winners[0]).toBeGreaterThan(current);
      const w = results.findIndex((r) => r !== undefined);
      expect(text((await store.readRecord!("owner"))?.data)).toBe(`w${w}`);
    }
    expect((await store.readRecord!("owner"))!.revision).toBeGreaterThan(r1);
  });
});

describe("JetStreamCheckpointStore", () => {
  it("fails with SPATE_NATS_UNAVAILABLE and says what to do when no server answers", async () => {
    const port = await freePort();
    const store = jetStreamCheckpointStore({
      servers: `127.0.0.1:${port}`,
      bucket: "nowhere",
      connectTimeout: 500,
    });
    const e = await rejection(store.list());
    expect(e.code).toBe("SPATE_NATS_UNAVAILABLE");
    expect(e.message).toContain(`127.0.0.1:${port}`);
    expect(e.message).toContain("Start the server");
    await store.close();
  });

  it("checks its options", () => {
    expect(() => jetStreamCheckpointStore({ servers: server.url, bucket: "a.b" })).toThrow(/bucket name/);
    expect(() => jetStreamCheckpointStore({ servers: server.url, bucket: "b", replicas: 0 })).toThrow(
      /replicas/,
    );
    expect(() => jetStreamCheckpointStore({ servers: "", bucket: "b" })).toThrow(/servers/);
    const store = new JetStreamCheckpointStore({ servers: server.url, bucket: "named" });
    expect(store.location).toBe(`nats://${server.url}/named`);
  });

  it("closes its connection when the context stops, or when getOrCreate fails: the process then ends by itself", async () => {
    const job = path.join(path.dirname(fileURLToPath(import.meta.url)), "store-exit-job.ts");
    const stopped = runTs([job, server.url, "exits"]);
    expect(await stopped.exited).toBe(0);
    expect(stopped.stdout()).toBe("stopped\n");
    // While this process owns the bucket, another one's getOrCreate fails, and it ends all the same.
    const store = jetStreamCheckpointStore({ servers: server.url, bucket: "exits-owned" });
    opened.push(store);
    const ssc = await StreamingContext.getOrCreate(store, () => new StreamingContext({ batchDuration: 100 }));
    const refused = runTs([job, server.url, "exits-owned"]);
    expect(await refused.exited).toBe(0);
    expect(refused.stdout()).toBe("failed SPATE_CHECKPOINT_LOCKED\n");
    await ssc.stop();
  }, 60_000);

  it("a replaced or deleted file leaves nothing behind in the object store's stream", async () => {
    const store = jetStreamCheckpointStore({ servers: server.url, bucket: "no-traces" });
    opened.push(store);
    await store.write("one", randomBytes(1.5 * 2 ** 20));
    await store.write("one", randomBytes(1.2 * 2 ** 20));
    await store.write("two", bytes("small"));
    const messages = () =>
      withNats(server.url, async (_nc, jsm) => (await jsm.streams.info("OBJ_no-traces")).state.messages);
    // "one": 2 chunks and its description; "two": 1 chunk and its description.
    expect(await messages()).toBe(5);
    await store.delete("one");
    await store.delete("two");
    expect(await messages()).toBe(0);
    expect(await store.list()).toEqual([]);
  });
});
