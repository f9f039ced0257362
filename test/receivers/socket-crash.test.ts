// socketTextStream with the write-ahead log, SIGKILLed for real. A TCP server in the test sends numbered lines,
// each number once, to whichever job process is connected; the job is killed at random instants and restarted
// with getOrCreate. A socket cannot replay, so lines in flight when the job dies are lost — what is guaranteed,
// and checked here, is that every line the job stored (logged; its side file lists them) is counted exactly once,
// that nothing is counted twice or invented, and that once the sender pauses, a graceful stop (SIGTERM) counts
// every line of the last connection.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const JOB = path.join(here, "socket-job.ts");
const KILLS = 6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  child: ChildProcess;
  started: Promise<void>;
  output: () => string;
}

function spawnJob(args: string[]): Run {
  const child = spawn(process.execPath, ["--import", "tsx", JOB, ...args], {
    cwd: root,
    env: { ...process.env, SPATE_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += String(d)));
  child.stderr!.on("data", (d) => (out += String(d)));
  const started = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", () => {
      if (out.includes("started")) resolve();
    });
    child.once("exit", (code, signal) => reject(new Error(`job exited (${code ?? signal}):\n${out}`)));
  });
  started.catch(() => {});
  return { child, started, output: () => out };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** Sends `${n}\n` for n = 0, 1, 2, … (each number once, over all connections), 5 lines every 10 ms. */
class NumberServer {
  next = 0;
  paused = false;
  readonly connections: number[][] = [];
  private readonly server = net.createServer((socket) => this.serve(socket));

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: net.Socket): void {
    const sent: number[] = [];
    this.connections.push(sent);
    const timer = setInterval(() => {
      if (this.paused || socket.destroyed) return;
      let text = "";
      for (let i = 0; i < 5; i++) {
        sent.push(this.next);
        text += `${this.next++}\n`;
      }
      socket.write(text);
    }, 10);
    const done = () => {
      clearInterval(timer);
      socket.destroy();
    };
    socket.on("error", done);
    socket.on("close", done);
  }
}

function readCounts(output: string): Map<number, number> {
  const last = readdirSync(output)
    .filter((n) => n.startsWith("counts-") && existsSync(path.join(output, n, "_SUCCESS")))
    .sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)))
    .at(-1)!;
  const counts = new Map<number, number>();
  for (const f of readdirSync(path.join(output, last)).filter((n) => n.startsWith("part-"))) {
    for (const line of readFileSync(path.join(output, last, f), "utf8")
      .split("\n")
      .filter(Boolean)) {
      const [, n, c] = /^\((\d+),(\d+)\)$/.exec(line)!;
      expect(counts.has(Number(n))).toBe(false);
      counts.set(Number(n), Number(c));
    }
  }
  return counts;
}

describe("socketTextStream with the write-ahead log", () => {
  it(`counts every stored line exactly once across ${KILLS} SIGKILLs`, { timeout: 120_000 }, async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-socket-crash-"));
    const checkpoint = path.join(base, "checkpoint");
    const output = path.join(base, "output");
    const side = path.join(base, "stored.txt");
    mkdirSync(output);
    const server = new NumberServer();
    const port = await server.listen();
    const args = [checkpoint, output, side, String(port)];
    const runs: Run[] = [];
    try {
      for (let k = 0; k < KILLS; k++) {
        const run = spawnJob(args);
        runs.push(run);
        await run.started;
        await sleep(300 + Math.random() * 900);
        expect(run.child.exitCode, run.output()).toBeNull();
        run.child.kill("SIGKILL");
        await exited(run.child);
      }
      const connections = server.connections.length;
      const final = spawnJob(args);
      runs.push(final);
      await final.started;
      await sleep(800);
      server.paused = true; // everything sent from now on has arrived: nothing may be lost
      await sleep(400);
      final.child.kill("SIGTERM");
      expect(await exited(final.child), final.output()).toBe(0);
      expect(final.output()).toContain("terminated");

      const stored = readFileSync(side, "utf8").split("\n").filter(Boolean).map(Number);
      const counts = readCounts(output);
      expect(new Set(stored).size).toBe(stored.length); // the server sent each number once
      expect(stored.length).toBeGreaterThan(200);
      const notExactlyOnce = stored.filter((n) => counts.get(n) !== 1);
      expect(notExactlyOnce).toEqual([]);
      const countedTwice = [...counts].filter(([, c]) => c !== 1);
      expect(countedTwice).toEqual([]);
      const neverSent = [...counts.keys()].filter((n) => n >= server.next);
      expect(neverSent).toEqual([]);
      // The last connection lived until a graceful stop after the sender paused: every line of it is counted.
      const last = server.connections.slice(connections).flat();
      expect(last.length).toBeGreaterThan(50);
      expect(last.filter((n) => counts.get(n) !== 1)).toEqual([]);
    } finally {
      for (const r of runs)
        if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
      await server.close();
    }
  });
});
