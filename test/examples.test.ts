// Every example of the README, run as the README says, as a child process.
import { mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Child, runTs, spateRun } from "./support/child.js";

const running: Child[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop("SIGKILL")));
  for (const s of servers.splice(0)) s.close();
});

/** A TCP server on a free loopback port, like `nc -lk`: the test sends lines to whoever is connected. */
async function lineServer(): Promise<{ port: number; connected: () => Promise<Socket> }> {
  let current: Socket | undefined;
  const server = createServer((socket) => {
    current = socket;
    socket.on("error", () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    async connected() {
      const end = Date.now() + 20_000;
      while (!current || current.destroyed) {
        if (Date.now() > end) throw new Error("the job did not connect");
        await new Promise((r) => setTimeout(r, 20));
      }
      return current;
    },
  };
}

/** The word counts of "to be or" and "not to be", sorted. */
const TO_BE_COUNTS = [
  ["be", 2],
  ["not", 1],
  ["or", 1],
  ["to", 2],
];

/** Word counts printed by `print()`: every `(word,count)` line. */
function printed(output: string): Array<[string, number]> {
  return [...output.matchAll(/^\(([^,]+),(\d+)\)$/gm)].map((m) => [m[1]!, Number(m[2])]);
}

describe("examples", () => {
  it("file-word-count counts the words of each new file in the folder", async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-example-files-"));
    const job = spateRun(["examples/file-word-count.ts", base]);
    running.push(job);
    await job.until((o) => o.includes("job started"));
    // Files appear atomically: written elsewhere, then moved in.
    const staged = path.join(tmpdir(), `spate-words-${process.pid}.txt`);
    writeFileSync(staged, "to be or\nnot to be\n");
    renameSync(staged, path.join(base, "words.txt"));
    await job.until((o) => printed(o).length >= 4, 20_000);
    expect(printed(job.stdout()).sort()).toEqual(TO_BE_COUNTS);
  });

  it("queue-stream prints counts by last digit and running totals", async () => {
    const job = runTs(["examples/queue-stream.ts"], { ROUNDS: "2" });
    running.push(job);
    expect(await job.exited).toBe(0);
    const out = job.stdout();
    // Two rounds of 100 numbers: each digit 10 times per round, so the running totals reach 20.
    expect(out).toMatch(/^Time: \d+ ms$/m);
    const totals = new Map(printed(out).filter(([, n]) => n === 20));
    expect([...totals.keys()].sort()).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
  });

  it("network-word-count counts the words of lines received on a socket", async () => {
    const server = await lineServer();
    const job = spateRun(["examples/network-word-count.ts", "127.0.0.1", String(server.port)]);
    running.push(job);
    (await server.connected()).write("to be or\nnot to be\n");
    await job.until((o) => printed(o).length >= 4, 20_000);
    expect(printed(job.stdout()).sort()).toEqual(TO_BE_COUNTS);
  });

  it("stateful-network-word-count keeps running counts from its initial state", async () => {
    const server = await lineServer();
    const job = spateRun(["examples/stateful-network-word-count.ts", "127.0.0.1", String(server.port)]);
    running.push(job);
    const socket = await server.connected();
    socket.write("hello there\n");
    await job.until((o) => printed(o).some(([w]) => w === "there"), 20_000);
    socket.write("hello\n");
    await job.until((o) => printed(o).some(([w, n]) => w === "hello" && n === 3), 20_000);
    // hello starts at 1 (initial state), then 2, then 3.
    expect(printed(job.stdout()).filter(([w]) => w === "hello")).toEqual([
      ["hello", 2],
      ["hello", 3],
    ]);
  });

  it("update-state-word-count keeps every word's running total with updateStateByKey", async () => {
    const server = await lineServer();
    const job = spateRun(["examples/update-state-word-count.ts", "127.0.0.1", String(server.port)]);
    running.push(job);
    const socket = await server.connected();
    socket.write("to be or\n");
    await job.until((o) => printed(o).some(([w]) => w === "or"), 20_000);
    socket.write("not to be\n");
    await job.until((o) => printed(o).some(([w, n]) => w === "to" && n === 2), 20_000);
    // Every batch prints every word's total so far, not only the words of that batch: the batch that counted
    // "not to be" prints "or" too.
    const batches = job
      .stdout()
      .split(/^Time: \d+ ms$/m)
      .map(printed);
    const last = batches.find((b) => b.some(([w, n]) => w === "to" && n === 2));
    expect(last?.sort()).toEqual(TO_BE_COUNTS);
  });

  it("recoverable-network-word-count resumes its totals after a SIGKILL", async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-example-recoverable-"));
    const server = await lineServer();
    const output = path.join(base, "out", "totals");
    const args = [
      "examples/recoverable-network-word-count.ts",
      "127.0.0.1",
      String(server.port),
      output,
      "--checkpoint",
      path.join(base, "checkpoint"),
    ];
    const first = spateRun(args);
    running.push(first);
    (await server.connected()).write("to be or not to be\n");
    await first.until((o) => printed(o).some(([w, n]) => w === "to" && n === 2), 20_000);
    await first.stop("SIGKILL");

    const second = spateRun(args);
    running.push(second);
    await second.until((o) => o.includes("job resumed from checkpoint"), 20_000);
    (await server.connected()).write("to be\n");
    await second.until((o) => printed(o).some(([w, n]) => w === "to" && n === 3), 20_000);
    // Every batch's totals were saved; the newest totals are the counts of all the lines sent. The batch prints
    // before it saves (its outputs run in order), so the saved folder may appear a moment after the printed line.
    const savedLines = () =>
      readdirSync(path.dirname(output))
        .filter((d) => d.startsWith("totals-") && !d.startsWith("."))
        .flatMap((d) => {
          const folder = path.join(path.dirname(output), d);
          return readdirSync(folder)
            .filter((f) => f.startsWith("part-"))
            .flatMap((f) => readFileSync(path.join(folder, f), "utf8").split("\n"));
        })
        .filter(Boolean);
    for (let waited = 0; waited < 20_000 && !savedLines().includes("(to,3)"); waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const saved = savedLines();
    expect(saved).toContain("(to,3)");
    expect(saved).toContain("(be,3)");
    expect(saved).not.toContain("(to,4)");
  });
});
