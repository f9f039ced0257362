// The write-ahead log, tested for real: numbers a receiver acknowledged as stored before a SIGKILL are counted
// exactly once after restarts, and nothing is counted twice.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const JOB = path.join(here, "receiver-job.ts");
const KILLS = 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  child: ChildProcess;
  started: Promise<void>;
  acked: Set<number>;
}

function spawnJob(checkpoint: string, output: string, mode: string): Run {
  const child = spawn(process.execPath, ["--import", "tsx", JOB, checkpoint, output, mode], {
    cwd: root,
    env: { ...process.env, SPATE_LOG_LEVEL: "warn" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const acked = new Set<number>();
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += String(d)));
  child.stdin!.on("error", () => {}); // writes racing a kill
  const started = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += String(d);
      const lines = out.split("\n");
      out = lines.pop()!;
      for (const l of lines) {
        if (l.startsWith("started")) resolve();
        if (l.startsWith("ack ")) acked.add(Number(l.slice(4)));
      }
    });
    child.once("exit", (code, signal) => reject(new Error(`job exited (${code ?? signal}):\n${err}`)));
  });
  started.catch(() => {});
  return { child, started, acked };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

describe("receiver write-ahead log", () => {
  it(`counts every acknowledged record exactly once across ${KILLS} SIGKILLs`, {
    timeout: 90_000,
  }, async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-wal-"));
    const checkpoint = path.join(base, "checkpoint");
    const output = path.join(base, "output");
    const acked = new Set<number>();
    const sent: number[] = [];
    let next = 0;
    const feed = (run: Run) =>
      setInterval(() => {
        for (let i = 0; i < 5; i++) {
          sent.push(next);
          run.child.stdin!.write(`${next++}\n`);
        }
      }, 10);
    for (let k = 0; k < KILLS; k++) {
      const run = spawnJob(checkpoint, output, "crash");
      await run.started;
      const feeder = feed(run);
      await sleep(300 + Math.random() * 900);
      run.child.kill("SIGKILL");
      clearInterval(feeder);
      await exited(run.child);
      for (const n of run.acked) acked.add(n);
    }
    const final = spawnJob(checkpoint, output, "final");
    await final.started;
    const feeder = feed(final);
    await sleep(500);
    clearInterval(feeder);
    final.child.stdin!.write("STOP\n");
    expect(await exited(final.child)).toBe(0);
    for (const n of final.acked) acked.add(n);

    const last = readdirSync(output)
      .filter((n) => n.startsWith("counts-"))
      .sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)))
      .at(-1)!;
    const counts = new Map<number, number>();
    for (const f of readdirSync(path.join(output, last)).filter((n) => n.startsWith("part-"))) {
      for (const line of readFileSync(path.join(output, last, f), "utf8")
        .split("\n")
        .filter(Boolean)) {
        const [, n, c] = /^\((\d+),(\d+)\)$/.exec(line)!;
        counts.set(Number(n), Number(c));
      }
    }
    expect(acked.size).toBeGreaterThan(100);
    const lostOrDoubled = [...acked].filter((n) => counts.get(n) !== 1);
    expect(lostOrDoubled).toEqual([]);
    const countedTwice = [...counts].filter(([, c]) => c !== 1);
    expect(countedTwice).toEqual([]);
    const neverSent = [...counts.keys()].filter((n) => n >= next);
    expect(neverSent).toEqual([]);
  });
});
