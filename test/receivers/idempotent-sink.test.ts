// The idempotent foreachRDD sink of the README: a batch that ran before a SIGKILL runs again after the restart (its
// completion was never recorded); a sink keyed by (batch time, partition) with replace semantics ends with every
// record exactly once, while an appending sink holds that batch twice.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type Child, runTs } from "../support/child.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const LINES = 200;

const spawnJob = (args: string[]) => runTs([path.join(here, "sink-job.ts"), ...args]);

const lines = (file: string) =>
  existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).map(Number) : [];

describe("an idempotent foreachRDD sink", () => {
  it("holds every record once although a batch ran twice across a SIGKILL", { timeout: 60_000 }, async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-sink-"));
    const checkpoint = path.join(base, "checkpoint");
    const output = path.join(base, "output");
    mkdirSync(output);
    // All the lines on the first connection, nothing on later ones.
    let connections = 0;
    const server = net.createServer((socket) => {
      socket.on("error", () => {});
      if (connections++ === 0) socket.write(Array.from({ length: LINES }, (_, i) => `${i}\n`).join(""));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = String((server.address() as net.AddressInfo).port);
    const storeRecords = () =>
      readdirSync(path.join(output, "store"))
        .filter((n) => n.endsWith(".json"))
        .flatMap((n) => JSON.parse(readFileSync(path.join(output, "store", n), "utf8")) as string[])
        .map(Number);
    const jobs: Child[] = [];
    try {
      const crash = spawnJob([checkpoint, output, port, "crash"]);
      jobs.push(crash);
      await crash.until((o) => o.includes("wrote "));
      await crash.until(() => lines(path.join(output, "stored.txt")).length === LINES);
      await crash.stop("SIGKILL");
      const rerun = Number(/wrote (\d+)/.exec(crash.output())![1]);

      const final = spawnJob([checkpoint, output, port, "final"]);
      jobs.push(final);
      const ranTwice = () => lines(path.join(output, "attempts.txt")).filter((t) => t === rerun).length === 2;
      // A re-run, then every record in the store.
      await final.until((o) => o.includes("started") && ranTwice() && storeRecords().length >= LINES);
      expect(await final.stop("SIGTERM"), final.output()).toBe(0);

      // The batch killed mid-output ran twice…
      expect(lines(path.join(output, "attempts.txt")).filter((t) => t === rerun)).toHaveLength(2);
      const naive = lines(path.join(output, "naive.txt"));
      expect(naive.length).toBeGreaterThan(LINES);
      // …yet the keyed store holds every record exactly once.
      expect(storeRecords().sort((a, b) => a - b)).toEqual(Array.from({ length: LINES }, (_, i) => i));
    } finally {
      await Promise.all(jobs.map((c) => c.stop("SIGKILL")));
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
