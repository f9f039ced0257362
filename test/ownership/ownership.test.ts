// One owner per checkpoint location: a second job on a location fails with SPATE_CHECKPOINT_LOCKED while the first
// runs on; a holder that died does not block a restart (on this host: not at all; elsewhere: until its lease runs
// out); a job paused past its lease, whose location another job took, stops with SPATE_CHECKPOINT_FENCED and
// writes nothing more. Real `spate run` processes, as a user would start them.
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  CheckpointLockedError,
  type CheckpointStore,
  FileCheckpointStore,
  type Logger,
  ManualClock,
  Receiver,
  type SpateError,
  StreamingContext,
} from "spate";
import { afterEach, describe, expect, it } from "vitest";
import { BATCH, BATCHES, COMPLETED, makeJob, newOutputs } from "../fixtures/fixture-job.js";
import { type Child, root, spateRun } from "../support/child.js";
import { rejection } from "../support/rejection.js";

const JOB = "test/ownership/word-totals-job.ts";
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const running: Child[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) {
    c.process.kill("SIGCONT");
    await c.stop("SIGKILL");
  }
});

interface Dirs {
  base: string;
  checkpoint: string;
  input: string;
  output: string;
}

function dirs(): Dirs {
  const base = mkdtempSync(path.join(tmpdir(), "spate-ownership-"));
  const d = {
    base,
    checkpoint: path.join(base, "checkpoint"),
    input: path.join(base, "input"),
    output: path.join(base, "output"),
  };
  mkdirSync(d.input);
  mkdirSync(d.output);
  return d;
}

function start(d: Dirs, lockTimeout: number): Child {
  const child = spateRun([
    JOB,
    d.input,
    d.output,
    "--checkpoint",
    d.checkpoint,
    "--ui-port",
    "0",
    "--conf",
    `spate.checkpoint.lockTimeout=${lockTimeout}`,
  ]);
  running.push(child);
  return child;
}

/** Input files appear atomically: written beside the folder, then moved in. */
let fileNo = 0;
const lines: string[] = [];
function addFile(d: Dirs, content: string[]): void {
  const staged = path.join(d.base, `staged-${++fileNo}.txt`);
  writeFileSync(staged, `${content.join("\n")}\n`);
  renameSync(staged, path.join(d.input, `words-${fileNo}.txt`));
  lines.push(...content);
}

function countWords(of: string[]): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const l of of) for (const w of l.split(" ")) if (w) counts.set(w, (counts.get(w) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => (a < b ? -1 : 1));
}

/** The totals of the newest batch written. */
function latestTotals(d: Dirs): Array<[string, number]> | undefined {
  const newest = readdirSync(d.output)
    .filter((n) => /^totals-\d+$/.test(n))
    .sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)))
    .at(-1);
  if (!newest) return undefined;
  const out: Array<[string, number]> = [];
  const dir = path.join(d.output, newest);
  for (const f of readdirSync(dir).filter((n) => n.startsWith("part-"))) {
    for (const line of readFileSync(path.join(dir, f), "utf8").split("\n")) {
      const m = /^\((.*),(\d+)\)$/.exec(line);
      if (m) out.push([m[1]!, Number(m[2])]);
    }
  }
  return out.sort(([a], [b]) => (a < b ? -1 : 1));
}

async function totalsReach(d: Dirs, expected: Array<[string, number]>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (JSON.stringify(latestTotals(d)) !== JSON.stringify(expected)) {
    if (Date.now() > end) {
      throw new Error(`totals never reached ${JSON.stringify(expected)}: ${JSON.stringify(latestTotals(d))}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Report {
  owner: { supported: boolean; epoch?: number; holder?: { pid: number; host: string; running?: boolean } };
}

function inspect(d: Dirs): Report {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "checkpoint", "inspect", "--json", d.checkpoint],
    {
      cwd: root,
      encoding: "utf8",
    },
  );
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

/** Checkpoint files written under an epoch (temporary files of a write cut short are not checkpoint files). */
const epochFiles = (d: Dirs, epoch: number) =>
  readdirSync(d.checkpoint).filter(
    (n) => !n.startsWith(".") && n.includes(`-e${String(epoch).padStart(10, "0")}-`),
  );

describe("one owner per checkpoint location", () => {
  it("a second job on the folder exits with SPATE_CHECKPOINT_LOCKED naming the first, which runs on; recovery stays exact", async () => {
    lines.length = 0;
    const d = dirs();
    // A lease this long shows that the second job does not wait for it: it could not fail before 60 s otherwise.
    const first = start(d, 60_000);
    await first.until((o) => o.includes("job started"));
    addFile(d, ["to be or", "not to be"]);
    await totalsReach(d, countWords(lines));

    const started = Date.now();
    const second = start(d, 60_000);
    expect(await second.exited).not.toBe(0);
    const took = Date.now() - started;
    expect(took).toBeLessThan(30_000);
    expect(second.output()).toContain("SPATE_CHECKPOINT_LOCKED");
    expect(second.output()).toContain(`pid ${first.process.pid}`);
    expect(second.output()).toContain("Stop that job first");
    expect(second.output()).not.toContain("job resumed");

    // The first job was not disturbed: it still owns the folder and counts new input.
    expect(inspect(d).owner.holder).toMatchObject({ pid: first.process.pid, running: true });
    addFile(d, ["that is the question"]);
    await totalsReach(d, countWords(lines));
    expect(first.output()).not.toContain("SPATE_CHECKPOINT");

    // Killed and restarted, the job resumes from its checkpoints with exact totals.
    await first.stop("SIGKILL");
    const third = start(d, 60_000);
    await third.until((o) => o.includes("job resumed"));
    addFile(d, ["to be"]);
    await totalsReach(d, countWords(lines));
  }, 120_000);

  it("a SIGKILLed owner on this host does not block an immediate restart at all", async () => {
    lines.length = 0;
    const d = dirs();
    const first = start(d, 60_000);
    await first.until((o) => o.includes("job started"));
    addFile(d, ["a b c", "a b"]);
    await totalsReach(d, countWords(lines));
    await first.stop("SIGKILL");
    // The dead job's record still names it.
    expect(inspect(d).owner.holder).toMatchObject({ pid: first.process.pid, running: false });

    const restarted = start(d, 60_000);
    // Well within the 60 s lease: the dead pid is seen at once.
    await restarted.until((o) => o.includes("job resumed"), 30_000);
    expect(restarted.output()).toContain("taking over the checkpoint location from its previous owner");
    expect(restarted.output()).toContain("its process is not running any more");
    expect(inspect(d).owner.holder).toMatchObject({ pid: restarted.process.pid, running: true });
    addFile(d, ["c d"]);
    await totalsReach(d, countWords(lines));
  }, 120_000);

  it("a lease held on another host blocks until it runs out, then is taken over", async () => {
    lines.length = 0;
    const d = dirs();
    // The record another host's job would have left behind (it died without releasing).
    const now = Date.now();
    const record = {
      format: 1,
      epoch: 3,
      holder: {
        host: "another-host.example",
        pid: 4242,
        appName: "ownership-word-totals",
        since: now,
        renewedAt: now,
        instance: "elsewhere",
        lockTimeout: 4000,
      },
    };
    const store = new FileCheckpointStore(d.checkpoint);
    expect(
      await store.compareAndSetRecord!("owner", new TextEncoder().encode(JSON.stringify(record)), 0),
    ).toBe(1);

    const started = Date.now();
    const job = start(d, 4000);
    await job.until((o) => o.includes("waiting for its lease to run out"));
    await job.until((o) => o.includes("job started"), 30_000);
    // A lower bound only: a loaded machine may take longer, never less.
    expect(Date.now() - started).toBeGreaterThanOrEqual(4000);
    expect(job.output()).toContain("its lease was not renewed for 4000 ms");
    const report = inspect(d);
    expect(report.owner.holder).toMatchObject({ pid: job.process.pid, running: true });
    expect(report.owner.epoch).toBe(4);
    addFile(d, ["x y", "y"]);
    await totalsReach(d, countWords(lines));
    // Files of this owner carry its epoch.
    expect(epochFiles(d, 4).some((n) => n.startsWith("metadata-"))).toBe(true);
  }, 120_000);

  it("a job paused past its lease and taken over stops with SPATE_CHECKPOINT_FENCED, writing nothing more than the write its pause cut into", async () => {
    lines.length = 0;
    const d = dirs();
    const first = start(d, 1500);
    await first.until((o) => o.includes("job started"));
    addFile(d, ["p q", "q"]);
    await totalsReach(d, countWords(lines));
    const epoch = inspect(d).owner.epoch!;
    expect(epochFiles(d, epoch).length).toBeGreaterThan(0);

    first.process.kill("SIGSTOP");
    await new Promise((r) => setTimeout(r, 2500));
    const atStop = new Set(epochFiles(d, epoch));
    const second = start(d, 1500);
    await second.until((o) => o.includes("job resumed"), 30_000);
    expect(second.output()).toContain("has not renewed its lease");
    addFile(d, ["r"]);
    await totalsReach(d, countWords(lines));
    const before = new Set(epochFiles(d, epoch));

    first.process.kill("SIGCONT");
    expect(await first.exited).toBe(1);
    expect(first.output()).toContain("SPATE_CHECKPOINT_FENCED");
    expect(first.output()).toContain(`pid ${second.process.pid}`);
    // Nothing of the fenced owner appeared after it resumed (the new owner may have deleted some of its old
    // files), but for the one write that the pause may have caught after its check: of the batch it was running.
    const timeOf = (n: string) => Number(/-e\d{10}-(\d{16})/.exec(n)![1]);
    const lastAtStop = Math.max(...[...atStop].map(timeOf));
    const late = epochFiles(d, epoch).filter((n) => !before.has(n));
    expect(late.length, late.join()).toBeLessThanOrEqual(1);
    for (const n of late) expect(timeOf(n), n).toBeLessThanOrEqual(lastAtStop + 200);

    // The new owner runs on, exactly.
    addFile(d, ["p r"]);
    await totalsReach(d, countWords(lines));
    expect(inspect(d).owner.holder).toMatchObject({ pid: second.process.pid, running: true });
  }, 120_000);

  it("getOrCreate fails with SPATE_CHECKPOINT_LOCKED once a holder on another host renews while it waits", async () => {
    const d = dirs();
    const store = new FileCheckpointStore(d.checkpoint);
    const holder = (renewedAt: number) =>
      new TextEncoder().encode(
        JSON.stringify({
          format: 1,
          epoch: 1,
          holder: {
            host: "another-host.example",
            pid: 4242,
            appName: "elsewhere",
            since: 0,
            renewedAt,
            instance: "elsewhere",
            lockTimeout: 2000,
          },
        }),
      );
    let revision = (await store.compareAndSetRecord!("owner", holder(Date.now()), 0))!;
    const renewing = setInterval(() => {
      void store.compareAndSetRecord!("owner", holder(Date.now()), revision).then((r) => {
        if (r !== undefined) revision = r;
      });
    }, 300);
    let created = false;
    try {
      const e = await rejection(
        StreamingContext.getOrCreate(store, () => {
          created = true;
          return new StreamingContext({ batchDuration: 100 });
        }),
      );
      expect(e).toBeInstanceOf(CheckpointLockedError);
      expect((e as SpateError).code).toBe("SPATE_CHECKPOINT_LOCKED");
      expect((e as CheckpointLockedError).holder).toMatchObject({ host: "another-host.example", pid: 4242 });
      expect((e as Error).message).toContain("renewed its lease while this job waited");
      expect(created).toBe(false);
    } finally {
      clearInterval(renewing);
    }
    expect(existsSync(path.join(d.checkpoint, ".record-owner"))).toBe(true);
  });

  it("a second context of the same process fails at start() while the first runs, and starts once it stopped", async () => {
    const d = dirs();
    const make = () => {
      const ssc = new StreamingContext({
        batchDuration: 100,
        clock: new ManualClock(0),
        conf: { "spate.ui.port": 0 },
        logger: silent,
      });
      ssc.checkpoint(d.checkpoint);
      ssc.textFileStream(d.input).foreachRDD(() => {});
      return ssc;
    };
    const first = make();
    await first.start();
    const second = make();
    const e = await rejection(second.start());
    expect(e.code).toBe("SPATE_CHECKPOINT_LOCKED");
    expect(e.message).toContain(`pid ${process.pid}`);
    expect(first.state()).toBe("active");
    (first.clock as ManualClock).advance(100);
    await first.awaitIdle();
    await first.stop();
    const third = make();
    await third.start();
    expect(third.state()).toBe("active");
    await third.stop();
  });
});

describe("FileCheckpointStore records", () => {
  it("lets exactly one of several writers expecting the same revision win, and keeps revisions growing", async () => {
    const store = new FileCheckpointStore(dirs().checkpoint);
    const data = (s: string) => new TextEncoder().encode(s);
    expect(await store.readRecord!("r")).toBeUndefined();
    const created = await Promise.all(
      [0, 1, 2, 3].map((i) => store.compareAndSetRecord!("r", data(`c${i}`), 0)),
    );
    expect(created.filter((r) => r === 1)).toHaveLength(1);
    expect(created.filter((r) => r === undefined)).toHaveLength(3);
    const winner = `c${created.indexOf(1)}`;
    expect(new TextDecoder().decode((await store.readRecord!("r"))!.data)).toBe(winner);
    let revision = 1;
    for (let i = 0; i < 5; i++) {
      const results = await Promise.all(
        [0, 1, 2].map((j) => store.compareAndSetRecord!("r", data(`u${i}-${j}`), revision)),
      );
      const won = results.filter((r) => r !== undefined);
      expect(won).toEqual([revision + 1]);
      revision++;
    }
    // A writer with a stale revision loses, even one whose next revision's file was deleted behind newer ones.
    expect(await store.compareAndSetRecord!("r", data("stale"), 1)).toBeUndefined();
    expect(await store.compareAndSetRecord!("r", data("stale"), 3)).toBeUndefined();
    const now = (await store.readRecord!("r"))!;
    expect(now.revision).toBe(6);
    // Records are not checkpoint files.
    expect(await store.list()).toEqual([]);
  });
});

describe("file names with the owner's epoch", () => {
  it("a 0.1.0 checkpoint (names without epoch) restores, and the next restart reads the new owner's files", async () => {
    const fixture = path.join(root, "test/fixtures/checkpoint-0.1.0");
    const base = mkdtempSync(path.join(tmpdir(), "spate-ownership-fixture-"));
    cpSync(fixture, base, { recursive: true });
    const input = path.join(base, "input");
    const checkpoint = path.join(base, "checkpoint");
    const fileName = (i: number) => `f${String(i).padStart(3, "0")}`;
    const run = async (ssc: StreamingContext, from: number, to: number, into = input) => {
      await ssc.start();
      for (let i = from; i < to; i++) {
        writeFileSync(path.join(into, fileName(i)), BATCHES[i]!.join("\n"));
        (ssc.clock as ManualClock).setTime((i + 1) * BATCH);
        await ssc.awaitIdle();
      }
      await ssc.stop();
    };

    const restored = newOutputs();
    const first = await StreamingContext.getOrCreate(checkpoint, makeJob(input, restored));
    expect(first.restoredFrom?.checkpoint).toMatch(/^metadata-\d{16}-[01]$/);
    const middle = COMPLETED + 3;
    await run(first, COMPLETED + 1, middle);
    const newest = readdirSync(checkpoint)
      .filter((n) => n.startsWith("metadata-"))
      .sort()
      .at(-1);
    expect(newest).toBe(`metadata-e0000000001-${String(middle * BATCH).padStart(16, "0")}-1`);

    const second = await StreamingContext.getOrCreate(checkpoint, makeJob(input, restored));
    expect(second.restoredFrom?.checkpoint).toBe(newest);
    await run(second, middle, BATCHES.length);

    const freshInput = mkdtempSync(path.join(tmpdir(), "spate-ownership-fresh-"));
    const fresh = newOutputs();
    await run(makeJob(freshInput, fresh)(), 0, BATCHES.length, freshInput);
    const since = (m: Map<number, unknown>) =>
      [...m].filter(([t]) => t > COMPLETED * BATCH).sort((a, b) => a[0] - b[0]);
    expect(since(restored.totals)).toEqual(since(fresh.totals));
    expect(since(restored.sessions)).toEqual(since(fresh.sessions));
    expect(since(restored.windows)).toEqual(since(fresh.windows));
  });

  it("a late write of an earlier owner, even at a later batch time, never passes for the newest checkpoint", async () => {
    const d = dirs();
    const fileName = (i: number) => `f${String(i).padStart(3, "0")}`;
    const run = async (ssc: StreamingContext, from: number, to: number) => {
      await ssc.start();
      for (let i = from; i < to; i++) {
        writeFileSync(path.join(d.input, fileName(i)), BATCHES[i]!.join("\n"));
        (ssc.clock as ManualClock).setTime((i + 1) * BATCH);
        await ssc.awaitIdle();
      }
      await ssc.stop();
    };
    const out = newOutputs();
    await run(await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, out)), 0, 3);
    const first = readdirSync(d.checkpoint)
      .filter((n) => n.startsWith("metadata-e0000000001-"))
      .sort()
      .at(-1)!;
    await run(await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, out)), 3, 5);
    const second = readdirSync(d.checkpoint)
      .filter((n) => n.startsWith("metadata-e0000000002-"))
      .sort()
      .at(-1)!;
    expect(second).toBe(`metadata-e0000000002-${String(5 * BATCH).padStart(16, "0")}-1`);
    // What the first owner would have written had it woken up after the second took over, at a batch time the
    // second never reached.
    writeFileSync(
      path.join(d.checkpoint, `metadata-e0000000001-${String(50 * BATCH).padStart(16, "0")}-1`),
      readFileSync(path.join(d.checkpoint, first)),
    );
    const third = await StreamingContext.getOrCreate(d.checkpoint, makeJob(d.input, newOutputs()));
    expect(third.restoredFrom?.checkpoint).toBe(second);
    await third.stop();
  });

  it("a restarted job writes its write-ahead log into segments of its own, never appending to one it found", async () => {
    const d = dirs();
    class PushReceiver extends Receiver<string> {
      onStart() {}
      onStop() {}
      push(words: string[]): Promise<void> {
        return this.store(words);
      }
    }
    const seen: string[] = [];
    let receiver!: PushReceiver;
    const make = () => {
      const ssc = new StreamingContext({
        batchDuration: 100,
        clock: new ManualClock(0),
        conf: { "spate.ui.port": 0, "spate.receiver.writeAheadLog.enable": true },
        logger: silent,
      });
      receiver = new PushReceiver();
      ssc.receiverStream(receiver).foreachRDD(async (rdd) => void seen.push(...(await rdd.collect())));
      return ssc;
    };
    const first = await StreamingContext.getOrCreate(d.checkpoint, make);
    await first.start();
    await receiver.push(["a"]);
    (first.clock as ManualClock).advance(100);
    await first.awaitIdle();
    await receiver.push(["b"]); // logged, not yet in a batch
    await first.stop();
    const segments = () =>
      readdirSync(path.join(d.checkpoint, "receivedData")).flatMap((id) =>
        readdirSync(path.join(d.checkpoint, "receivedData", id)).filter((n) => n.startsWith("log-")),
      );
    const before = segments();

    const second = await StreamingContext.getOrCreate(d.checkpoint, make);
    await second.start();
    await receiver.push(["c"]);
    (second.clock as ManualClock).advance(100);
    await second.awaitIdle();
    await second.stop();
    expect(seen.sort()).toEqual(["a", "b", "c"]);
    const after = segments();
    expect(after.length).toBe(before.length + 1);
    for (const n of before) expect(after).toContain(n);
  });

  it("a store without records runs as before (names without epoch), and start() says that ownership is not enforced", async () => {
    const d = dirs();
    const inner = new FileCheckpointStore(d.checkpoint);
    const plain: CheckpointStore = {
      location: inner.location,
      write: (n, b) => inner.write(n, b),
      read: (n) => inner.read(n),
      list: () => inner.list(),
      delete: (n) => inner.delete(n),
    };
    const warnings: string[] = [];
    const make = () => {
      const ssc = new StreamingContext({
        batchDuration: 100,
        clock: new ManualClock(0),
        conf: { "spate.ui.port": 0 },
        logger: { ...silent, warn: (_f, m) => void warnings.push(m) },
      });
      ssc.textFileStream(d.input).foreachRDD(() => {});
      return ssc;
    };
    const first = await StreamingContext.getOrCreate(plain, make);
    await first.start();
    expect(warnings.some((w) => w.includes("a second job on the same location is not prevented"))).toBe(true);
    (first.clock as ManualClock).advance(100);
    await first.awaitIdle();
    // Not enforced: a second context starts too.
    const second = make();
    second.checkpoint(plain);
    await second.start();
    await second.stop();
    await first.stop();
    expect(readdirSync(d.checkpoint).filter((n) => n.startsWith("metadata-"))).toEqual([
      "metadata-0000000000000100-0",
      "metadata-0000000000000100-1",
    ]);
  });
});
