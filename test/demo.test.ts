// The README's first command runs the clickstream demo through the spate command, with the streaming UI up;
// interrupting it and running the same command again resumes from the checkpoint and says so.
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Child, spateRun } from "./support/child.js";

const running: Child[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop("SIGKILL")));
});

/** A loopback port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `npm start`, with the demo's clicks in a temporary folder and the UI on `port`. */
function runDemo(base: string, port: number): Child {
  const job = spateRun(
    [
      "examples/clickstream-demo.ts",
      "--checkpoint",
      path.join(base, "checkpoint"),
      "--ui-port",
      String(port),
    ],
    // The demo writes its lines through its logger, at info level (npm start runs at the default level).
    { CLICKSTREAM_DIR: path.join(base, "clicks"), SPATE_LOG_LEVEL: "info" },
  );
  running.push(job);
  return job;
}

describe("the demo", () => {
  it("runs with its UI, stops on Ctrl-C, and resumes from its checkpoint when run again", {
    timeout: 60_000,
  }, async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-demo-"));
    const port = await freePort();
    const first = runDemo(base, port);
    await first.until((o) => o.includes("top pages, last 30 s: /"), 20_000);
    await first.until((o) => o.includes("sessions ended"), 20_000);
    expect(first.output()).toContain("started fresh");
    // The UI answers on the port given, with the job's own batches.
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(await page.text()).toContain("<html");
    const stats = (await (await fetch(`http://127.0.0.1:${port}/api/v1/streaming/statistics`)).json()) as {
      numTotalCompletedBatches: number;
    };
    expect(stats.numTotalCompletedBatches).toBeGreaterThan(0);
    expect(await first.stop("SIGINT")).toBe(0);

    const second = runDemo(base, port);
    await second.until((o) => o.includes("top pages"), 20_000);
    expect(second.output()).toMatch(
      /resumed from checkpoint metadata-e\d+-\d+-\d \(last completed batch \d+\)/,
    );
    expect(await second.stop("SIGINT")).toBe(0);
  });
});
