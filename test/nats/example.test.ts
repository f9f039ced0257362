// examples/nats-word-count.ts, run as the README says (spate run … --checkpoint), killed and run again.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Child, spateRun } from "../support/child.js";
import { addStream, type NatsServer, publishAll, readStream, startNatsServer } from "./server.js";

let server: NatsServer;
const running: Child[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});

afterAll(async () => {
  for (const job of running) await job.stop("SIGKILL");
  await server?.stop();
});

const totals = async () => (await readStream(server.url, "TOTALS")).map(([, , text]) => JSON.parse(text));

async function until(check: () => Promise<boolean>, what: string, job: Child): Promise<void> {
  const end = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${job.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("examples/nats-word-count.ts", () => {
  it("publishes running totals to JetStream and resumes them after a SIGKILL", {
    timeout: 60_000,
  }, async () => {
    await addStream(server.url, { name: "LINES", subjects: ["lines.>"] });
    await addStream(server.url, { name: "TOTALS", subjects: ["totals.>"] });
    const args = [
      "examples/nats-word-count.ts",
      server.url,
      "LINES",
      "totals.words",
      "--checkpoint",
      mkdtempSync(path.join(tmpdir(), "spate-example-nats-")),
    ];
    const first = spateRun(args);
    running.push(first);
    await publishAll(server.url, [["lines.in", "to be or not to be"]]);
    await until(async () => (await totals()).length === 6, "the first totals", first);
    await first.stop("SIGKILL");

    const second = spateRun(args);
    running.push(second);
    await second.until((o) => o.includes("job resumed from checkpoint"), 20_000);
    await publishAll(server.url, [["lines.in", "to be"]]);
    await until(async () => (await totals()).length >= 8, "the totals after the restart", second);
    await second.stop("SIGTERM");
    expect(await totals()).toEqual([
      ["to", 1],
      ["be", 1],
      ["or", 1],
      ["not", 1],
      ["to", 2],
      ["be", 2],
      ["to", 3],
      ["be", 3],
    ]);
  });
});
