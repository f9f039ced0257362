// Graceful stop: receivers stop first, every block they stored is given a batch and processed, the last checkpoint
// is written, then the context stops. In process on a ManualClock, and as a child process stopped by SIGTERM with
// spate.stopGracefullyOnShutdown.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ManualClock, Receiver, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Manual extends Receiver<string> {
  readonly log: string[];
  constructor(log: string[]) {
    super();
    this.log = log;
  }
  onStart() {}
  onStop() {
    this.log.push("receiver stopped");
  }
}

describe("graceful stop", () => {
  it("stops the receiver, then processes everything it stored, in a last batch cut at once", async () => {
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ batchDuration: 1000, clock });
    const log: string[] = [];
    const receiver = new Manual(log);
    ssc.receiverStream(receiver).foreachRDD(async (rdd, time) => {
      log.push(`batch ${time}: ${(await rdd.collect()).join(",")}`);
    });
    await ssc.start();
    await receiver.store(["a", "b"]);
    clock.advance(1000);
    await ssc.awaitIdle();
    await receiver.store("c");
    clock.advance(1000);
    await receiver.store(["d", "e"]); // received after batch 2000 was cut, before the stop
    await ssc.stop({ stopGracefully: true });
    expect(log).toEqual(["batch 1000: a,b", "receiver stopped", "batch 2000: c", "batch 3000: d,e"]);
    expect(ssc.state()).toBe("stopped");
    expect(clock.getTimeMillis()).toBe(2000);
    await expect(receiver.store("late")).rejects.toMatchObject({ code: "SPATE_CONTEXT_STOPPED" });
  });

  it("cuts no extra batch when nothing is left, and a plain stop drops batches not started", async () => {
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ batchDuration: 1000, clock });
    const times: number[] = [];
    const receiver = new Manual([]);
    ssc.receiverStream(receiver).foreachRDD((_rdd, time) => void times.push(time));
    await ssc.start();
    clock.advance(1000);
    await ssc.awaitIdle();
    await ssc.stop({ stopGracefully: true });
    expect(times).toEqual([1000]);
  });

  it("after a restore from a checkpoint, cuts its last batch after the restored ones", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "spate-graceful-restore-"));
    const out: string[] = [];
    const receivers: Manual[] = [];
    const create = () => {
      const ssc = new StreamingContext({
        batchDuration: 1000,
        clock: new ManualClock(0),
        conf: { "spate.receiver.writeAheadLog.enable": true },
      });
      const receiver = new Manual([]);
      receivers.push(receiver);
      ssc
        .receiverStream(receiver)
        .map((w) => [w, 1] as [string, number])
        .updateStateByKey((vs: number[], c: number | undefined) => (c ?? 0) + vs.length)
        .foreachRDD(async (rdd, time) => {
          const counts = (await rdd.collect()).sort(([a], [b]) => (a < b ? -1 : 1));
          out.push(`${time}: ${counts.map(([w, c]) => `${w}=${c}`).join(" ")}`);
        });
      return ssc;
    };
    const first = await StreamingContext.getOrCreate(dir, create);
    await first.start();
    for (const word of ["a", "b"]) {
      await receivers[0]!.store(word);
      (first.clock as ManualClock).advance(1000);
      await first.awaitIdle();
    }
    await first.stop();
    const second = await StreamingContext.getOrCreate(dir, create);
    await second.start();
    expect(second.restoredFrom?.batchTime).toBe(2000);
    await receivers[1]!.store("c");
    await second.stop({ stopGracefully: true });
    expect(out).toEqual(["1000: a=1", "2000: a=1 b=1", "3000: a=1 b=1 c=1"]);
  });

  it("on SIGTERM with stopGracefullyOnShutdown: outputs all stored data, checkpoints, exits 0", {
    timeout: 60_000,
  }, async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-sigterm-"));
    const checkpoint = path.join(base, "checkpoint");
    const output = path.join(base, "output");
    const side = path.join(base, "stored.txt");
    mkdirSync(output);
    const LINES = 300;
    const server = net.createServer((socket) => {
      socket.on("error", () => {});
      socket.write(Array.from({ length: LINES }, (_, i) => `${i}\n`).join(""));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    // A one-minute batch: the stored lines are almost always still waiting for their batch at SIGTERM, so the
    // graceful stop has to cut that batch itself (and if a batch time does pass, it must still count them once).
    const child: ChildProcess = spawn(
      process.execPath,
      ["--import", "tsx", path.join(here, "socket-job.ts"), checkpoint, output, side, String(port), "60000"],
      { cwd: root, env: { ...process.env, SPATE_LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout!.on("data", (d) => (out += String(d)));
    child.stderr!.on("data", (d) => (out += String(d)));
    const exitCode = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const stored = () => {
        try {
          return readFileSync(side, "utf8").split("\n").filter(Boolean).length;
        } catch {
          return 0;
        }
      };
      const deadline = Date.now() + 30_000;
      while (stored() < LINES) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`lines not stored:\n${out}`);
        await sleep(10);
      }
      child.kill("SIGTERM");
      expect(await exitCode, out).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await new Promise((resolve) => server.close(resolve));
    }
    expect(out).toContain("shutdown signal: stopping gracefully");
    expect(out).toContain("terminated");

    const folders = readdirSync(output)
      .filter((n) => n.startsWith("counts-"))
      .map((n) => Number(n.slice(7)))
      .sort((a, b) => a - b);
    const last = folders.at(-1)!;
    const counts = new Map<number, number>();
    const dir = path.join(output, `counts-${last}`);
    for (const f of readdirSync(dir).filter((n) => n.startsWith("part-"))) {
      for (const line of readFileSync(path.join(dir, f), "utf8").split("\n").filter(Boolean)) {
        const [, n, c] = /^\((\d+),(\d+)\)$/.exec(line)!;
        counts.set(Number(n), Number(c));
      }
    }
    expect([...counts].sort(([a], [b]) => a - b)).toEqual(Array.from({ length: LINES }, (_, i) => [i, 1]));

    // The last checkpoint records that batch complete, with nothing pending.
    const inspected = spawnSync(
      process.execPath,
      ["--import", "tsx", path.join(root, "src/cli/main.ts"), "checkpoint", "inspect", "--json", checkpoint],
      { cwd: root, encoding: "utf8" },
    );
    expect(inspected.status, inspected.stderr).toBe(0);
    const report = JSON.parse(inspected.stdout) as {
      newest: { completedBatch?: number; pendingBatches: number; restores: boolean };
    };
    expect(report.newest).toMatchObject({ completedBatch: last, pendingBatches: 0, restores: true });
  });
});
